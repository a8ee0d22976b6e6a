//! SQL-free reads of relay's registry tables and the caches in front of them: whether
//! a tenant exists and is active, whether a table is tenant-enabled or audited and by
//! which column, whether relay's tables carry foreign triggers, whether they are
//! Citus tables. Index probes under the snapshot an SPI query would use: no SQL, no
//! identity switch, no operator lookup, so safe under any caller's search_path.

use crate::model::quote::quote_qualified;
use crate::pg::ext::{
    cached_relid, ext_relation, forget_relations, installed_namespace, ExtRelation,
};
use crate::pg::privilege::{as_extension_owner, select_optional};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;

use crate::pg::index_probe::probe;
pub use crate::pg::index_probe::{attnum_of, attribute};

/// Whether tenant `id` is active; None when there is no such tenant. A direct probe
/// of tenants' primary key: no SQL is parsed, so no operator, function or cast of the
/// caller's can be involved, and no privilege on tenants is needed.
/// With the application's own registry (`relay_use_tenant_registry`), a probe of
/// that table's id index instead.
pub fn tenant_is_active(id: &str) -> Option<bool> {
    if let Some(registry) = crate::pg::tenant_registry::loaded() {
        return registry.is_active(id);
    }
    let tenants = ext_relation(c"tenants");
    let Some(rows) = tenants_placement(&tenants).rows else {
        // A reference table with no copy on this node: read it through Citus.
        let sql = format!(
            "SELECT is_active FROM {} WHERE id OPERATOR(pg_catalog.=) $1",
            crate::model::quote::quote_qualified(&tenants.schema, "tenants")
        );
        return as_extension_owner(|| select_optional::<bool>(&sql, &[id.into()]));
    };
    // SAFETY: a text datum in the current memory context, freed with it.
    let key = unsafe {
        pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            id.as_ptr().cast(),
            id.len() as i32,
        ))
    };
    probe(rows, key, pg_sys::F_TEXTEQ, |tuple, tupdesc| {
        // SAFETY: tuple and descriptor come from the same open relation.
        unsafe {
            attribute(tuple, tupdesc, "is_active").is_some_and(|(_, datum)| datum.value() != 0)
        }
    })
}

thread_local! {
    /// Per table: (has a row in relay_tables, has a row in relay_audit_tables). The
    /// capture trigger asks once per statement; a cached answer is dropped when the
    /// table's relcache entry is invalidated, which every change relay makes to a
    /// table's registration causes (its DDL, and an explicit invalidation after the
    /// registry write), in every backend, at commit.
    /// Per table: (its tenant column when it is tenant-enabled, registered for capture).
    static MEMBERSHIP: RefCell<HashMap<pg_sys::Oid, (Option<String>, bool)>> = RefCell::new(HashMap::new());
    /// Where `tenants` is, until its relcache entry (or its shard's) goes: Citus
    /// invalidates a table's entry when it distributes it.
    static TENANTS_PLACEMENT: Cell<Option<TenantsPlacement>> = const { Cell::new(None) };
    /// Tenant ids known to exist, for the audit writer. Dropped when tenants' relcache
    /// entry is invalidated (relay_delete_tenant does that explicitly).
    static KNOWN_TENANTS: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Most tenant ids one backend remembers before starting over.
const KNOWN_TENANTS_MAX: usize = 10_000;

/// Drop `relid`'s entry from a per-table cache (every entry for InvalidOid: a reset).
fn forget_in<V>(cache: &RefCell<HashMap<pg_sys::Oid, V>>, relid: pg_sys::Oid) {
    let mut cache = cache.borrow_mut();
    if relid == pg_sys::InvalidOid {
        cache.clear();
    } else {
        cache.remove(&relid);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn forget(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    MEMBERSHIP.with(|m| forget_in(m, relid));
    crate::pg::tenant_registry::forget_relid(relid);
    let tenants = cached_relid(c"tenants");
    if relid == pg_sys::InvalidOid || Some(relid) == tenants {
        KNOWN_TENANTS.with(|k| k.borrow_mut().clear());
    }
    if TENANTS_PLACEMENT
        .with(|c| c.get())
        .is_some_and(|p| relid == pg_sys::InvalidOid || relid == p.relid || Some(relid) == p.rows)
    {
        TENANTS_PLACEMENT.with(|c| c.set(None));
    }
    // One of relay's tables renamed, moved, dropped or altered: look it up again.
    forget_relations(relid);
}

/// Any schema changed (renamed, dropped): relay's tables are looked up again.
#[pg_guard]
unsafe extern "C-unwind" fn forget_locations(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    forget_relations(pg_sys::InvalidOid);
}

/// `relid` is a Citus table (reference or distributed): its rows live in shards.
pub fn is_citus_table(relid: pg_sys::Oid) -> bool {
    // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
    let citus = unsafe { pg_sys::get_extension_oid(c"citus".as_ptr(), true) != pg_sys::InvalidOid };
    citus
        && select_optional::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid OPERATOR(pg_catalog.=) $1)",
            &[relid.into()],
        )
        .unwrap_or(false)
}

/// Where relay's `tenants` is (asked per relay_set_tenant and per tenant check).
#[derive(Clone, Copy)]
struct TenantsPlacement {
    relid: pg_sys::Oid,
    /// A Citus reference table (relay_distribute ran).
    citus: bool,
    /// The relation holding its rows on this node: `tenants` itself; once it is a
    /// reference table, its shard here (a plain relation: probing it runs no
    /// distributed query, which Citus refuses inside a query on a shard, as when a
    /// worker checks a forwarded tenant); None when this node has no copy.
    rows: Option<pg_sys::Oid>,
}

fn tenants_placement(tenants: &ExtRelation) -> TenantsPlacement {
    if let Some(cached) = TENANTS_PLACEMENT
        .with(|c| c.get())
        .filter(|p| p.relid == tenants.relid)
    {
        return cached;
    }
    let citus = is_citus_table(tenants.relid);
    let rows = if !citus {
        Some(tenants.relid)
    } else {
        select_optional::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', $2::pg_catalog.text, 'tenants_' OPERATOR(pg_catalog.||) s.shardid))::pg_catalog.oid
               FROM pg_catalog.pg_dist_shard s WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1",
            &[tenants.relid.into(), tenants.schema.clone().into()],
        )
        .filter(|oid| *oid != pg_sys::InvalidOid)
    };
    let placement = TenantsPlacement {
        relid: tenants.relid,
        citus,
        rows,
    };
    TENANTS_PLACEMENT.with(|c| c.set(Some(placement)));
    placement
}

/// relay's `tenants` is a Citus reference table: the schema is scaled out.
pub fn tenants_in_citus() -> bool {
    tenants_placement(&ext_relation(c"tenants")).citus
}

/// Called from `_PG_init`. relay registers three relcache callbacks in all (here,
/// `audit::writer`, `audit::shape`): PostgreSQL has ten slots for every library of the
/// server together, and Citus takes several (one more made Citus backends fail with
/// "out of relcache_callback_list slots"). A new cache forgets from one of these.
pub fn register_cache_callbacks() {
    // SAFETY: registers callbacks that only clear backend-local caches.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(forget), pg_sys::Datum::from(0));
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as i32,
            Some(forget_locations),
            pg_sys::Datum::from(0),
        );
    }
}

/// Tell every backend (at commit) that table `relid`'s registration changed.
pub fn registration_changed(relid: pg_sys::Oid) {
    // SAFETY: queues a relcache invalidation message for an existing relation.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
}

/// The tenant column the registry records for `relid` (None: not tenant-enabled),
/// read now: a direct probe of relay_tables.
fn tenant_column_now(relid: pg_sys::Oid) -> Option<String> {
    probe(
        ext_relation(c"relay_tables").relid,
        relid.into(),
        pg_sys::F_OIDEQ,
        |tuple, tupdesc| {
            // SAFETY: tuple and descriptor come from the same open relation; a name datum
            // points at a NameData.
            unsafe {
                match attribute(tuple, tupdesc, "tenant_column") {
                    None => crate::model::names::TENANT_COLUMN.to_string(),
                    Some((_, datum)) => CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>())
                        .to_string_lossy()
                        .into_owned(),
                }
            }
        },
    )
}

/// Table `relid` is registered for capture, read now: a direct probe.
pub fn audited_now(relid: pg_sys::Oid) -> bool {
    probe(
        ext_relation(c"relay_audit_tables").relid,
        relid.into(),
        pg_sys::F_OIDEQ,
        |_, _| (),
    )
    .is_some()
}

/// Table `relid` is tenant-enabled, read now: a direct probe. For functions that
/// change the registry (the cached answers below are for the capture trigger).
pub fn registered_now(relid: pg_sys::Oid) -> bool {
    tenant_column_now(relid).is_some()
}

/// (tenant column, registered for capture), remembered per backend until the table's
/// relcache entry is invalidated: the capture trigger asks once per statement.
pub fn membership(relid: pg_sys::Oid) -> (Option<String>, bool) {
    if let Some(found) = MEMBERSHIP.with(|m| m.borrow().get(&relid).cloned()) {
        return found;
    }
    let found = (tenant_column_now(relid), audited_now(relid));
    MEMBERSHIP.with(|m| m.borrow_mut().insert(relid, found.clone()));
    found
}

/// The column that holds the tenant of tenant-enabled table `relid`; cached. None
/// when the table is not tenant-enabled.
pub fn tenant_column_of(relid: pg_sys::Oid) -> Option<String> {
    membership(relid).0
}

/// Tenant `id` exists (active or not); remembered per backend once seen.
/// (Not remembered with the application's own registry: its rows are deleted by the
/// application, which no cache here hears of.)
pub fn tenant_exists(id: &str) -> bool {
    if let Some(registry) = crate::pg::tenant_registry::loaded() {
        return registry.is_active(id).is_some();
    }
    if KNOWN_TENANTS.with(|k| k.borrow().contains(id)) {
        return true;
    }
    let exists = tenant_is_active(id).is_some();
    if exists {
        KNOWN_TENANTS.with(|k| {
            let mut k = k.borrow_mut();
            if k.len() >= KNOWN_TENANTS_MAX {
                k.clear();
            }
            k.insert(id.to_string());
        });
    }
    exists
}

/// Triggers on relation `relid` that are neither internal nor relay's own: code that
/// would run with relay's privileges when relay writes the table. Read from the
/// relcache, no SQL.
pub fn foreign_triggers(relid: pg_sys::Oid) -> Vec<String> {
    let mut found = Vec::new();
    if relid == pg_sys::InvalidOid {
        return found;
    }
    // SAFETY: the relation is opened and closed here; trigdesc belongs to it.
    unsafe {
        let ext_oid = pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), false);
        let rel = pg_sys::table_open(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let trigdesc = (*rel).trigdesc;
        if !trigdesc.is_null() {
            for i in 0..(*trigdesc).numtriggers as usize {
                let trigger = (*trigdesc).triggers.add(i);
                if (*trigger).tgisinternal {
                    continue;
                }
                if pg_sys::getExtensionOfObject(pg_sys::ProcedureRelationId, (*trigger).tgfoid)
                    == ext_oid
                {
                    continue;
                }
                found.push(
                    CStr::from_ptr((*trigger).tgname)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    }
    found
}

/// Refuse to write relay's table `name` with raised privileges while it carries a
/// trigger that is not relay's: that trigger would run as the extension's owner.
pub fn refuse_foreign_triggers(name: &'static CStr) {
    let rel = ext_relation(name);
    let found = foreign_triggers(rel.relid);
    if !found.is_empty() {
        crate::model::errors::foreign_trigger_on_relay_table(
            &quote_qualified(&rel.schema, &name.to_string_lossy()),
            &found,
        );
    }
}

/// Both relay_tenancy and Citus are installed in this database (what the Citus guards
/// and checks need before they look any further).
pub fn relay_with_citus_here() -> bool {
    citus_installed() && installed_namespace().is_some()
}

/// Citus is installed in this database.
pub fn citus_installed() -> bool {
    // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
    unsafe { pg_sys::get_extension_oid(c"citus".as_ptr(), true) != pg_sys::InvalidOid }
}
