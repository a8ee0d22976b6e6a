//! Tenant queries route to one shard on Citus.
//!
//! Citus prunes shards with the query's own filters, and relay's policy compares the
//! tenant column with a function call (`tenant_id = relay_policy_tenant('s.t'::text)`),
//! which Citus cannot evaluate while it plans: a query filtered only by row level
//! security goes to every shard. This planner hook runs before Citus's (relay is
//! loaded after Citus) and, where the rewriter put relay's policy on a table as a
//! security qual, adds the same comparison with the session's tenant as a constant,
//! at the same security level: `tenant_id = 'acme'`. Citus then routes the query to
//! the tenant's shard. The added qual is implied by the policy's own (which stays), so
//! no row a query could see changes.
//!
//! The hook is installed only when Citus's planner hook is already there (Citus is
//! loaded first, as it requires: `shared_preload_libraries = 'citus,relay_tenancy'`),
//! found by the shared library its function lives in. It runs no SQL: the names and
//! the schema it checks come from the syscache and pg_extension's index.
//! Only relay's by-name policy form is touched, which relay_distribute writes on the
//! tables it distributes; relay's sub-select form on local tables is left alone (its
//! InitPlan already runs once per query). A plan now holds a tenant, so when the tenant
//! changes after such a plan was made, every cached plan of the backend is invalidated
//! (`ResetPlanCache`), and prepared statements re-plan for the new tenant.

use crate::context::signed;
use crate::pg::list;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_void, CStr};

static mut PREV_PLANNER: pg_sys::planner_hook_type = None;

/// `relay.route_tenant_queries`: add the tenant constant (on by default; off only to
/// compare, or should a Citus release plan the added qual badly).
pub static ROUTE: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Install the planner hook and define relay.route_tenant_queries; called once from
/// `_PG_init`.
pub fn install() {
    GucRegistry::define_bool_guc(
        c"relay.route_tenant_queries",
        c"Add the session tenant as a constant to relay's by-name policies (Citus routes such queries to one shard).",
        c"On by default. Off: a query filtered only by row level security goes to every shard of a distributed table.",
        &ROUTE,
        GucContext::Userset,
        GucFlags::default(),
    );
    // Only after Citus's planner hook (Citus must be loaded first): without Citus there
    // is nothing to route, and plain PostgreSQL plans pay nothing. Another library's
    // planner hook (pg_stat_statements, ...) is not a reason to install it.
    // SAFETY: _PG_init runs once per backend, before any query is planned with the hook.
    unsafe {
        let previous = pg_sys::planner_hook;
        if previous.is_some_and(|hook| is_citus_function(hook as *const c_void)) {
            PREV_PLANNER = previous;
            pg_sys::planner_hook = Some(planner);
        }
    }
}

#[repr(C)]
struct DlInfo {
    dli_fname: *const std::ffi::c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const std::ffi::c_char,
    dli_saddr: *mut c_void,
}

unsafe extern "C" {
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> std::ffi::c_int;
}

/// The function at `addr` lives in Citus's shared library (`citus.so`).
fn is_citus_function(addr: *const c_void) -> bool {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr only reads the loader's tables; the file name it returns is the
    // loader's and is only read here.
    unsafe {
        if dladdr(addr, &mut info) == 0 || info.dli_fname.is_null() {
            return false;
        }
        let file = CStr::from_ptr(info.dli_fname).to_string_lossy();
        std::path::Path::new(file.as_ref())
            .file_name()
            .is_some_and(|f| f == "citus.so")
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn planner(
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: std::ffi::c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    if let Some(tenant) = signed::tenant_setting().filter(|_| ROUTE.get()) {
        let mut context = Context { tenant, added: 0 };
        // SAFETY: the query tree is the planner's to change (PostgreSQL copies a cached
        // query before planning it); we only add quals to it.
        unsafe { walk(parse.cast(), (&mut context as *mut Context).cast()) };
        if context.added > 0 {
            signed::plans_hold_tenant();
        }
    }
    // SAFETY: the next hook or the standard planner, with the arguments we were given,
    // called across the FFI boundary guard: an error it raises (a longjmp) becomes a
    // Rust panic here instead of jumping over Rust frames.
    unsafe {
        pg_sys::ffi::pg_guard_ffi_boundary(|| match PREV_PLANNER {
            Some(prev) => prev(parse, query_string, cursor_options, bound_params),
            None => pg_sys::standard_planner(parse, query_string, cursor_options, bound_params),
        })
    }
}

struct Context {
    tenant: String,
    added: usize,
}

/// Visit every query level (sub-queries, CTEs, sub-links) and each one's range table.
#[pg_guard]
unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    unsafe {
        if (*node).type_ == pg_sys::NodeTag::T_Query {
            let query = node.cast::<pg_sys::Query>();
            for rte in list::pointers((*query).rtable) {
                route_relation(rte.cast(), &mut *context.cast::<Context>());
            }
            return pg_sys::query_tree_walker(query, Some(walk), context, 0);
        }
        pg_sys::expression_tree_walker(node, Some(walk), context)
    }
}

/// For each of the table's security quals that is (or ANDs) relay's by-name policy
/// comparison, AND the same comparison with the tenant as a constant.
unsafe fn route_relation(rte: *mut pg_sys::RangeTblEntry, context: &mut Context) {
    unsafe {
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || (*rte).securityQuals.is_null() {
            return;
        }
        let quals = (*rte).securityQuals;
        for i in 0..(*quals).length as usize {
            let cell = (*quals).elements.add(i);
            let qual = (*cell).ptr_value.cast::<pg_sys::Node>();
            if let Some(routed) = routed_comparison(qual, &context.tenant) {
                (*cell).ptr_value = pg_sys::makeBoolExpr(
                    pg_sys::BoolExprType::AND_EXPR,
                    list2(qual.cast(), routed.cast()),
                    -1,
                )
                .cast();
                context.added += 1;
            } else if is_and(qual) {
                let and = qual.cast::<pg_sys::BoolExpr>();
                let routed: Vec<_> = list::pointers((*and).args)
                    .into_iter()
                    .filter_map(|arg| routed_comparison(arg.cast(), &context.tenant))
                    .collect();
                for r in routed {
                    (*and).args = pg_sys::lappend((*and).args, r.cast());
                    context.added += 1;
                }
            }
        }
    }
}

unsafe fn is_and(node: *mut pg_sys::Node) -> bool {
    unsafe {
        (*node).type_ == pg_sys::NodeTag::T_BoolExpr
            && (*node.cast::<pg_sys::BoolExpr>()).boolop == pg_sys::BoolExprType::AND_EXPR
    }
}

unsafe fn list2(a: *mut c_void, b: *mut c_void) -> *mut pg_sys::List {
    unsafe { pg_sys::lappend(pg_sys::lappend(std::ptr::null_mut(), a), b) }
}

/// `column = relay_policy_tenant*('s.t'::text)` with relay's function: a copy with
/// the tenant, typed as the function returns it, in place of the call. None for any
/// other expression, or when the tenant is not of the column's type (the policy then
/// matches no row, or raises under relay.require_tenant, as it does today).
unsafe fn routed_comparison(node: *mut pg_sys::Node, tenant: &str) -> Option<*mut pg_sys::OpExpr> {
    unsafe {
        if (*node).type_ != pg_sys::NodeTag::T_OpExpr {
            return None;
        }
        let op = node.cast::<pg_sys::OpExpr>();
        let args = list::pointers((*op).args);
        let [_, call] = args[..] else { return None };
        let call = call.cast::<pg_sys::Node>();
        if (*call).type_ != pg_sys::NodeTag::T_FuncExpr {
            return None;
        }
        let func = call.cast::<pg_sys::FuncExpr>();
        let func_args = list::pointers((*func).args);
        let [arg] = func_args[..] else { return None };
        let arg = arg.cast::<pg_sys::Node>();
        if (*arg).type_ != pg_sys::NodeTag::T_Const
            || (*arg.cast::<pg_sys::Const>()).consttype != pg_sys::TEXTOID
        {
            return None;
        }
        if !is_relay_policy_function((*func).funcid) {
            return None;
        }
        let constant = tenant_constant((*func).funcresulttype, (*func).funccollid, tenant)?;
        let copy = pg_sys::copyObjectImpl(op.cast()).cast::<pg_sys::OpExpr>();
        let copy_args = (*copy).args;
        (*(*copy_args).elements.add(1)).ptr_value = constant.cast();
        Some(copy)
    }
}

/// One of relay's policy functions: by name, in relay's schema.
unsafe fn is_relay_policy_function(funcid: pg_sys::Oid) -> bool {
    unsafe {
        let name = pg_sys::get_func_name(funcid);
        if name.is_null() {
            return false;
        }
        let ours = matches!(
            CStr::from_ptr(name).to_bytes(),
            b"relay_policy_tenant" | b"relay_policy_tenant_uuid" | b"relay_policy_tenant_bigint"
        );
        pg_sys::pfree(name.cast());
        ours && crate::pg::ext::installed_namespace() == Some(pg_sys::get_func_namespace(funcid))
    }
}

/// The tenant as a constant of the policy function's result type.
unsafe fn tenant_constant(
    result_type: pg_sys::Oid,
    collation: pg_sys::Oid,
    tenant: &str,
) -> Option<*mut pg_sys::Const> {
    let (datum, len, by_value) = match result_type {
        pg_sys::TEXTOID => (tenant.to_string().into_datum()?, -1, false),
        pg_sys::UUIDOID => (
            pgrx::Uuid::from_bytes(crate::context::parse_uuid(tenant)?).into_datum()?,
            16,
            false,
        ),
        pg_sys::INT8OID => (tenant.parse::<i64>().ok()?.into_datum()?, 8, true),
        _ => return None,
    };
    // SAFETY: a new Const node in the planner's memory context.
    Some(unsafe { pg_sys::makeConst(result_type, -1, collation, len, datum, false, by_value) })
}
