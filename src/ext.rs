//! Where relay's own objects live, and the privileged ways relay reads and writes them.
//!
//! A leaf module: everything may use it, it uses nothing of relay's but `quote`.
//!
//! relay's tables (`tenants`, `relay_tables`, `relay_audit_tables`) carry row level
//! security with no policy for other roles, so a role that was granted privileges on
//! them by accident (`GRANT ALL ON ALL TABLES IN SCHEMA ...`) sees and changes nothing.
//! relay itself reaches them in two ways that never parse SQL under the caller's
//! search_path while privileges are raised:
//! - direct index probes (`tenant_is_active`, `registered_now`, `is_audited`): no SQL,
//!   no identity switch, no operator lookup at all;
//! - `as_extension_owner`: SQL run as the extension's owner, with the search_path
//!   pinned to `pg_catalog, pg_temp` and SECURITY_RESTRICTED_OPERATION set, the way
//!   PostgreSQL runs maintenance commands on a user's table.

use crate::quote::quote_qualified;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;

pub use crate::names::DEFAULT_TENANT_ID;

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

/// The role that owns the extension (and its tables and functions).
pub fn extension_owner() -> pg_sys::Oid {
    extension().1
}

/// One of relay's own tables: its schema and oid.
#[derive(Clone)]
pub struct ExtRelation {
    pub schema: String,
    pub relid: pg_sys::Oid,
}

thread_local! {
    static EXT_RELATIONS: RefCell<Vec<(&'static CStr, ExtRelation)>> = const { RefCell::new(Vec::new()) };
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
            crate::errors::not_relay_table(&crate::quote::quote_qualified(
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

/// The first column of the first row of `sql`, None when there is no row (pgrx's
/// `get_one` reports an empty result as an error).
pub fn select_optional<T: pgrx::FromDatum + pgrx::IntoDatum>(
    sql: &str,
    args: &[pgrx::datum::DatumWithOid],
) -> Option<T> {
    Spi::connect_mut(|client| {
        let rows = client.update(sql, Some(1), args).expect("lookup");
        if rows.is_empty() {
            None
        } else {
            rows.first().get_one::<T>().expect("lookup value")
        }
    })
}

/// The current role bypasses row level security: a superuser or a role WITH BYPASSRLS.
pub fn role_sees_every_tenant() -> bool {
    // SAFETY: role lookups in the syscache.
    unsafe { pg_sys::superuser() || pg_sys::has_bypassrls_privilege(pg_sys::GetUserId()) }
}

/// Settings changed at a GUC nest level of their own, put back when dropped (like a
/// function's SET clause). On an error the transaction (or subtransaction) abort puts
/// them back, so the guard only acts on the normal path.
pub struct SettingsScope(i32);

impl SettingsScope {
    pub fn enter() -> SettingsScope {
        // SAFETY: opens a GUC nest level, popped on drop or by the abort.
        SettingsScope(unsafe { pg_sys::NewGUCNestLevel() })
    }

    /// Set `name` to `value` (a user-settable setting) until the scope ends.
    pub fn set(&self, name: &CStr, value: &CStr) {
        // SAFETY: a plain GUC assignment in a transaction; errors are PostgreSQL errors.
        unsafe {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
    }
}

impl Drop for SettingsScope {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: pops the nest level `enter` opened, restoring the settings.
        unsafe { pg_sys::AtEOXact_GUC(true, self.0) };
    }
}

/// Restores the user and security context saved by `as_role` (then its pinned
/// search_path goes with `settings`). On an error the abort restores both.
/// (Fields drop in order: the user and context first, then the settings.)
struct RoleSwitch {
    _context: ContextRestore,
    _settings: SettingsScope,
}

/// Run `f` as `role` with `extra` security-context flags, SECURITY_RESTRICTED_OPERATION
/// and the search_path pinned to `pg_catalog, pg_temp` (what PostgreSQL does around
/// index builds and other maintenance run on behalf of a table's owner).
pub fn as_role<R>(role: pg_sys::Oid, extra: u32, f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: saves the current user and context and switches; RoleSwitch switches back.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            role,
            context
                | (pg_sys::SECURITY_LOCAL_USERID_CHANGE
                    | pg_sys::SECURITY_RESTRICTED_OPERATION
                    | extra) as i32,
        );
    }
    let settings = SettingsScope::enter();
    settings.set(c"search_path", PINNED_SEARCH_PATH);
    let guard = RoleSwitch {
        _context: ContextRestore { user, context },
        _settings: settings,
    };
    let result = f();
    drop(guard);
    result
}

/// Run `f` as the current user with row level security not forced on tables the user
/// owns (SECURITY_NOFORCE_RLS, as PostgreSQL's own foreign-key checks run). relay's
/// steps run this way: a foreign key's validation and relay's checks must see every
/// tenant's rows. Under FORCE ROW LEVEL SECURITY a non-superuser owner with no tenant
/// set would see none, making a validation fail on rows that are there, or pass on
/// rows it never saw. The owner may read every row of its tables anyway (README
/// "Security model"); other roles are unaffected.
pub fn without_forced_rls<R>(f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: saves the current user and context and adds one flag; the guard puts the
    // context back (an error's abort restores it too).
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(user, context | pg_sys::SECURITY_NOFORCE_RLS as i32);
    }
    let guard = ContextRestore { user, context };
    let result = f();
    drop(guard);
    result
}

/// Puts back the user and security context saved before a switch.
struct ContextRestore {
    user: pg_sys::Oid,
    context: i32,
}

impl Drop for ContextRestore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: restores what was saved before the switch.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
    }
}

/// Run `f` as the extension's owner: for relay's registry, which application and
/// migration roles have no privilege on.
pub fn as_extension_owner<R>(f: impl FnOnce() -> R) -> R {
    as_role(extension_owner(), 0, f)
}

/// Look a row up by its primary key without SQL: an index scan on the table's
/// primary key index, under the snapshot an SPI query would use. Returns `read(tuple, tupdesc)`
/// for the first visible match. `eq_proc` is the equality function of the key type.
fn probe<R>(
    relid: pg_sys::Oid,
    key: pg_sys::Datum,
    eq_proc: u32,
    read: impl FnOnce(pg_sys::HeapTuple, pg_sys::TupleDesc) -> R,
) -> Option<R> {
    if relid == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: the relation is opened and locked (ACCESS SHARE, as a SELECT would) for
    // the scan; the scan key uses the index's own collation, so the B-tree descent
    // compares the way the index is ordered; everything is closed before returning.
    unsafe {
        let rel = pg_sys::table_open(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let index = crate::pg_compat::primary_key_index(rel);
        if index == pg_sys::InvalidOid {
            pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            return None;
        }
        let index_rel = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let collation = *(*index_rel).rd_indcollation;
        pg_sys::index_close(index_rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let mut scankey: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyEntryInitialize(
            &mut scankey,
            0,
            1,
            pg_sys::BTEqualStrategyNumber as u16,
            pg_sys::InvalidOid,
            collation,
            pg_sys::Oid::from(eq_proc),
            key,
        );
        // The snapshot an SPI query would take now: a fresh one under READ COMMITTED
        // (so a call that waited on relay's advisory lock sees what the call before it
        // committed), the transaction's under REPEATABLE READ and SERIALIZABLE.
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot());
        let scan = pg_sys::systable_beginscan(rel, index, true, snapshot, 1, &mut scankey);
        let tuple = pg_sys::systable_getnext(scan);
        let result = (!tuple.is_null()).then(|| read(tuple, (*rel).rd_att));
        pg_sys::systable_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        result
    }
}

/// Whether tenant `id` is active; None when there is no such tenant. A direct probe
/// of tenants' primary key: no SQL is parsed, so no operator, function or cast of the
/// caller's can be involved, and no privilege on tenants is needed.
pub fn tenant_is_active(id: &str) -> Option<bool> {
    let tenants = ext_relation(c"tenants");
    let Some(rows) = tenants_placement(&tenants).rows else {
        // A reference table with no copy on this node: read it through Citus.
        let sql = format!(
            "SELECT is_active FROM {} WHERE id OPERATOR(pg_catalog.=) $1",
            crate::quote::quote_qualified(&tenants.schema, "tenants")
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

/// Column `name` of `tuple`: None when the column is NULL or there is no such column
/// (a renamed column: `heap_getattr` must never be called with attribute number 0).
///
/// # Safety
/// `tuple` and `tupdesc` belong together.
pub unsafe fn attribute(
    tuple: pg_sys::HeapTuple,
    tupdesc: pg_sys::TupleDesc,
    name: &str,
) -> Option<(i32, pg_sys::Datum)> {
    unsafe {
        let attnum = attnum_of(tupdesc, name);
        if attnum <= 0 {
            return None;
        }
        let mut isnull = false;
        let datum = pg_sys::heap_getattr(tuple, attnum, tupdesc, &mut isnull);
        (!isnull).then_some((attnum, datum))
    }
}

/// The 1-based number of column `name` in `tupdesc` (0 when there is none).
pub unsafe fn attnum_of(tupdesc: pg_sys::TupleDesc, name: &str) -> i32 {
    unsafe {
        for i in 0..(*tupdesc).natts as usize {
            let att = crate::pg_compat::tuple_desc_attr(tupdesc, i);
            if !(*att).attisdropped
                && CStr::from_ptr((*att).attname.data.as_ptr()).to_bytes() == name.as_bytes()
            {
                return i as i32 + 1;
            }
        }
        0
    }
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
    let tenants = EXT_RELATIONS.with(|c| {
        c.borrow()
            .iter()
            .find(|(n, _)| *n == c"tenants")
            .map(|(_, r)| r.relid)
    });
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
    EXT_RELATIONS.with(|c| {
        c.borrow_mut()
            .retain(|(_, r)| relid != pg_sys::InvalidOid && r.relid != relid)
    });
}

/// Any schema changed (renamed, dropped): relay's tables are looked up again.
#[pg_guard]
unsafe extern "C-unwind" fn forget_locations(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    EXT_RELATIONS.with(|c| c.borrow_mut().clear());
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

/// Called from `_PG_init`.
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
                    None => crate::names::TENANT_COLUMN.to_string(),
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
pub fn tenant_exists(id: &str) -> bool {
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
        crate::errors::foreign_trigger_on_relay_table(
            &quote_qualified(&rel.schema, &name.to_string_lossy()),
            &found,
        );
    }
}

/// A setting changed until dropped, at a GUC nest level of its own (an error's abort
/// rolls it back too), like a function's SET clause.
pub struct ScopedSetting(i32);

impl ScopedSetting {
    /// Settings at one nest level of their own, restored together.
    pub fn set_all(settings: &[(&CStr, &CStr)]) -> ScopedSetting {
        // SAFETY: plain GUC calls in a transaction.
        unsafe {
            let level = pg_sys::NewGUCNestLevel();
            for (name, value) in settings {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_SUSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
            ScopedSetting(level)
        }
    }
}

/// What relay runs Citus DDL under: its TRUNCATE guards are triggers, which Citus
/// creates on shards only with unsafe triggers on; foreign keys to reference tables
/// need one connection per node for the whole transaction.
pub fn citus_ddl_settings() -> ScopedSetting {
    ScopedSetting::set_all(&[
        (c"citus.enable_unsafe_triggers", c"on"),
        (c"citus.multi_shard_modify_mode", c"sequential"),
    ])
}

impl Drop for ScopedSetting {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: pops the nest level `set` entered.
        unsafe { pg_sys::AtEOXact_GUC(true, self.0) };
    }
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

/// A custom setting's value, None when unset or `''`.
pub fn current_setting(name: &std::ffi::CStr) -> Option<String> {
    // SAFETY: GetConfigOption returns NULL or a pointer to the GUC's current value,
    // valid until the setting next changes; we copy it at once.
    let value = unsafe { pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if value.is_null() {
        return None;
    }
    let value = unsafe { std::ffi::CStr::from_ptr(value) }
        .to_string_lossy()
        .into_owned();
    (!value.is_empty()).then_some(value)
}
