//! Where relay's own objects live: the extension's schema and owner, its tables
//! (`ext_relation`), whether the library is preloaded.
//!
//! The privileged ways relay reads and writes them are beside it:
//! relay's tables (`tenants`, `relay_tables`, `relay_audit_tables`) carry row level
//! security with no policy for other roles, so a role that was granted privileges on
//! them by accident (`GRANT ALL ON ALL TABLES IN SCHEMA ...`) sees and changes nothing.
//! relay itself reaches them in two ways that never parse SQL under the caller's
//! search_path while privileges are raised:
//! - direct index probes (`probes`: `tenant_is_active`, `registered_now`, `audited_now`): no SQL,
//!   no identity switch, no operator lookup at all;
//! - `privilege::as_extension_owner`: SQL run as the extension's owner, with the search_path
//!   pinned to `pg_catalog, pg_temp` and SECURITY_RESTRICTED_OPERATION set, the way
//!   PostgreSQL runs maintenance commands on a user's table.

use crate::pg::settings::current_setting;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::CStr;

pub use crate::model::names::DEFAULT_TENANT_ID;

/// The search_path every privileged piece of relay runs under.
pub const PINNED_SEARCH_PATH: &CStr = c"pg_catalog, pg_temp";

thread_local! {
    /// (pg_extension oid, schema name, owner). relay_tenancy is not relocatable, so an
    /// extension oid always lives in the same schema; a DROP and CREATE EXTENSION
    /// gives a new oid and so a fresh lookup.
    static EXTENSION: RefCell<Option<(pg_sys::Oid, pg_sys::Oid, String, pg_sys::Oid)>> = const { RefCell::new(None) };
}

fn extension() -> (String, pg_sys::Oid) {
    let (schema, owner, _) = extension_entry();
    (schema, owner)
}

/// The namespace relay_tenancy is installed in, None when it is not installed here.
pub fn installed_namespace() -> Option<pg_sys::Oid> {
    // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
    let ext_oid = unsafe { pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), true) };
    (ext_oid != pg_sys::InvalidOid).then(|| entry_of(ext_oid).2)
}

fn extension_entry() -> (String, pg_sys::Oid, pg_sys::Oid) {
    // SAFETY: a catalog lookup by name; errors are raised as PostgreSQL errors.
    entry_of(unsafe { pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), false) })
}

fn entry_of(ext_oid: pg_sys::Oid) -> (String, pg_sys::Oid, pg_sys::Oid) {
    EXTENSION.with(|cache| {
        if let Some((oid, nsp, schema, owner)) = cache.borrow().as_ref() {
            // The schema may have been renamed since (ALTER SCHEMA ... RENAME TO):
            // its name is checked against the syscache on every use.
            if *oid == ext_oid && namespace_named(*nsp, schema) {
                return (schema.clone(), *owner, *nsp);
            }
        }
        let (nsp, owner) = extension_row(ext_oid);
        // SAFETY: a syscache lookup by oid; the name is copied and freed at once.
        let schema = unsafe {
            let name = pg_sys::get_namespace_name(nsp);
            assert!(!name.is_null(), "relay_tenancy's schema exists");
            let schema = CStr::from_ptr(name).to_string_lossy().into_owned();
            pg_sys::pfree(name.cast());
            schema
        };
        *cache.borrow_mut() = Some((ext_oid, nsp, schema.clone(), owner));
        (schema, owner, nsp)
    })
}

/// `(extnamespace, extowner)` of extension `ext_oid`: a scan of pg_extension's oid
/// index under the catalog snapshot, no SQL (this runs inside the planner hook too,
/// where SPI must not be used).
fn extension_row(ext_oid: pg_sys::Oid) -> (pg_sys::Oid, pg_sys::Oid) {
    // SAFETY: pg_extension is opened, scanned by its oid index and closed here; the
    // tuple's fixed part is a FormData_pg_extension.
    unsafe {
        let rel = pg_sys::table_open(
            pg_sys::ExtensionRelationId,
            pg_sys::AccessShareLock as pg_sys::LOCKMODE,
        );
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_extension_oid as i16,
            pg_sys::BTEqualStrategyNumber as u16,
            pg_sys::Oid::from(pg_sys::F_OIDEQ),
            pg_sys::Datum::from(ext_oid),
        );
        let scan = pg_sys::systable_beginscan(
            rel,
            pg_sys::Oid::from(pg_sys::ExtensionOidIndexId),
            true,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let tuple = pg_sys::systable_getnext(scan);
        assert!(!tuple.is_null(), "relay_tenancy's pg_extension row exists");
        let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_extension>(tuple);
        let found = ((*form).extnamespace, (*form).extowner);
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        found
    }
}

/// Namespace `nsp` is still called `schema` (a syscache lookup).
fn namespace_named(nsp: pg_sys::Oid, schema: &str) -> bool {
    // SAFETY: a syscache lookup by oid; the name is copied and freed at once.
    unsafe {
        let name = pg_sys::get_namespace_name(nsp);
        if name.is_null() {
            return false;
        }
        let same = CStr::from_ptr(name).to_bytes() == schema.as_bytes();
        pg_sys::pfree(name.cast());
        same
    }
}

/// The schema relay_tenancy was installed in. Called on hot paths (the capture
/// trigger), so the lookup runs once per backend and extension oid.
pub fn extension_schema() -> String {
    extension().0
}

/// The schema of the functions users call (`relay_enable_tenancy`, `relay_set_tenant`,
/// ...): public, where the default search_path finds them, while relay's tables and the
/// functions its own objects call live in the extension's schema (`relay`). Fixed, so
/// that a fix relay prints (`SELECT public.relay_enable_tenancy(...)`) and a command it
/// sends to a Citus node name the function wherever relay is installed.
pub const API_SCHEMA: &str = "public";

/// The role that owns the extension (and its tables and functions).
pub fn extension_owner() -> pg_sys::Oid {
    extension().1
}

/// relay's own tables that hold its registry, its tenants and its queue of background
/// conversions (whose rows name the role a worker runs as), not the audit log's chain
/// tables: what its guards and checks watch for foreign triggers and grants.
pub const OWN_TABLES: [&CStr; 7] = [
    c"tenants",
    c"relay_tables",
    c"relay_audit_tables",
    c"relay_tenant_registry",
    c"relay_schemas",
    c"audit_logs",
    c"online_jobs",
];

/// One of relay's own tables: its schema and oid.
#[derive(Clone)]
pub struct ExtRelation {
    pub schema: String,
    pub relid: pg_sys::Oid,
}

thread_local! {
    static EXT_RELATIONS: RefCell<Vec<(&'static CStr, ExtRelation)>> = const { RefCell::new(Vec::new()) };
}

/// The cached oid of relay's table `name`, if it has been looked up.
pub fn cached_relid(name: &CStr) -> Option<pg_sys::Oid> {
    EXT_RELATIONS.with(|c| {
        c.borrow()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r.relid)
    })
}

/// Forget where relay's tables are: all of them (`InvalidOid`, a schema changed) or
/// the one with oid `relid` (renamed, moved, dropped or altered).
pub fn forget_relations(relid: pg_sys::Oid) {
    let ours = EXT_RELATIONS.with(|c| {
        let mut cached = c.borrow_mut();
        let before = cached.len();
        cached.retain(|(_, r)| relid != pg_sys::InvalidOid && r.relid != relid);
        cached.len() != before
    });
    // One of relay's tables moved, or any schema changed: the extension's schema is
    // read again too (the 0.2.0 -> 0.3.0 update moves relay into schema relay and
    // grants on it, which invalidates every backend's namespace cache).
    if ours || relid == pg_sys::InvalidOid {
        EXTENSION.with(|e| *e.borrow_mut() = None);
    }
}

/// Where relay's table `name` is, cached per backend for the hot paths until the
/// table's relcache entry is invalidated (renamed, moved, dropped: a dropped and
/// recreated extension is noticed) or any schema changes (a renamed schema).
pub fn ext_relation(name: &'static CStr) -> ExtRelation {
    EXT_RELATIONS.with(|cell| {
        if let Some((_, cached)) = cell.borrow().iter().find(|(n, _)| *n == name) {
            if cached.relid != pg_sys::InvalidOid {
                return cached.clone();
            }
        }
        let schema = extension_schema();
        let c_schema = std::ffi::CString::new(schema.as_str()).expect("schema name has no NUL");
        // SAFETY: catalog lookups by name; errors are PostgreSQL errors.
        let relid = unsafe {
            let nsp = pg_sys::get_namespace_oid(c_schema.as_ptr(), false);
            pg_sys::get_relname_relid(name.as_ptr(), nsp)
        };
        // A table of that name that is not relay's own (relay's renamed, another
        // created in its place): relay neither reads nor writes it.
        // SAFETY: pg_depend lookup by object; errors are PostgreSQL errors.
        if relid != pg_sys::InvalidOid
            && unsafe {
                pg_sys::getExtensionOfObject(pg_sys::RelationRelationId, relid)
                    != pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), false)
            }
        {
            crate::model::errors::not_relay_table(&crate::model::quote::quote_qualified(
                &schema,
                &name.to_string_lossy(),
            ));
        }
        let found = ExtRelation { schema, relid };
        let mut cache = cell.borrow_mut();
        cache.retain(|(n, _)| *n != name);
        cache.push((name, found.clone()));
        found
    })
}

/// A relation's name as regclass prints it (qualified when not on the search_path,
/// quoted), its oid when it no longer exists.
pub fn relation_name(oid: pg_sys::Oid) -> String {
    Spi::get_one_with_args::<String>(
        "SELECT $1::pg_catalog.regclass::pg_catalog.text",
        &[oid.into()],
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| oid.to_u32().to_string())
}

/// The library is loaded at session start in every session (not only once a relay
/// function first runs): the EXPLAIN ANALYZE guard and signed mode's setting guard
/// must be in place before the session's first statement.
pub fn preloaded() -> bool {
    ["shared_preload_libraries", "session_preload_libraries"]
        .iter()
        .any(|name| {
            let c = std::ffi::CString::new(*name).expect("no NUL");
            current_setting(&c).is_some_and(|v| {
                v.split(',')
                    .map(|l| l.trim().trim_matches('"'))
                    .any(|l| l == "relay_tenancy" || l == "$libdir/relay_tenancy")
            })
        })
}
