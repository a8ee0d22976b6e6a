//! `relay_disable_tenancy_schema` and its dry run: every tenant-enabled table of a
//! schema back to what it was, in one transaction. Parents first: a parent's undo
//! restores the foreign keys into it (in either direction), so a child's key never
//! has to go back to a key its parent still has only per tenant (which refuses,
//! 2BP01). Every lock of every table is taken before the first change, as the schema
//! call does.

use crate::api::disable::{
    disable_locked, disabling_together, lock_everything, plan_undo, table_arg, with_partitions,
};
use crate::api::schema::{referencing_first, Treatment};
use crate::model::errors;
use crate::model::quote::quote_qualified;
use crate::pg::regclass::RegClass;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The schema's tenant-enabled tables (not partitions: they go with their parent), in
/// the order to disable them: every table before the tables that reference it.
fn tables_in_order(function: &str, schema: &str) -> Vec<(pg_sys::Oid, String)> {
    let exists = crate::pg::privilege::select_optional::<bool>(
        "SELECT true FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1",
        &[schema.into()],
    );
    if exists.is_none() {
        errors::undefined_schema(function, schema);
    }
    let registry = quote_qualified(&crate::pg::ext::extension_schema(), "relay_tables");
    let tables: Vec<(u32, String)> = crate::pg::privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT c.oid, c.relname::pg_catalog.text FROM {registry} r
                           JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
                           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                          WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND NOT c.relispartition
                          ORDER BY c.relname"
                    ),
                    None,
                    &[schema.into()],
                )
                .expect("enabled tables")
                .map(|row| {
                    (
                        row.get::<pg_sys::Oid>(1).unwrap().unwrap().to_u32(),
                        row.get::<String>(2).unwrap().unwrap(),
                    )
                })
                .collect()
        })
    });
    let oids: Vec<pg_sys::Oid> = tables.iter().map(|(o, _)| pg_sys::Oid::from(*o)).collect();
    let pairs: Vec<(u32, u32)> = Spi::connect(|client| {
        client
            .select(
                "SELECT conrelid, confrelid FROM pg_catalog.pg_constraint
                  WHERE contype OPERATOR(pg_catalog.=) 'f' AND conparentid OPERATOR(pg_catalog.=) 0
                    AND conrelid OPERATOR(pg_catalog.=) ANY ($1) AND confrelid OPERATOR(pg_catalog.=) ANY ($1)",
                None,
                &[oids.into()],
            )
            .expect("foreign keys")
            .map(|row| {
                (
                    row.get::<pg_sys::Oid>(1).unwrap().unwrap().to_u32(),
                    row.get::<pg_sys::Oid>(2).unwrap().unwrap().to_u32(),
                )
            })
            .collect()
    });
    let plan = tables
        .into_iter()
        .map(|(o, n)| (o, n, Treatment::Enable))
        .collect();
    // referencing_first puts children first; disabling wants the reverse.
    let mut order = referencing_first(plan, &pairs);
    order.reverse();
    order
        .into_iter()
        .map(|(o, n, _)| {
            let oid = pg_sys::Oid::from(o);
            table_arg(function, Some(RegClass(oid)), Some(false));
            (oid, quote_qualified(schema, &n))
        })
        .collect()
}

/// Undo relay_enable_tenancy on every tenant-enabled table of `schema` (parents
/// first), with the tenant columns relay added dropped when `drop_column`. One line per
/// action per table.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_tenancy_schema(
    schema: default!(Option<String>, "'public'"),
    drop_column: default!(Option<bool>, "false"),
) -> TableIterator<'static, (name!(table_name, String), name!(action, String))> {
    const FUNCTION: &str = "relay_disable_tenancy_schema";
    let schema = schema.unwrap_or_else(|| errors::null_argument(FUNCTION, "schema"));
    let drop_column = drop_column.unwrap_or_else(|| errors::null_argument(FUNCTION, "drop_column"));
    let tables = tables_in_order(FUNCTION, &schema);
    if tables.is_empty() {
        super::schema_options::forget(&schema);
        return TableIterator::new(vec![(
            crate::model::quote::quote_ident(&schema),
            "no tenant-enabled tables: nothing to do".to_string(),
        )]);
    }
    let all: Vec<(pg_sys::Oid, bool)> = tables
        .iter()
        .flat_map(|(oid, _)| with_partitions(*oid))
        .collect();
    let together: Vec<u32> = tables.iter().map(|(o, _)| o.to_u32()).collect();
    let lines = disabling_together(&together, || {
        lock_everything(&all, drop_column);
        let mut lines = Vec::new();
        for (oid, name) in &tables {
            for line in disable_locked(&with_partitions(*oid), drop_column) {
                lines.push((name.clone(), line));
            }
        }
        lines
    });
    // The schema is no longer converted: its recorded options go (relay.auto_enable).
    super::schema_options::forget(&schema);
    TableIterator::new(lines)
}

/// The dry run of relay_disable_tenancy_schema: each table's steps in the call's
/// order. A key between two tables is restored by the first of them (the parent):
/// the same statement is not shown again for the second. Changes nothing.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn relay_disable_tenancy_schema_plan(
    schema: default!(Option<String>, "'public'"),
    drop_column: default!(Option<bool>, "false"),
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    const FUNCTION: &str = "relay_disable_tenancy_schema_plan";
    let schema = schema.unwrap_or_else(|| errors::null_argument(FUNCTION, "schema"));
    let drop_column = drop_column.unwrap_or_else(|| errors::null_argument(FUNCTION, "drop_column"));
    let mut seen: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let tables = tables_in_order(FUNCTION, &schema);
    let together: Vec<u32> = tables.iter().map(|(o, _)| o.to_u32()).collect();
    for (oid, name) in tables {
        let (notes, steps) = disabling_together(&together, || {
            plan_undo(FUNCTION, &with_partitions(oid), drop_column)
        });
        let steps: Vec<crate::plan::Step> = steps
            .into_iter()
            .filter(|s| !seen.contains(&s.sql))
            .collect();
        seen.extend(steps.iter().map(|s| s.sql.clone()));
        for (step, lock, action, sql) in super::enable::plan_rows(notes, steps) {
            rows.push((name.clone(), step, lock, action, sql));
        }
    }
    TableIterator::new(rows)
}
