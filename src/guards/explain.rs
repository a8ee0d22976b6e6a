//! EXPLAIN ANALYZE as an oracle: its row counts ("Rows Removed by Filter", loops,
//! buffers) count the rows row level security filtered out, so a role subject to RLS
//! could read other tenants' values by range probes on an index that does not lead
//! with tenant_id. relay refuses EXPLAIN ANALYZE of a query that reads a table whose
//! row level security applies to the current role. Plain EXPLAIN (no execution, no
//! counts) stays allowed, and so does EXPLAIN ANALYZE for roles that bypass RLS.
//!
//! Two hooks: ProcessUtility marks that an EXPLAIN ANALYZE is running, and
//! ExecutorStart checks the plan it starts (after rewriting, so views are expanded)
//! when instrumentation is on. Hooks exist only once the library is loaded: for the
//! guard to hold from a session's first statement, relay_tenancy must be in
//! shared_preload_libraries or session_preload_libraries (README "Security model";
//! relay_security_check() reports it).

use crate::model::errors;
use crate::pg::list;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum RestrictExplain {
    /// Refuse EXPLAIN ANALYZE (its counts include hidden rows).
    #[name = c"analyze"]
    Analyze,
    /// Refuse every EXPLAIN: even estimates come from statistics over every tenant.
    #[name = c"all"]
    All,
}

pub static RESTRICT_EXPLAIN: GucSetting<RestrictExplain> =
    GucSetting::<RestrictExplain>::new(RestrictExplain::Analyze);

static mut PREV_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;

thread_local! {
    /// How many EXPLAIN ANALYZE statements are running in this backend (nested ones
    /// through functions count too).
    static EXPLAIN_ANALYZE: Cell<u32> = const { Cell::new(0) };
}

struct Running;
impl Drop for Running {
    fn drop(&mut self) {
        EXPLAIN_ANALYZE.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Install both hooks and define relay.restrict_explain; called once from `_PG_init`.
pub fn install() {
    GucRegistry::define_enum_guc(
        c"relay.restrict_explain",
        c"analyze: refuse EXPLAIN ANALYZE on tables whose row level security applies to the role. all: refuse EXPLAIN too.",
        c"Superuser-only. Plain EXPLAIN shows row estimates computed from statistics over every tenant's rows (a value frequent in another tenant is estimated high); 'all' closes that too.",
        &RESTRICT_EXPLAIN,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: _PG_init runs once per backend, before any query uses the hooks.
    unsafe {
        PREV_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
        PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
    }
}

/// The statement is an EXPLAIN that relay.restrict_explain covers: `EXPLAIN (ANALYZE
/// ...)`, or any EXPLAIN under `all`.
unsafe fn is_restricted_explain(stmt: *mut pg_sys::Node) -> bool {
    unsafe {
        if stmt.is_null() || (*stmt).type_ != pg_sys::NodeTag::T_ExplainStmt {
            return false;
        }
        if RESTRICT_EXPLAIN.get() == RestrictExplain::All {
            return true;
        }
        let options = (*(stmt as *mut pg_sys::ExplainStmt)).options;
        let mut analyze = false;
        for cell in list::pointers(options) {
            let def = cell as *mut pg_sys::DefElem;
            if std::ffi::CStr::from_ptr((*def).defname).to_bytes() == b"analyze" {
                analyze = pg_sys::defGetBoolean(def);
            }
        }
        analyze
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)] // PostgreSQL's ProcessUtility_hook signature
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // relay's policy, re-created by Citus on a shard or shell table, stays RESTRICTIVE.
    let mut read_only_tree = read_only_tree;
    // SAFETY: PostgreSQL passes a valid planned utility statement.
    let pstmt = unsafe { crate::citus::guard::keep_restrictive(pstmt, &mut read_only_tree) };
    // and nobody switches isolation off on a placement (shards are in no registry).
    // SAFETY: as above.
    unsafe { crate::citus::guard::guard_placements((*pstmt).utilityStmt) };
    // SAFETY: as above.
    unsafe { crate::citus::guard::refuse_bare_copy_to((*pstmt).utilityStmt) };
    // and which tenant each cursor is declared under (relay_set_tenant checks them).
    // SAFETY: as above.
    unsafe { crate::context::note_declared_cursor((*pstmt).utilityStmt) };
    // and that a SET statement is running (on Citus the tenant is set only by one).
    // SAFETY: as above.
    let _set = unsafe { crate::context::signed::note_set_statement((*pstmt).utilityStmt) };
    // SAFETY: as above.
    let _running = unsafe { is_restricted_explain((*pstmt).utilityStmt) }.then(|| {
        EXPLAIN_ANALYZE.with(|d| d.set(d.get() + 1));
        Running
    });
    // SAFETY: the previous hook or the standard function, with our arguments. A
    // PostgreSQL error inside becomes a Rust panic (pgrx guards pg_sys functions; a
    // bare hook pointer is guarded here), so `_running` is dropped before the error
    // goes on.
    unsafe {
        match PREV_PROCESS_UTILITY {
            Some(prev) => pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
                prev(
                    pstmt,
                    query_string,
                    read_only_tree,
                    context,
                    params,
                    query_env,
                    dest,
                    qc,
                )
            }),
            None => pg_sys::standard_ProcessUtility(
                pstmt,
                query_string,
                read_only_tree,
                context,
                params,
                query_env,
                dest,
                qc,
            ),
        }
    }
}

/// The first relation of the plan whose row level security applies to the role that
/// reads it.
unsafe fn rls_relation(stmt: *mut pg_sys::PlannedStmt) -> Option<pg_sys::Oid> {
    unsafe {
        let rtable = (*stmt).rtable;
        for cell in list::pointers(rtable) {
            let rte = cell as *mut pg_sys::RangeTblEntry;
            if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || (*rte).relid == pg_sys::InvalidOid
            {
                continue;
            }
            if pg_sys::check_enable_rls(
                (*rte).relid,
                crate::pg::compat::check_as_user(stmt, rte),
                true,
            ) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
            {
                return Some((*rte).relid);
            }
        }
        None
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: i32) {
    // SAFETY: PostgreSQL passes a valid query descriptor.
    unsafe {
        // Only the explained statement itself: it is instrumented (ANALYZE) or
        // started for EXPLAIN only. Queries run inside it (by functions) print nothing.
        let explaining = EXPLAIN_ANALYZE.with(Cell::get) > 0;
        let instrumented = (*query_desc).instrument_options != 0;
        let explain_only = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0;
        if explaining && (instrumented || explain_only) {
            if let Some(relid) = rls_relation((*query_desc).plannedstmt) {
                let name = crate::pg::regclass::RegClass(relid).display();
                if explain_only {
                    errors::explain_refused(&name);
                }
                errors::explain_analyze_refused(&name);
            }
        }
        match PREV_EXECUTOR_START {
            Some(prev) => {
                pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| prev(query_desc, eflags))
            }
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
    }
}
