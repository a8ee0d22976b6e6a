//! The SQL functions. Thin: check arguments, then look, plan, apply.

use crate::regclass::RegClass;
use crate::{apply, catalog, context, errors, plan};
use crate::quote::quote_qualified;
use pgrx::prelude::*;

/// The tenant every pre-existing row belongs to unless the caller names another.
pub const DEFAULT_TENANT_ID: &str = "default-tenant-000-0000-000000000000";

/// High half of the advisory lock key that serializes enable calls per table ('rlay').
const ADVISORY_LOCK_TAG: i64 = 0x726c_6179;

thread_local! {
    /// (pg_extension oid, schema name). relay_tenancy is not relocatable, so an
    /// extension oid always lives in the same schema; a DROP and CREATE EXTENSION
    /// gives a new oid and so a fresh lookup.
    static EXTENSION_SCHEMA: std::cell::RefCell<Option<(pgrx::pg_sys::Oid, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// The schema relay_tenancy was installed in. Called on hot paths (the capture
/// trigger), so the SPI lookup runs once per backend and extension oid.
pub fn extension_schema() -> String {
    // SAFETY: a catalog lookup by name; errors are raised as PostgreSQL errors.
    let ext_oid = unsafe { pgrx::pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), false) };
    EXTENSION_SCHEMA.with(|cache| {
        if let Some((oid, schema)) = cache.borrow().as_ref() {
            if *oid == ext_oid {
                return schema.clone();
            }
        }
        let schema = Spi::get_one_with_args::<String>(
            "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
              WHERE e.oid = $1",
            &[ext_oid.into()],
        )
        .expect("extension lookup")
        .expect("relay_tenancy is installed");
        *cache.borrow_mut() = Some((ext_oid, schema.clone()));
        schema
    })
}

/// One of relay's own tables: its schema, namespace, oid and owner.
#[derive(Clone)]
pub struct ExtRelation {
    pub schema: String,
    pub namespace: pgrx::pg_sys::Oid,
    pub relid: pgrx::pg_sys::Oid,
    pub owner: pgrx::pg_sys::Oid,
}

thread_local! {
    static EXT_RELATIONS: std::cell::RefCell<Vec<(&'static std::ffi::CStr, ExtRelation)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Where relay's table `name` is, cached per backend for the hot paths (the capture
/// trigger, relay_set_tenant). Each call checks the cached oid against the syscache
/// (a hash lookup, no catalog scan), so a dropped and recreated extension is noticed.
pub fn ext_relation(name: &'static std::ffi::CStr) -> ExtRelation {
    use pgrx::pg_sys;
    EXT_RELATIONS.with(|cell| {
        if let Some((_, cached)) = cell.borrow().iter().find(|(n, _)| *n == name) {
            // SAFETY: syscache lookup by oid; a missing relation yields InvalidOid.
            if unsafe { pg_sys::get_rel_namespace(cached.relid) } == cached.namespace {
                return cached.clone();
            }
        }
        let schema = extension_schema();
        let c_schema = std::ffi::CString::new(schema.as_str()).expect("schema name has no NUL");
        // SAFETY: catalog lookups by name; errors are PostgreSQL errors.
        let (namespace, relid) = unsafe {
            let nsp = pg_sys::get_namespace_oid(c_schema.as_ptr(), false);
            (nsp, pg_sys::get_relname_relid(name.as_ptr(), nsp))
        };
        let owner = select_optional::<pg_sys::Oid>(
            "SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1",
            &[relid.into()],
        )
        .unwrap_or(pg_sys::InvalidOid);
        let found = ExtRelation { schema, namespace, relid, owner };
        let mut cache = cell.borrow_mut();
        cache.retain(|(n, _)| *n != name);
        cache.push((name, found.clone()));
        found
    })
}

/// The first column of the first row of `sql`, None when there is no row (pgrx's
/// `get_one` reports an empty result as an error).
pub fn select_optional<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Option<T> {
    Spi::connect_mut(|client| {
        let rows = client.update(sql, Some(1), args).expect("lookup");
        if rows.is_empty() {
            None
        } else {
            rows.first().get_one::<T>().expect("lookup value")
        }
    })
}

/// Everything both `relay_enable_tenancy` and `relay_tenancy_plan` compute.
struct Prepared {
    ext_schema: String,
    state: catalog::TableState,
    default_tenant: String,
    global_unique: Vec<String>,
    steps: Vec<plan::Step>,
}

fn prepare(
    function: &str,
    tbl: Option<RegClass>,
    global_unique: Option<Vec<Option<String>>>,
    default_tenant: Option<String>,
) -> Prepared {
    let tbl = tbl.unwrap_or_else(|| errors::null_argument(function, "tbl"));
    let global_unique: Vec<String> = global_unique
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.unwrap_or_else(|| errors::null_global_unique_entry(function)))
        .collect();
    let default_tenant = default_tenant.unwrap_or_else(|| DEFAULT_TENANT_ID.to_string());
    let ext_schema = extension_schema();

    // Concurrent calls on one table queue here, and each reads the catalogs only once
    // it holds the lock, so the second sees what the first did. Advisory, so an
    // already-enabled table is checked without blocking the application.
    let key = (ADVISORY_LOCK_TAG << 32) | i64::from(tbl.0.to_u32());
    Spi::run_with_args("SELECT pg_catalog.pg_advisory_xact_lock($1)", &[key.into()])
        .expect("advisory lock");

    let mut state = catalog::read(tbl.0, &ext_schema);
    let table = quote_qualified(&state.schema, &state.name);
    plan::validate(&state).unwrap_or_else(|e| errors::plan_error(&table, e));
    state.registered = catalog::is_registered(tbl.0, &ext_schema);

    let tenants = quote_qualified(&ext_schema, "tenants");
    let exists = Spi::get_one_with_args::<bool>(
        &format!("SELECT EXISTS (SELECT 1 FROM {tenants} WHERE id = $1)"),
        &[default_tenant.as_str().into()],
    )
    .expect("tenant lookup")
    .unwrap_or(false);
    if !exists {
        errors::unknown_default_tenant(&default_tenant, &tenants);
    }

    let options = plan::Options {
        ext_schema: &ext_schema,
        default_tenant: &default_tenant,
        global_unique: &global_unique,
    };
    let steps = plan::plan(&state, &options).unwrap_or_else(|e| errors::plan_error(&table, e));
    Prepared { ext_schema, state, default_tenant, global_unique, steps }
}

/// Tenant-enable a table: tenant_id column, foreign key, tenant index, per-tenant
/// unique keys, row level security. Returns one line per action taken.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_enable_tenancy(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "'{}'"),
    default_tenant: default!(Option<String>, "NULL"),
) -> SetOfIterator<'static, String> {
    let p = prepare("relay_enable_tenancy", tbl, global_unique, default_tenant);
    let table = quote_qualified(&p.state.schema, &p.state.name);
    if p.steps.is_empty() && p.state.registered {
        return SetOfIterator::new(vec![format!("{table} is already tenant-enabled: nothing to do")]);
    }
    let mut lines = apply::apply(&p.steps, &p.default_tenant);
    lines.push(apply::register(&p.ext_schema, &p.state, &p.steps, &p.default_tenant, &p.global_unique));
    SetOfIterator::new(lines)
}

/// The dry run: the steps `relay_enable_tenancy` would take, with the lock each takes
/// and its SQL. Changes nothing (it takes the same advisory lock to read consistently).
#[pg_extern(volatile, parallel_unsafe)]
fn relay_tenancy_plan(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "'{}'"),
    default_tenant: default!(Option<String>, "NULL"),
) -> TableIterator<'static, (name!(step, i32), name!(lock, String), name!(action, String), name!(statement, String))> {
    let p = prepare("relay_tenancy_plan", tbl, global_unique, default_tenant);
    let rows: Vec<_> = p
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| (i as i32 + 1, s.lock.as_str().to_string(), s.action, s.sql))
        .collect();
    TableIterator::new(rows)
}

/// Column default of tenant_id on enabled tables: the session's tenant, or an error
/// naming the table when none is set, so a row never lands in a tenant by accident.
#[pg_extern(stable, parallel_safe)]
fn relay_insert_tenant(tbl: RegClass) -> String {
    context::current_tenant().unwrap_or_else(|| errors::no_tenant_for_insert(&tbl.display()))
}

/// Exposed for tests: PostgreSQL's quoting, to check `quote::quote_ident` against.
#[cfg(any(test, feature = "pg_test"))]
pub fn server_quote_ident(name: &str) -> String {
    pgrx::spi::quote_identifier(name)
}

