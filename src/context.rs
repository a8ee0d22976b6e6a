//! Tenant context: what the session says the current tenant is, and the SQL
//! functions that set, read and clear it.

use crate::quote::{quote_literal, quote_qualified};
use crate::regclass::RegClass;
use crate::{api, errors};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use std::ffi::CStr;

/// The GUC applications set per request (`SET LOCAL app.current_tenant_id = '...'`).
pub const TENANT_GUC: &CStr = c"app.current_tenant_id";

/// Who is acting, for audit entries (`SET LOCAL app.current_actor_id = 'user-42'`).
pub const ACTOR_GUC: &CStr = c"app.current_actor_id";

/// `relay.require_tenant`: reading or writing a tenant-enabled table with no tenant
/// set is an error instead of zero rows.
pub static REQUIRE_TENANT: GucSetting<bool> = GucSetting::<bool>::new(false);

/// Called from `_PG_init`.
pub fn register_gucs() {
    GucRegistry::define_bool_guc(
        c"relay.require_tenant",
        c"Raise an error when a tenant-enabled table is read or written with no tenant set.",
        c"Off: such queries see no rows (and inserts fail). On: they fail with SQLSTATE 55000, naming the table. Settable per database, role, session or transaction.",
        &REQUIRE_TENANT,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: reserves the relay.* prefix, so a typo such as relay.require_tenants is
    // an error rather than a silent placeholder.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"relay".as_ptr()) };
}

/// A custom setting's value, None when unset or `''`.
pub fn current_setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption returns NULL or a pointer to the GUC's current value,
    // valid until the setting next changes; we copy it at once.
    let value = unsafe { pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if value.is_null() {
        return None;
    }
    let value = unsafe { CStr::from_ptr(value) }.to_string_lossy().into_owned();
    (!value.is_empty()).then_some(value)
}

/// The session's tenant, or None when unset. `''` counts as unset: PostgreSQL returns
/// it once a `SET LOCAL` has ended in a session where the setting existed.
pub fn current_tenant() -> Option<String> {
    current_setting(TENANT_GUC)
}

/// The tenant the `tenant_isolation` policy of `tbl` compares with: evaluated once
/// per query (the policy wraps it in a scalar sub-select, an InitPlan). With no tenant
/// set it is NULL (no row matches) or, under relay.require_tenant, an error.
#[pg_extern(stable, parallel_safe)]
fn relay_policy_tenant(tbl: RegClass) -> Option<String> {
    let tenant = current_tenant();
    if tenant.is_none() && REQUIRE_TENANT.get() {
        errors::no_tenant_for_query(&tbl.display());
    }
    tenant
}

/// Set the current tenant after checking that it exists and is active. For the
/// current transaction only (`SET LOCAL`, safe behind a transaction-pooling
/// PgBouncer) unless `is_local` is false. Returns the tenant.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_set_tenant(tenant: Option<String>, is_local: default!(bool, true)) -> String {
    let tenant = tenant.unwrap_or_else(|| errors::null_argument("relay_set_tenant", "tenant"));
    match tenant_is_active(&tenant) {
        None => errors::unknown_tenant(&tenant),
        Some(false) => errors::suspended_tenant(&tenant),
        Some(true) => {}
    }
    // A real SET (LOCAL) statement, not set_config(): it is what poolers and Citus
    // (citus.propagate_set_commands = 'local') see and forward. The value cannot be
    // a parameter in SET, so it is quoted as a literal.
    let scope = if is_local { "SET LOCAL" } else { "SET" };
    Spi::run(&format!("{scope} app.current_tenant_id = {}", quote_literal(&tenant))).expect("SET");
    tenant
}

thread_local! {
    /// (tenants' oid, the kept lookup plan). Called once per request, so the lookup
    /// is parsed and planned once per backend, not per call.
    static TENANT_LOOKUP: std::cell::RefCell<Option<(pgrx::pg_sys::Oid, pgrx::spi::OwnedPreparedStatement)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether tenant `id` is active; None when there is no such tenant. Application
/// roles have no privilege on tenants, so the lookup runs as the owner of tenants,
/// switched with SetUserIdAndSecContext (what SECURITY DEFINER and PostgreSQL's own
/// foreign-key checks do) for this one query only; an error inside is unwound by the
/// transaction abort, which restores the user. The query is fully qualified, so the
/// caller's search_path plays no part.
fn tenant_is_active(id: &str) -> Option<bool> {
    use pgrx::pg_sys;
    let tenants = api::ext_relation(c"tenants");
    TENANT_LOOKUP.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.as_ref().is_none_or(|(relid, _)| *relid != tenants.relid) {
            let sql = format!("SELECT is_active FROM {} WHERE id = $1", quote_qualified(&tenants.schema, "tenants"));
            let plan = Spi::connect(|client| {
                client
                    .prepare(sql.as_str(), &[pgrx::PgOid::from(pg_sys::TEXTOID)])
                    .expect("prepare tenant lookup")
                    .keep()
            });
            *cached = Some((tenants.relid, plan));
        }
        let (_, plan) = cached.as_ref().expect("prepared above");
        let owner = &tenants.owner;
        let (mut user, mut context) = (pg_sys::InvalidOid, 0);
        // SAFETY: saves and restores the current user around one read-only query.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
            pg_sys::SetUserIdAndSecContext(*owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
        }
        let active = Spi::connect(|client| {
            let rows = client.select(plan, Some(1), &[id.into()]).expect("tenant lookup");
            if rows.is_empty() { None } else { rows.first().get_one::<bool>().expect("is_active") }
        });
        unsafe { pg_sys::SetUserIdAndSecContext(user, context) };
        active
    })
}

/// The current tenant, NULL when none is set.
#[pg_extern(stable, parallel_safe)]
fn relay_current_tenant() -> Option<String> {
    current_tenant()
}

/// Clear the tenant for the rest of the session.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_clear_tenant() {
    Spi::run("RESET app.current_tenant_id").expect("RESET");
}
