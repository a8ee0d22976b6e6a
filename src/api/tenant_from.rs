//! `tenant_from`: a table without a tenant column (a join table, attachments,
//! versions) takes each row's tenant from the parent row a foreign key references.
//! Resolved here from the catalog and the registry into `plan::TenantFrom`; the
//! planner adds the column, fills it from the parent, and makes the key composite.

use crate::model::errors;
use crate::model::tenant_type::TenantType;
use crate::pg::probes;
use crate::plan::TenantFrom;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The foreign key named `fk` on `table`: parent oid, parent name (quoted), the key's
/// columns in the table and the parent, and whether any of its columns is nullable.
struct Key {
    parent_oid: pg_sys::Oid,
    parent: String,
    columns: Vec<String>,
    parent_columns: Vec<String>,
    nullable: bool,
}

fn key(table: pg_sys::Oid, fk: &str) -> Option<Key> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT con.confrelid,
                        pg_catalog.format('%I.%I', pn.nspname, pc.relname),
                        ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) con.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n ORDER BY k.i),
                        ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, i)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) con.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n ORDER BY k.i),
                        EXISTS (SELECT FROM pg_catalog.unnest(con.conkey) k(n)
                                  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) con.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                                 WHERE NOT a.attnotnull)
                   FROM pg_catalog.pg_constraint con
                   JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) con.confrelid
                   JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace
                  WHERE con.conrelid OPERATOR(pg_catalog.=) $1 AND con.contype OPERATOR(pg_catalog.=) 'f'
                    AND con.conname OPERATOR(pg_catalog.=) $2",
                Some(1),
                &[table.into(), fk.into()],
            )
            .expect("foreign key lookup");
        if rows.is_empty() {
            return None;
        }
        let row = rows.first();
        Some(Key {
            parent_oid: row.get(1).expect("parent").expect("parent"),
            parent: row.get(2).expect("name").expect("name"),
            columns: row.get(3).expect("columns").expect("columns"),
            parent_columns: row.get(4).expect("columns").expect("columns"),
            nullable: row.get(5).expect("nullable").expect("nullable"),
        })
    })
}

/// The names of `table`'s foreign keys, for the error that lists them.
fn foreign_key_names(table: pg_sys::Oid) -> Vec<String> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT conname::pg_catalog.text FROM pg_catalog.pg_constraint
                  WHERE conrelid OPERATOR(pg_catalog.=) $1 AND contype OPERATOR(pg_catalog.=) 'f' ORDER BY 1",
                None,
                &[table.into()],
            )
            .expect("foreign keys")
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    })
}

/// The type of column `column` of `relid` as relay keys tenants (None: no such column).
pub fn column_type(relid: pg_sys::Oid, column: &str) -> Option<TenantType> {
    crate::pg::privilege::select_optional::<String>(
        "SELECT CASE a.atttypid WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text'
                                WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'other' END
           FROM pg_catalog.pg_attribute a
          WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2
            AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped",
        &[relid.into(), column.into()],
    )
    .map(|k| TenantType::from_key(&k))
}

/// What the planner needs for `tenant_from => fk` on `table`, and the tenant column
/// (the parent's). `asked` is the tenant_column argument; `enabled_earlier` the tables a
/// schema dry run plans before this one (their tenant column will be `asked`, or
/// tenant_id, of the registry's type). Refuses, before anything changes: an unknown
/// key (42704), a parent that is not tenant-enabled (55000), a tenant_column other
/// than the parent's (22023), a table that has the column already (42701; but for a
/// re-run, `resuming`: the online path's later runs fill the column relay added).
pub fn resolve(
    function: &str,
    table_oid: pg_sys::Oid,
    table: &str,
    fk: &str,
    asked: Option<&str>,
    enabled_earlier: &[u32],
    resuming: bool,
) -> (TenantFrom, bool) {
    let Some(key) = key(table_oid, fk) else {
        errors::tenant_from_unknown_key(function, table, fk, &foreign_key_names(table_oid));
    };
    let parent_column = if probes::registered_now(key.parent_oid) {
        crate::catalog::registry_lists(key.parent_oid).map(|(_, _, c)| c)
    } else if enabled_earlier.contains(&key.parent_oid.to_u32()) {
        Some(asked.unwrap_or(crate::plan::TENANT_COLUMN).to_string())
    } else {
        None
    };
    let Some(parent_column) = parent_column else {
        errors::tenant_from_parent_not_enabled(function, table, fk, &key.parent);
    };
    if let Some(asked) = asked.filter(|a| *a != parent_column) {
        errors::tenant_from_column_mismatch(table, asked, &parent_column, &key.parent);
    }
    if !resuming && column_type(table_oid, &parent_column).is_some() {
        errors::tenant_from_column_exists(table, &parent_column);
    }
    let parent_type = column_type(key.parent_oid, &parent_column).unwrap_or_else(|| {
        crate::pg::tenant_registry::current().map_or(TenantType::Text, |r| r.id_type)
    });
    let from = TenantFrom {
        fk: fk.to_string(),
        parent: key.parent,
        parent_oid: key.parent_oid.to_u32(),
        parent_column,
        parent_type,
        columns: key.columns,
        parent_columns: key.parent_columns,
        orphans: key.nullable,
    };
    (from, key.nullable)
}

/// The table's other foreign keys to tenant-enabled tables, read for a tenant column
/// that does not exist yet: their parents' column is of the derived type (the catalog
/// query compared it with text).
pub fn mark_parents_with_tenant(
    state: &mut crate::catalog::TableState,
    column: &str,
    column_type: TenantType,
) {
    for fk in state
        .foreign_keys
        .iter_mut()
        .filter(|fk| fk.outgoing && fk.other_registered)
    {
        let parent = pg_sys::Oid::from(fk.parent_oid);
        if self::column_type(parent, column) == Some(column_type) {
            fk.other_has_tenant = true;
        }
    }
}
