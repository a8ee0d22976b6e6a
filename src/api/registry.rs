//! `relay_use_tenant_registry`: the application's own tenant table (organizations,
//! accounts) instead of relay's `tenants`. Chosen before the first table is
//! tenant-enabled (or after the last is disabled): the tenant columns' foreign keys
//! point at the registry, so it cannot change under them.

use crate::model::errors;
use crate::model::quote::quote_qualified;
use crate::model::tenant_type::TenantType;
use crate::pg::ext::{self, extension_schema};
use crate::pg::privilege::{as_extension_owner, select_optional};
use crate::pg::regclass::RegClass;
use crate::pg::{probes, tenant_registry};
use pgrx::prelude::*;

/// Advisory lock key ('rlrg') that orders a registry change against enable calls:
/// exclusive here, shared in every enable (api::enable::lock_registry).
pub const REGISTRY_LOCK_KEY: i64 = 0x726c_7267;

/// What the catalog says about the table and columns asked for.
struct Candidate {
    name: String,
    relkind: String,
    persistence: String,
    extension: bool,
    id_type: Option<String>,
    id_type_name: Option<String>,
    id_unique: bool,
    active_type: Option<String>,
}

fn candidate(tbl: RegClass, id_column: &str, active_column: Option<&str>) -> Candidate {
    let sql = "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), c.relkind::pg_catalog.text,
                      c.relpersistence::pg_catalog.text,
                      EXISTS (SELECT FROM pg_catalog.pg_depend d
                               WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                 AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'),
                      CASE a.atttypid WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text'
                                      WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                      WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                      WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'other' END,
                      pg_catalog.format_type(a.atttypid, a.atttypmod),
                      EXISTS (SELECT FROM pg_catalog.pg_index i
                               WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisunique AND i.indisvalid
                                 AND i.indimmediate AND i.indnkeyatts OPERATOR(pg_catalog.=) 1
                                 AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
                                 AND i.indpred IS NULL AND i.indexprs IS NULL),
                      (SELECT pg_catalog.format_type(b.atttypid, b.atttypmod) FROM pg_catalog.pg_attribute b
                        WHERE b.attrelid OPERATOR(pg_catalog.=) c.oid AND b.attname OPERATOR(pg_catalog.=) $3
                          AND b.attnum OPERATOR(pg_catalog.>) 0 AND NOT b.attisdropped)
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                      AND a.attname OPERATOR(pg_catalog.=) $2 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                WHERE c.oid OPERATOR(pg_catalog.=) $1";
    Spi::connect(|client| {
        let rows = client
            .select(
                sql,
                Some(1),
                &[tbl.0.into(), id_column.into(), active_column.into()],
            )
            .expect("registry candidate");
        let row = rows.first();
        Candidate {
            name: row.get(1).expect("name").expect("name"),
            relkind: row.get(2).expect("relkind").expect("relkind"),
            persistence: row.get(3).expect("persistence").expect("persistence"),
            extension: row.get(4).expect("extension").expect("extension"),
            id_type: row.get(5).expect("type"),
            id_type_name: row.get(6).expect("type name"),
            id_unique: row.get::<bool>(7).expect("unique").unwrap_or(false),
            active_type: row.get(8).expect("active type"),
        }
    })
}

/// The tables tenant-enabled now (their foreign keys point at the registry in use).
fn enabled_tables(ext_schema: &str) -> Vec<String> {
    let sql = format!(
        "SELECT r.relid::pg_catalog.text FROM {} r ORDER BY 1",
        quote_qualified(ext_schema, "relay_tables")
    );
    as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(&sql, None, &[])
                .expect("relay_tables")
                .map(|row| row.get::<String>(1).expect("name").expect("name"))
                .collect()
        })
    })
}

/// Use table `tbl` (its `id_column`, and `active_column` for suspension) as the tenant
/// registry instead of relay's `tenants`; NULL goes back to `tenants`. Returns one line
/// saying what relay uses now.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_use_tenant_registry(
    tbl: Option<RegClass>,
    id_column: default!(Option<String>, "'id'"),
    active_column: default!(Option<String>, "NULL"),
) -> String {
    const FUNCTION: &str = "relay_use_tenant_registry";
    // SAFETY: role lookups in the syscache.
    let allowed =
        unsafe { pgrx::pg_sys::superuser() || pgrx::pg_sys::GetUserId() == ext::extension_owner() };
    if !allowed {
        errors::registry_needs_extension_owner(FUNCTION);
    }
    let id_column = id_column.unwrap_or_else(|| errors::null_argument(FUNCTION, "id_column"));
    let ext_schema = extension_schema();
    let tenants = ext::ext_relation(c"tenants").relid;
    // relay's own tenants named: the same as NULL.
    let tbl = tbl.filter(|t| t.0 != tenants).map(|t| t.require(FUNCTION));
    // Wait for enable calls in flight; the ones after this wait for this transaction.
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock($1)",
        &[REGISTRY_LOCK_KEY.into()],
    )
    .expect("advisory lock");
    let now = tenant_registry::current();
    let wanted = tbl.map(|t| {
        let c = candidate(t, &id_column, active_column.as_deref());
        if c.relkind != "r" || c.persistence != "p" || c.extension {
            errors::registry_wrong_kind(&c.name);
        }
        let Some(id_type) = c.id_type.as_deref().map(TenantType::from_key) else {
            errors::registry_column_missing(&c.name, &id_column, "id_column");
        };
        if !id_type.supported() {
            errors::registry_column_type(
                &c.name,
                &id_column,
                c.id_type_name.as_deref().unwrap_or("?"),
                "text, uuid, bigint or integer",
            );
        }
        if !c.id_unique {
            errors::registry_not_unique(&c.name, &id_column);
        }
        if let Some(active) = active_column.as_deref() {
            match c.active_type.as_deref() {
                None => errors::registry_column_missing(&c.name, active, "active_column"),
                Some("boolean") => {}
                Some(found) => errors::registry_column_type(&c.name, active, found, "boolean"),
            }
        }
        (t, c.name)
    });
    let same = match (&now, &wanted) {
        (None, None) => true,
        (Some(r), Some((t, _))) => {
            r.relid == t.0.to_u32() && r.id_column == id_column && r.active_column == active_column
        }
        _ => false,
    };
    let describe = |name: &str| match active_column.as_deref() {
        Some(active) => format!(
            "tenant registry: {name}, tenants by {}, suspended while {} is not true",
            crate::model::quote::quote_ident(&id_column),
            crate::model::quote::quote_ident(active)
        ),
        None => format!(
            "tenant registry: {name}, tenants by {}",
            crate::model::quote::quote_ident(&id_column)
        ),
    };
    let line = match &wanted {
        Some((_, name)) => describe(name),
        None => format!(
            "tenant registry: relay's own {}",
            quote_qualified(&ext_schema, "tenants")
        ),
    };
    if same {
        return format!("{line} (unchanged)");
    }
    if probes::tenants_in_citus() {
        errors::registry_with_citus(FUNCTION);
    }
    let enabled = enabled_tables(&ext_schema);
    if !enabled.is_empty() {
        errors::registry_tables_enabled(
            now.as_ref().map_or("tenants", |r| r.table.as_str()),
            &enabled,
        );
    }
    let config = quote_qualified(&ext_schema, "relay_tenant_registry");
    let caller = select_optional::<String>("SELECT CURRENT_USER::pg_catalog.text", &[])
        .expect("current user");
    as_extension_owner(|| {
        Spi::run(&format!("DELETE FROM {config}")).expect("registry reset");
        if let Some((t, _)) = &wanted {
            Spi::run_with_args(
                &format!("INSERT INTO {config} (relid, id_column, active_column, set_by) VALUES ($1, $2, $3, $4)"),
                &[
                    t.0.into(),
                    id_column.as_str().into(),
                    active_column.clone().into(),
                    caller.into(),
                ],
            )
            .expect("registry row");
        }
    });
    // Every backend (this one at its next command) reads the registry again.
    probes::registration_changed(ext::ext_relation(c"relay_tenant_registry").relid);
    tenant_registry::forget_now();
    line
}
