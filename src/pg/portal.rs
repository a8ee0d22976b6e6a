//! One SQL statement run the way a client's simple query runs it: its own
//! transaction, top level, outside any transaction block. A background worker has no
//! client, and SPI runs every statement inside a transaction and not at top level:
//! `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` and the like refuse that.
//! This follows `exec_simple_query` (postgres.c) for one statement with no result.

use pgrx::pg_sys;
use std::ffi::CString;

/// Run `sql` (one statement) in a transaction of its own at top level; the statement
/// may commit and start transactions itself (a concurrent index build does). Must be
/// called with no transaction open. An error propagates (the caller aborts).
///
/// The parse and plan trees live in a memory context of their own under
/// TopMemoryContext: a statement that commits internally frees the transaction's
/// contexts, and the portal still reads its statement afterwards.
pub fn run_top_level(sql: &str) {
    let text = CString::new(sql).expect("a statement has no NUL");
    // SAFETY: the sequence of exec_simple_query for a single statement; every pointer
    // comes from the call before it, and the context is deleted once the transaction
    // is over (an error leaves it for the caller's abort path: see `forget_context`).
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, text.as_ptr());
        pg_sys::StartTransactionCommand();
        let context = pg_sys::AllocSetContextCreateExtended(
            pg_sys::TopMemoryContext,
            c"relay top-level statement".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        STATEMENT_CONTEXT.with(|c| c.set(context));
        let outer = pg_sys::MemoryContextSwitchTo(context);
        let parsed = pg_sys::pg_parse_query(text.as_ptr());
        assert!(
            !parsed.is_null() && (*parsed).length == 1,
            "run_top_level runs exactly one statement"
        );
        let raw = pg_sys::list_nth(parsed, 0) as *mut pg_sys::RawStmt;
        let tag = pg_sys::CreateCommandTag((*raw).stmt);
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let queries = pg_sys::pg_analyze_and_rewrite_fixedparams(
            raw,
            text.as_ptr(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        let plans = pg_sys::pg_plan_queries(
            queries,
            text.as_ptr(),
            pg_sys::CURSOR_OPT_PARALLEL_OK as i32,
            std::ptr::null_mut(),
        );
        pg_sys::PopActiveSnapshot();
        let portal = pg_sys::CreatePortal(c"".as_ptr(), true, true);
        (*portal).visible = false;
        pg_sys::PortalDefineQuery(
            portal,
            std::ptr::null(),
            text.as_ptr(),
            tag,
            plans,
            std::ptr::null_mut(),
        );
        pg_sys::PortalStart(portal, std::ptr::null_mut(), 0, std::ptr::null_mut());
        let dest = pg_sys::CreateDestReceiver(pg_sys::CommandDest::DestNone);
        let mut done: pg_sys::QueryCompletion = std::mem::zeroed();
        #[cfg(not(feature = "pg18"))]
        pg_sys::PortalRun(
            portal,
            std::ffi::c_long::MAX, /* FETCH_ALL */
            true,
            true,
            dest,
            dest,
            &mut done,
        );
        #[cfg(feature = "pg18")]
        pg_sys::PortalRun(
            portal,
            std::ffi::c_long::MAX, /* FETCH_ALL */
            true,
            dest,
            dest,
            &mut done,
        );
        pg_sys::PortalDrop(portal, false);
        pg_sys::CommitTransactionCommand();
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null());
        pg_sys::MemoryContextSwitchTo(outer);
        forget_context();
    }
}

thread_local! {
    static STATEMENT_CONTEXT: std::cell::Cell<pg_sys::MemoryContext> =
        const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Delete the statement's memory context, if one is left (after an error, once the
/// caller has aborted the transaction and switched back to its own context).
pub fn forget_context() {
    let context = STATEMENT_CONTEXT.with(|c| c.replace(std::ptr::null_mut()));
    if !context.is_null() {
        // SAFETY: a context this module created; nothing refers to it any more (the
        // portal is dropped by commit or by the abort's cleanup).
        unsafe { pg_sys::MemoryContextDelete(context) };
    }
}
