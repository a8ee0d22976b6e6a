//! Tenant context: what the session says the current tenant is, and the SQL
//! functions that set, read and clear it.
//!
//! **context** layer: the session's tenant (here), signed tokens and relay's settings
//! (`signed`), the token key (`token_key`) and single-use token memory
//! (`token_replay`).
//! May use: `model`, `pg`.

pub mod signed;
pub mod token_key;
pub mod token_replay;

use crate::model::errors;
use crate::model::quote::quote_literal;
use crate::pg::privilege;
use crate::pg::probes;
use crate::pg::regclass::RegClass;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use std::ffi::CStr;

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
}

/// Reserve the relay.* prefix, so a typo such as relay.require_tenants is an error
/// rather than a silent placeholder. Called last in `_PG_init`: reserving removes
/// every placeholder under the prefix, so a relay setting defined after it would lose
/// the value postgresql.conf gave it.
pub fn reserve_prefix() {
    // SAFETY: called once per backend from _PG_init, after every relay.* setting is defined.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"relay".as_ptr()) };
}

pub use crate::pg::settings::current_setting;

/// The session's tenant, or None when unset. `''` counts as unset: PostgreSQL returns
/// it once a `SET LOCAL` has ended in a session where the setting existed.
pub fn current_tenant() -> Option<String> {
    signed::tenant_setting()
}

/// Who is acting (app.current_actor_id), or None when unset.
pub fn current_actor() -> Option<String> {
    signed::actor_setting()
}

/// The tenant the `tenant_isolation` policy of a table compares with. With no tenant
/// set it is NULL (no row matches) or, under relay.require_tenant, an error naming the
/// table. Each policy and default function below has two forms: the table as a
/// regclass (what relay writes on local tables) and as text (what relay_distribute
/// writes for Citus: a worker creating a shard cannot resolve a regclass constant,
/// and the table is only named in errors).
/// `table` names the table for errors only (computed then: it costs a lookup).
fn policy_tenant(table: impl Fn() -> String) -> Option<String> {
    let tenant = current_tenant();
    if tenant.is_none() && REQUIRE_TENANT.get() {
        errors::no_tenant_for_query(&table(), signed::is_signed());
    }
    tenant
}

/// The policy's tenant for a text tenant column: evaluated once per query on local
/// tables (the policy wraps it in a scalar sub-select, an InitPlan).
#[pg_extern(stable, parallel_safe)]
fn relay_policy_tenant(tbl: RegClass) -> Option<String> {
    policy_tenant(|| tbl.display())
}

#[pg_extern(stable, parallel_safe, name = "relay_policy_tenant")]
fn relay_policy_tenant_named(tbl: &str) -> Option<String> {
    policy_tenant(|| tbl.to_string())
}

/// The session's tenant as the type of a tenant column that is not text: None when
/// unset, or when it is not of that type (it can name no row then, like an unknown
/// tenant); under relay.require_tenant both are errors naming the table.
fn typed_tenant<T>(
    table: impl Fn() -> String,
    type_name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let tenant = current_tenant();
    match tenant.as_deref().map(|t| (t, parse(t))) {
        None if REQUIRE_TENANT.get() => errors::no_tenant_for_query(&table(), signed::is_signed()),
        None => None,
        Some((_, Some(value))) => Some(value),
        Some((t, None)) if REQUIRE_TENANT.get() => {
            errors::tenant_not_of_type(t, type_name, &table())
        }
        Some((_, None)) => None,
    }
}

pub use crate::model::tenant_type::parse_uuid;

/// The policy's tenant for a uuid tenant column.
#[pg_extern(stable, parallel_safe)]
fn relay_policy_tenant_uuid(tbl: RegClass) -> Option<pgrx::Uuid> {
    typed_tenant(|| tbl.display(), "uuid", parse_uuid).map(pgrx::Uuid::from_bytes)
}

#[pg_extern(stable, parallel_safe, name = "relay_policy_tenant_uuid")]
fn relay_policy_tenant_uuid_named(tbl: &str) -> Option<pgrx::Uuid> {
    typed_tenant(|| tbl.to_string(), "uuid", parse_uuid).map(pgrx::Uuid::from_bytes)
}

/// The policy's tenant for a bigint or integer tenant column.
#[pg_extern(stable, parallel_safe)]
fn relay_policy_tenant_bigint(tbl: RegClass) -> Option<i64> {
    typed_tenant(|| tbl.display(), "bigint", |t| t.parse::<i64>().ok())
}

#[pg_extern(stable, parallel_safe, name = "relay_policy_tenant_bigint")]
fn relay_policy_tenant_bigint_named(tbl: &str) -> Option<i64> {
    typed_tenant(|| tbl.to_string(), "bigint", |t| t.parse::<i64>().ok())
}

/// Column default of a text tenant column: the session's tenant, or an error naming
/// the table when none is set, so a row never lands in a tenant by accident.
/// `table` as in `policy_tenant`.
pub fn insert_tenant(table: impl Fn() -> String) -> String {
    current_tenant().unwrap_or_else(|| errors::no_tenant_for_insert(&table(), signed::is_signed()))
}

fn insert_tenant_uuid(table: impl Fn() -> String) -> pgrx::Uuid {
    let tenant = insert_tenant(&table);
    let bytes = parse_uuid(&tenant)
        .unwrap_or_else(|| errors::tenant_not_of_type(&tenant, "uuid", &table()));
    pgrx::Uuid::from_bytes(bytes)
}

fn insert_tenant_bigint(table: impl Fn() -> String) -> i64 {
    let tenant = insert_tenant(&table);
    tenant
        .parse::<i64>()
        .unwrap_or_else(|_| errors::tenant_not_of_type(&tenant, "bigint", &table()))
}

/// Column default of a uuid tenant column: the session's tenant, or an error.
#[pg_extern(stable, parallel_safe)]
fn relay_insert_tenant_uuid(tbl: RegClass) -> pgrx::Uuid {
    insert_tenant_uuid(|| tbl.display())
}

#[pg_extern(stable, parallel_safe, name = "relay_insert_tenant_uuid")]
fn relay_insert_tenant_uuid_named(tbl: &str) -> pgrx::Uuid {
    insert_tenant_uuid(|| tbl.to_string())
}

/// Column default of a bigint or integer tenant column.
#[pg_extern(stable, parallel_safe)]
fn relay_insert_tenant_bigint(tbl: RegClass) -> i64 {
    insert_tenant_bigint(|| tbl.display())
}

#[pg_extern(stable, parallel_safe, name = "relay_insert_tenant_bigint")]
fn relay_insert_tenant_bigint_named(tbl: &str) -> i64 {
    insert_tenant_bigint(|| tbl.to_string())
}

/// Set the current tenant after checking that it exists and is active. For the
/// current transaction only (`SET LOCAL`, safe behind a transaction-pooling
/// PgBouncer) unless `is_local` is false. Returns the tenant. In signed mode roles
/// subject to row level security must use `relay_set_tenant(tenant, token)`.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_set_tenant(tenant: Option<String>, is_local: default!(Option<bool>, true)) -> String {
    let tenant = tenant.unwrap_or_else(|| errors::null_argument("relay_set_tenant", "tenant"));
    let is_local =
        is_local.unwrap_or_else(|| errors::null_argument("relay_set_tenant", "is_local"));
    if signed::is_signed() && !privilege::role_sees_every_tenant() {
        errors::tenant_needs_token();
    }
    match probes::tenant_is_active(&tenant) {
        None => errors::unknown_tenant(&tenant, crate::pg::tenant_registry::current().as_ref()),
        Some(false) => {
            errors::suspended_tenant(&tenant, crate::pg::tenant_registry::current().as_ref())
        }
        Some(true) => {}
    }
    set_context(&tenant, None, is_local, None);
    tenant
}

/// Set the current tenant with a token minted by the trusted tier (see
/// `relay_tenant_token`): the way to set it in `relay.context_mode = signed`. For the
/// current transaction only. `actor`, when given, becomes app.current_actor_id (the
/// application's claim; the token proves the tenant). A bad or expired token, and an
/// unknown or suspended tenant, all get the same answer (28000).
#[pg_extern(volatile, parallel_unsafe, name = "relay_set_tenant")]
fn relay_set_tenant_signed(
    tenant: Option<String>,
    token: Option<String>,
    actor: default!(Option<String>, "NULL"),
) -> String {
    let tenant = tenant.unwrap_or_else(|| errors::null_argument("relay_set_tenant", "tenant"));
    let token = token.unwrap_or_else(|| errors::token_rejected());
    signed::require_valid_token(&tenant, &token);
    if probes::tenant_is_active(&tenant) != Some(true) {
        errors::token_rejected();
    }
    // Spent last, once everything else passed: a refused call does not use it up.
    signed::spend_token(&token);
    set_context(&tenant, actor.as_deref(), true, Some(&token));
    tenant
}

/// The checks every tenant switch shares, then the SET itself.
fn set_context(tenant: &str, actor: Option<&str>, is_local: bool, token: Option<&str>) {
    // PostgreSQL's own SET LOCAL only warns outside a transaction block (and says
    // nothing when run through SPI): the tenant would silently not be set.
    // SAFETY: reads the transaction state.
    if is_local && !unsafe { pgrx::pg_sys::IsTransactionBlock() } {
        errors::set_local_outside_transaction();
    }
    refuse_other_tenants_cursors(tenant);
    // On Citus a real SET (LOCAL) statement, which Citus
    // (citus.propagate_set_commands = 'local') forwards to the workers; the value
    // cannot be a parameter in SET, so it is quoted as a literal. Elsewhere the
    // setting is assigned directly, as SET would.
    let scope = if is_local { "SET LOCAL" } else { "SET" };
    let citus = probes::tenants_in_citus();
    if citus && !is_local {
        errors::session_tenant_not_distributed();
    }
    if citus {
        // Citus forwards SET LOCAL to the workers of this transaction only with this.
        Spi::run("SET LOCAL citus.propagate_set_commands = 'local'").expect("SET");
        // In signed mode a worker lets the forwarded tenant through on this token.
        if let Some(token) = token {
            signed::forward_token(token);
        }
    }
    signed::as_relay_setting(|| {
        if citus {
            Spi::run(&format!(
                "{scope} app.current_tenant_id = {}",
                quote_literal(tenant)
            ))
            .expect("SET");
            if let Some(actor) = actor {
                Spi::run(&format!(
                    "{scope} app.current_actor_id = {}",
                    quote_literal(actor)
                ))
                .expect("SET");
            }
        } else {
            // What SET (LOCAL) does, without parsing a statement through SPI.
            set_directly(c"app.current_tenant_id", tenant, is_local);
            if let Some(actor) = actor {
                set_directly(c"app.current_actor_id", actor, is_local);
            }
        }
    });
}

thread_local! {
    /// The tenant that was set when each cursor of this session was declared (DECLARE
    /// passes relay's ProcessUtility hook), by cursor name.
    static CURSOR_TENANTS: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Remember the tenant a DECLARE CURSOR runs under.
///
/// # Safety
/// `stmt` is the utility statement PostgreSQL passed to ProcessUtility.
pub unsafe fn note_declared_cursor(stmt: *mut pgrx::pg_sys::Node) {
    // SAFETY: a DeclareCursorStmt's portal name is a NUL-terminated string.
    let name = unsafe {
        if stmt.is_null() || (*stmt).type_ != pgrx::pg_sys::NodeTag::T_DeclareCursorStmt {
            return;
        }
        let declare = stmt as *mut pgrx::pg_sys::DeclareCursorStmt;
        if (*declare).portalname.is_null() {
            return;
        }
        CStr::from_ptr((*declare).portalname)
            .to_string_lossy()
            .into_owned()
    };
    let tenant = current_tenant();
    CURSOR_TENANTS.with(|c| c.borrow_mut().insert(name, tenant));
}

/// Refuse to set `tenant` while a cursor declared under another tenant (or under none)
/// is open: a WITH HOLD cursor keeps the rows it read and survives COMMIT (behind a
/// transaction pooler, into the next client's transaction, where no tenant was set
/// yet), and any cursor fetched after the switch mixes tenants. A cursor relay did not
/// see declared counts as declared under the tenant set now.
fn refuse_other_tenants_cursors(tenant: &str) {
    let now = current_tenant();
    let switching = now.as_deref().is_some_and(|now| now != tenant);
    let noted = CURSOR_TENANTS.with(|c| !c.borrow().is_empty());
    if !switching && !noted {
        return;
    }
    let open: Vec<String> = Spi::connect(|client| {
        client
            .select(
                "SELECT c.name::pg_catalog.text FROM pg_catalog.pg_cursor() c ORDER BY 1",
                None,
                &[],
            )
            .expect("cursor lookup")
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    });
    let foreign: Vec<String> = CURSOR_TENANTS.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|name, _| open.contains(name));
        open.iter()
            .filter(|name| {
                c.get(*name)
                    .cloned()
                    .unwrap_or_else(|| now.clone())
                    .as_deref()
                    != Some(tenant)
            })
            .map(|name| crate::model::quote::quote_ident(name))
            .collect()
    });
    if !foreign.is_empty() {
        errors::other_tenants_cursors_open(&foreign.join(", "));
    }
}

/// `SET [LOCAL] name = value`, as PostgreSQL's SET runs it (same source and action,
/// so the setting's check hook sees what it would see for the statement).
fn set_directly(name: &CStr, value: &str, is_local: bool) {
    let value = std::ffi::CString::new(value)
        .unwrap_or_else(|_| errors::null_argument("relay_set_tenant", "tenant"));
    let action = if is_local {
        pgrx::pg_sys::GucAction::GUC_ACTION_LOCAL
    } else {
        pgrx::pg_sys::GucAction::GUC_ACTION_SET
    };
    // SAFETY: a GUC assignment inside a transaction; errors are PostgreSQL errors.
    unsafe {
        pgrx::pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pgrx::pg_sys::GucContext::PGC_USERSET,
            pgrx::pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            0,
            false,
        );
    }
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
