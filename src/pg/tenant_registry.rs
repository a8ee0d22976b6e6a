//! The application's own tenant table (`relay_use_tenant_registry`): which table and
//! columns, read once per backend from `relay_tenant_registry` and forgotten when that
//! row or the table changes; and whether a tenant exists and is active there, by a
//! direct probe of the id column's unique index (no SQL, no privilege on the table,
//! no operator of the caller's).

use crate::model::registry::Registry;
use crate::model::tenant_type::{parse_uuid, TenantType};
use crate::pg::ext::{cached_relid, ext_relation};
use crate::pg::index_probe::{attribute, probe_by};
use crate::pg::privilege::as_extension_owner;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// The table tenant columns reference: the application's registry, or relay's tenants.
pub fn referenced_relid() -> pg_sys::Oid {
    match current() {
        Some(r) => pg_sys::Oid::from(r.relid),
        None => ext_relation(c"tenants").relid,
    }
}

/// The registry as the probes use it.
#[derive(Clone)]
pub struct Loaded {
    pub registry: Registry,
    /// The id column's number in the table.
    attnum: i16,
    /// A valid single-column unique B-tree index on the id column (the primary key's
    /// first); None when there is none any more (then the probe is a query).
    index: Option<pg_sys::Oid>,
    /// The table's owner: relay's writes to it (suspend, delete) run as that role.
    pub owner: pg_sys::Oid,
}

thread_local! {
    /// None: not read yet; Some(None): relay's own `tenants` is the registry. Shared
    /// (`Rc`): relay_set_tenant and the tenant-exists trigger take it per call without
    /// copying it, and hold no borrow while they probe (a probe can process an
    /// invalidation, whose callback clears this).
    static LOADED: RefCell<Option<Option<Rc<Loaded>>>> = const { RefCell::new(None) };
}

/// The registry in use: None while relay's own `tenants` is.
pub fn current() -> Option<Registry> {
    loaded().map(|l| l.registry.clone())
}

/// The registry in use with what the probes need; cached per backend.
pub fn loaded() -> Option<Rc<Loaded>> {
    if let Some(found) = LOADED.with(|c| c.borrow().clone()) {
        return found;
    }
    let found = read().map(Rc::new);
    LOADED.with(|c| *c.borrow_mut() = Some(found.clone()));
    found
}

/// Read relay_tenant_registry (as the extension's owner: it gives nothing to others).
fn read() -> Option<Loaded> {
    let config = ext_relation(c"relay_tenant_registry");
    if config.relid == pg_sys::InvalidOid {
        // An installation from before 0.3.0 whose upgrade has not run yet.
        return None;
    }
    let sql = format!(
        "SELECT r.relid::pg_catalog.oid,
                CASE WHEN c.oid IS NULL THEN r.relid::pg_catalog.oid::pg_catalog.text OPERATOR(pg_catalog.||) ' (dropped)'
                     ELSE pg_catalog.format('%I.%I', n.nspname, c.relname) END,
                r.id_column::pg_catalog.text,
                CASE a.atttypid WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text'
                                WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'other' END,
                r.active_column::pg_catalog.text, COALESCE(a.attnum, 0::pg_catalog.int2), COALESCE(c.relowner, 0::pg_catalog.oid),
                (SELECT i.indexrelid FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
                  WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisunique AND i.indisvalid
                    AND i.indnkeyatts OPERATOR(pg_catalog.=) 1 AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
                    AND i.indpred IS NULL AND i.indexprs IS NULL
                    AND ic.relam OPERATOR(pg_catalog.=) {btree}::pg_catalog.oid
                  ORDER BY i.indisprimary DESC, i.indexrelid LIMIT 1)
           FROM {config} r
           -- a registry dropped behind relay's back (its DROP guard disabled): kept, so
           -- that no tenant exists, rather than falling back to relay's tenants
           LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
           LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
           LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                AND a.attname OPERATOR(pg_catalog.=) r.id_column AND NOT a.attisdropped",
        btree = pg_sys::BTREE_AM_OID,
        config = crate::model::quote::quote_qualified(&config.schema, "relay_tenant_registry"),
    );
    as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(&sql, Some(1), &[]).expect("tenant registry");
            if rows.is_empty() {
                return None;
            }
            let row = rows.first();
            let relid: pg_sys::Oid = row.get(1).expect("oid").expect("oid");
            Some(Loaded {
                registry: Registry {
                    relid: relid.to_u32(),
                    table: row.get(2).expect("name").expect("name"),
                    id_column: row.get(3).expect("column").expect("column"),
                    id_type: TenantType::from_key(
                        &row.get::<String>(4).expect("type").expect("type"),
                    ),
                    active_column: row.get(5).expect("active column"),
                },
                attnum: row.get(6).expect("attnum").expect("attnum"),
                owner: row.get(7).expect("owner").expect("owner"),
                index: row.get(8).expect("index"),
            })
        })
    })
}

impl Loaded {
    /// Whether tenant `id` is active (None: no such row). An id that is not a value
    /// of the id column's type names no row.
    pub fn is_active(&self, id: &str) -> Option<bool> {
        let (key, eq) = match self.registry.id_type {
            // SAFETY: a text datum in the current memory context, freed with it.
            TenantType::Text => (
                unsafe {
                    pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
                        id.as_ptr().cast(),
                        id.len() as i32,
                    ))
                },
                pg_sys::F_TEXTEQ,
            ),
            TenantType::Uuid => (
                pgrx::Uuid::from_bytes(parse_uuid(id)?).into_datum()?,
                pg_sys::F_UUID_EQ,
            ),
            TenantType::Bigint => (
                pg_sys::Datum::from(id.parse::<i64>().ok()?),
                pg_sys::F_INT8EQ,
            ),
            TenantType::Integer => (
                pg_sys::Datum::from(id.parse::<i32>().ok()?),
                pg_sys::F_INT4EQ,
            ),
            TenantType::Other => return None,
        };
        if self.attnum <= 0 {
            // The table or its id column is gone: no tenant exists.
            return None;
        }
        let active = self.registry.active_column.clone();
        let Some(index) = self.index else {
            return self.is_active_by_query(id);
        };
        probe_by(
            pg_sys::Oid::from(self.registry.relid),
            Some(index),
            self.attnum,
            key,
            eq,
            |tuple, tupdesc| match &active {
                None => true,
                // SAFETY: tuple and descriptor come from the same open relation.
                // NULL (or a column gone) counts as not active.
                Some(column) => unsafe {
                    attribute(tuple, tupdesc, column).is_some_and(|(_, d)| d.value() != 0)
                },
            },
        )
    }

    /// The same answer by a query, when the id column's unique index is gone.
    fn is_active_by_query(&self, id: &str) -> Option<bool> {
        let active = self.registry.active_column.as_deref().map_or_else(
            || "true".to_string(),
            |c| format!("COALESCE({}, false)", crate::model::quote::quote_ident(c)),
        );
        let sql = format!(
            "SELECT {active} FROM {} WHERE {}::pg_catalog.text OPERATOR(pg_catalog.=) $1 LIMIT 1",
            self.registry.table,
            crate::model::quote::quote_ident(&self.registry.id_column)
        );
        as_extension_owner(|| crate::pg::privilege::select_optional::<bool>(&sql, &[id.into()]))
    }
}

/// Forget the registry in this backend now (relay_use_tenant_registry changed it).
pub fn forget_now() {
    LOADED.with(|c| *c.borrow_mut() = None);
}

/// Forget the registry when its row (relay_tenant_registry) or its table changes:
/// called from probes' relcache callback (PostgreSQL has room for ten relcache
/// callbacks in all, shared with every other library: Citus takes several).
pub fn forget_relid(relid: pg_sys::Oid) {
    let ours = relid == pg_sys::InvalidOid
        || Some(relid) == cached_relid(c"relay_tenant_registry")
        || LOADED.with(|c| {
            c.borrow().as_ref().is_some_and(|l| {
                l.as_ref()
                    .is_some_and(|l| l.registry.relid == relid.to_u32())
            })
        });
    if ours {
        LOADED.with(|c| *c.borrow_mut() = None);
    }
}
