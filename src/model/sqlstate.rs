//! relay's own SQLSTATEs: one per condition an application branches on (no tenant,
//! unknown tenant, suspended tenant, no token key, token rejected), each a standard
//! class with an implementation-defined subclass (`R..`, SQL standard 23.1: subclasses
//! starting with I-Z are the implementation's). A client that knows only the class
//! still files it where it did before (psycopg, SQLAlchemy and node-postgres fall back
//! to the class), and one that wants the condition compares the five characters.
//!
//! pgrx reports an ERROR with one of the codes PostgreSQL defines (`PgSqlErrorCode`),
//! so relay raises it with its class's generic code and `arm` links an error context
//! callback that `errfinish` runs before the error leaves for the client or a PL/pgSQL
//! handler: the callback replaces the code (`errcode`), so both see relay's.
//! When the error passes through Rust code that called into PostgreSQL (relay's own
//! SPI, or its planner hook while Citus evaluates a column default), pgrx hands it on
//! as XX000 (it maps codes it does not know to internal_error); `emit_log_hook`
//! gives it relay's code back as it is sent to the client (a PL/pgSQL handler inside
//! such a statement sees XX000).

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{c_int, c_void, CStr};

/// A SQLSTATE of relay's, and the generic code of its class it is raised with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlState {
    pub code: &'static str,
    pub class: PgSqlErrorCode,
}

/// No tenant is set for the transaction (a query under relay.require_tenant, an
/// INSERT that does not name the tenant, an audit entry).
pub const NO_TENANT: SqlState = SqlState {
    code: "55R01",
    class: PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
};
/// The tenant named does not exist.
pub const UNKNOWN_TENANT: SqlState = SqlState {
    code: "22R02",
    class: PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
};
/// The tenant named is suspended.
pub const SUSPENDED_TENANT: SqlState = SqlState {
    code: "55R03",
    class: PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
};
/// Signed mode, and no usable token key is configured (none, or a file that cannot
/// be used).
pub const TOKEN_KEY_MISSING: SqlState = SqlState {
    code: "55R04",
    class: PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
};
/// A tenant token was refused (malformed, expired, spent, another tenant's, or the
/// tenant is not active: one answer for all).
pub const TOKEN_REJECTED: SqlState = SqlState {
    code: "28R05",
    class: PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
};

/// Every SQLSTATE of relay's, for the docs and the tests.
pub const ALL: [SqlState; 5] = [
    NO_TENANT,
    UNKNOWN_TENANT,
    SUSPENDED_TENANT,
    TOKEN_KEY_MISSING,
    TOKEN_REJECTED,
];

/// PostgreSQL's MAKE_SQLSTATE: five characters packed six bits each.
pub const fn make_sqlstate(code: &str) -> i32 {
    let b = code.as_bytes();
    let mut packed = 0;
    let mut i = 0;
    while i < 5 {
        packed += (((b[i] as i32) - ('0' as i32)) & 0x3F) << (6 * i);
        i += 1;
    }
    packed
}

thread_local! {
    /// (the class's code the error is raised with, relay's code): set by `arm`, taken
    /// by the next error context callback run.
    static PENDING: Cell<Option<(i32, i32)>> = const { Cell::new(None) };
    /// (relay's code, message) of the last error `arm` was called for: `emit` gives
    /// that error its code back if pgrx handed it on as XX000.
    static LAST: RefCell<Option<(i32, String)>> = const { RefCell::new(None) };
}

static mut PREV_EMIT_LOG_HOOK: pg_sys::emit_log_hook_type = None;

/// Install the emit_log_hook (at library load).
pub fn install() {
    // SAFETY: hooks are installed once, from _PG_init, on the main thread.
    unsafe {
        PREV_EMIT_LOG_HOOK = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(emit);
    }
}

/// An ERROR about to be sent: an XX000 whose message is the last one relay raised
/// with a code of its own gets that code back. Runs inside error reporting: nothing
/// here may fail (no pg_guard: a panic cannot be reported from here).
unsafe extern "C-unwind" fn emit(edata: *mut pg_sys::ErrorData) {
    // SAFETY: PostgreSQL passes the error being reported.
    unsafe {
        let internal = make_sqlstate("XX000");
        if !edata.is_null() && (*edata).sqlerrcode == internal && !(*edata).message.is_null() {
            let message = CStr::from_ptr((*edata).message);
            LAST.with(|last| {
                if let Ok(last) = last.try_borrow() {
                    if let Some((code, text)) = last.as_ref() {
                        if message.to_bytes() == text.as_bytes() {
                            (*edata).sqlerrcode = *code;
                        }
                    }
                }
            });
        }
        if let Some(prev) = PREV_EMIT_LOG_HOOK {
            prev(edata);
        }
    }
}

/// The callback node `arm` links into PostgreSQL's error context stack. Static: it
/// must outlive the unwinding between `arm` and `errfinish`. Backends are single
/// threaded.
struct Node(UnsafeCell<pg_sys::ErrorContextCallback>);
// SAFETY: only the backend's main thread touches it (pgrx checks the thread).
unsafe impl Sync for Node {}
static NODE: Node = Node(UnsafeCell::new(pg_sys::ErrorContextCallback {
    previous: std::ptr::null_mut(),
    callback: Some(apply),
    arg: std::ptr::null_mut(),
}));

unsafe extern "C-unwind" {
    // Not in pgrx's bindings (as in pgrx's own do_ereport): both only read or set a
    // field of the error being built and cannot fail.
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn geterrcode() -> c_int;
}

/// Make the ERROR about to be raised with `state.class` and `message` carry
/// `state.code`.
pub fn arm(state: SqlState, message: &str) {
    PENDING.with(|p| p.set(Some((state.class as i32, make_sqlstate(state.code)))));
    LAST.with(|l| *l.borrow_mut() = Some((make_sqlstate(state.code), message.to_string())));
    // SAFETY: the error context stack is a list of live nodes (each owner unlinks its
    // own before its frame ends, and error recovery resets the list); the static node
    // is linked on top at most once, and everything below it outlives it in the list.
    unsafe {
        let node = NODE.0.get();
        let mut cur = pg_sys::error_context_stack;
        while !cur.is_null() {
            if cur == node {
                return;
            }
            cur = (*cur).previous;
        }
        (*node).previous = pg_sys::error_context_stack;
        pg_sys::error_context_stack = node;
    }
}

/// Run by errfinish for the error (or message) being reported: relay's code replaces
/// the class's, once, when the error is the one `arm` was called for.
unsafe extern "C-unwind" fn apply(_arg: *mut c_void) {
    if let Some((class, code)) = PENDING.with(|p| p.take()) {
        // SAFETY: called by errfinish, with the error on PostgreSQL's error stack.
        unsafe {
            if geterrcode() == class {
                errcode(code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pack_like_postgres() {
        assert_eq!(
            make_sqlstate("55000"),
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE as i32
        );
        assert_eq!(
            make_sqlstate("22023"),
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as i32
        );
        assert_eq!(
            make_sqlstate("XX000"),
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR as i32
        );
    }

    #[test]
    fn each_code_keeps_its_class_and_is_relays_own() {
        for s in ALL {
            let class = (s.class as i32) & 0xFFF; // the first two characters
            assert_eq!(make_sqlstate(s.code) & 0xFFF, class, "{}", s.code);
            assert!(
                s.code[2..].starts_with('R'),
                "{}: an implementation-defined subclass",
                s.code
            );
            assert!(s
                .code
                .bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        }
        let mut codes: Vec<_> = ALL.iter().map(|s| s.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
    }
}
