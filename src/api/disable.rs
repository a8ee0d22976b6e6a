//! relay_disable_tenancy and its dry run: look (the registry's history and the table
//! now), plan (`undo::plan_undo`, pure), apply, deregister. A partitioned table goes
//! with its partitions: they are disabled first, deepest first.

use crate::model::quote::quote_qualified;
use crate::pg::ext::extension_schema;
use crate::pg::probes;
use crate::pg::regclass::RegClass;
use crate::{api::enable, apply, catalog, model::errors, plan::undo};
use pgrx::pg_sys;
use pgrx::prelude::*;

struct Prepared {
    ext_schema: String,
    state: catalog::TableState,
    undo: undo::UndoPlan,
    /// Its indexes as they were before relay (a partitioned table's with the names of
    /// the partitions' indexes attached to them).
    original_indexes: Vec<catalog::IndexInfo>,
    /// The tenant column the registry records.
    tenant_column: String,
}

/// `with_parent`: the call is disabling the partition's parent too.
fn prepare(function: &str, oid: pg_sys::Oid, drop_column: bool, with_parent: bool) -> Prepared {
    let ext_schema = extension_schema();
    enable::lock_table_calls(oid);
    let tenant_column = catalog::registry_lists(oid).map(|(_, _, c)| c);
    let mut state = catalog::read(
        oid,
        &ext_schema,
        tenant_column
            .as_deref()
            .unwrap_or(crate::plan::TENANT_COLUMN),
    );
    state.parent_registered = state
        .parent_oid
        .is_some_and(|p| probes::registered_now(pg_sys::Oid::from(p)));
    let table = quote_qualified(&state.schema, &state.name);
    let (Some(tenant_column), Some((original, own_steps, all_steps))) =
        (tenant_column, catalog::registry_history(oid))
    else {
        errors::not_tenant_enabled(
            function,
            &table,
            &quote_qualified(&ext_schema, "relay_tables"),
        )
    };
    if !with_parent && state.parent_registered {
        errors::partition_follows_parent(
            function,
            &table,
            state.parent.as_deref().unwrap_or_default(),
        );
    }
    refuse_orphaned_foreign_keys(&table, &state, &original, &tenant_column);
    let input = undo::UndoInput {
        original: &original,
        now: &state,
        own_steps: &own_steps,
        all_steps: &all_steps,
        tenant_column: &tenant_column,
        drop_column,
    };
    let undo = undo::plan_undo(&input).unwrap_or_else(|e| {
        crate::plan::refusals::plan_error_doing(&table, e, "disable tenancy on")
    });
    let original_indexes = original.indexes.clone();
    Prepared {
        ext_schema,
        state,
        undo,
        original_indexes,
        tenant_column,
    }
}

/// Dropping the tenant column of a table that holds more than one tenant's rows
/// makes them one table's rows, readable together: said in the plan and the call's
/// lines, and as a WARNING when it runs. The rows are counted as the extension's owner
/// (row level security would show the caller one tenant), by a scan of the column.
fn tenants_merged_note(p: &Prepared) -> Option<String> {
    if !p
        .undo
        .steps
        .iter()
        .any(|s| s.kind == crate::plan::StepKind::DropColumn)
    {
        return None;
    }
    let table = quote_qualified(&p.state.schema, &p.state.name);
    let column = crate::model::quote::quote_ident(&p.tenant_column);
    let (tenants, rows) = crate::pg::privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let row = client
                .select(
                    &format!(
                        "SELECT pg_catalog.count(DISTINCT t.{column}), pg_catalog.count(t.{column})
                           FROM {table} t"
                    ),
                    None,
                    &[],
                )
                .expect("count tenants")
                .first();
            (
                row.get::<i64>(1).ok().flatten().unwrap_or(0),
                row.get::<i64>(2).ok().flatten().unwrap_or(0),
            )
        })
    });
    (tenants > 1).then(|| {
        format!(
            "warning: dropping {column} leaves the {rows} rows of {tenants} tenants in {table} without a tenant: they become one table's rows, readable together. Delete or move the other tenants' rows first (relay_delete_tenant), or keep the column (drop_column => false)"
        )
    })
}

thread_local! {
    /// The tables a schema disable takes back in this call, parents first: a key into
    /// one of them goes back with it, before this table's turn.
    static DISABLED_TOGETHER: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Run `f` with `tables` disabled together (relay_disable_tenancy_schema): their
/// children's keys into them are not refused for the parent being still enabled now.
pub fn disabling_together<R>(tables: &[u32], f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DISABLED_TOGETHER.with(|t| t.borrow_mut().clear());
        }
    }
    DISABLED_TOGETHER.with(|t| *t.borrow_mut() = tables.to_vec());
    let _reset = Reset;
    f()
}

/// Foreign keys of this table that would go back to a key the parent no longer has:
/// relay made the parent's key per tenant (the parent is still enabled), so
/// `REFERENCES parent (cols)` finds no unique key (42830 halfway through). Refused
/// before anything changes, naming the parent to disable first.
fn refuse_orphaned_foreign_keys(
    table: &str,
    now: &catalog::TableState,
    original: &catalog::TableState,
    tenant_column: &str,
) {
    let together = DISABLED_TOGETHER.with(|t| t.borrow().clone());
    for fk in now.foreign_keys.iter().filter(|fk| {
        fk.outgoing
            && fk.has_tenant
            && fk.other_registered
            && fk.parent_oid != now.oid
            && !together.contains(&fk.parent_oid)
    }) {
        let Some(was) = original.foreign_keys.iter().find(|o| {
            o.outgoing && o.name == fk.name && !o.parent_columns.iter().any(|c| c == tenant_column)
        }) else {
            continue;
        };
        let has_key = crate::pg::privilege::select_optional::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                             WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisunique AND i.indisvalid
                               AND i.indpred IS NULL AND i.indexprs IS NULL
                               AND i.indnkeyatts OPERATOR(pg_catalog.=) pg_catalog.cardinality($2::pg_catalog.text[])
                               AND (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname)
                                      FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                                      JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                                                                    AND a.attnum OPERATOR(pg_catalog.=) k.attnum
                                     WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts)
                                   OPERATOR(pg_catalog.=)
                                   (SELECT pg_catalog.array_agg(c ORDER BY c) FROM pg_catalog.unnest($2::pg_catalog.text[]) c))",
            &[pg_sys::Oid::from(fk.parent_oid).into(), was.parent_columns.clone().into()],
        )
        .unwrap_or(false);
        if !has_key {
            errors::foreign_key_target_per_tenant(
                table,
                &fk.name,
                &quote_qualified(&fk.parent_schema, &fk.parent_name),
                &was.parent_columns,
                tenant_column,
            );
        }
    }
}

/// The table and its tenant-enabled partitions at every level, deepest first, the
/// table last.
pub fn with_partitions(oid: pg_sys::Oid) -> Vec<(pg_sys::Oid, bool)> {
    let mut tables: Vec<(pg_sys::Oid, bool)> = Spi::connect(|client| {
        client
            .select(
                "SELECT t.relid FROM pg_catalog.pg_partition_tree($1) t
                  WHERE t.level OPERATOR(pg_catalog.>) 0
                  ORDER BY t.level DESC, t.relid::pg_catalog.regclass::pg_catalog.text",
                None,
                &[oid.into()],
            )
            .expect("partition tree")
            .filter_map(|r| r.get::<pg_sys::Oid>(1).ok().flatten())
            .filter(|p| probes::registered_now(*p))
            .map(|p| (p, true))
            .collect()
    });
    tables.push((oid, false));
    tables
}

pub fn table_arg(
    function: &str,
    tbl: Option<RegClass>,
    drop_column: Option<bool>,
) -> (pg_sys::Oid, bool) {
    let tbl = tbl
        .unwrap_or_else(|| errors::null_argument(function, "tbl"))
        .require(function);
    let drop_column = drop_column.unwrap_or_else(|| errors::null_argument(function, "drop_column"));
    // Citus refuses most of the undo on a distributed table (a unique key without the
    // distribution column, changes to that column): back to a local table first.
    if crate::pg::probes::is_citus_table(tbl.0) {
        errors::undo_on_citus_table(function, &tbl.display());
    }
    (tbl.0, drop_column)
}

/// Undo relay_enable_tenancy: the table as it was before relay first touched it
/// (policies, row level security flags, unique keys, foreign keys, indexes, default),
/// and the tenant column dropped when asked and relay added it. A partitioned table's
/// partitions go back first. Returns one line per action taken.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_tenancy(
    tbl: Option<RegClass>,
    drop_column: default!(Option<bool>, "false"),
) -> SetOfIterator<'static, String> {
    let (oid, drop_column) = table_arg("relay_disable_tenancy", tbl, drop_column);
    let tables = with_partitions(oid);
    lock_everything(&tables, drop_column);
    SetOfIterator::new(disable_locked(&tables, drop_column))
}

/// The undo of `tables` (a table and its partitions, from `with_partitions`), their
/// locks held (`lock_everything`): one line per action.
pub fn disable_locked(tables: &[(pg_sys::Oid, bool)], drop_column: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut renames = Vec::new();
    for (table, is_partition) in tables.iter().copied() {
        // A partition's column belongs to its parent: it goes with the parent's.
        let p = prepare(
            "relay_disable_tenancy",
            table,
            drop_column && !is_partition,
            is_partition,
        );
        let mut done = p.undo.notes.clone();
        if let Some(note) = tenants_merged_note(&p) {
            pgrx::warning!("{}", note.trim_start_matches("warning: "));
            done.push(note);
        }
        done.extend(apply::apply(&p.state, &p.undo.steps, ""));
        if !is_partition {
            renames.push((p.state.schema.clone(), p.original_indexes.clone()));
        }
        done.push(apply::deregister(&p.ext_schema, &p.state));
        crate::audit::admin::record(
            crate::pg::ext::DEFAULT_TENANT_ID,
            "relay.tenancy_disabled",
            "table",
            &quote_qualified(&p.state.schema, &p.state.name),
            serde_json::json!({ "drop_column": drop_column && !is_partition, "actions": done.clone() }),
        );
        lines.extend(done);
    }
    // The parent's keys rebuilt their partitions' indexes under new names.
    for (schema, indexes) in renames {
        lines.extend(rename_partition_indexes(&schema, &indexes));
    }
    lines
}

/// The partitions' indexes a partitioned table's restored key rebuilt under names of
/// PostgreSQL's choosing (`events_2024_id_at_idx`) get the names they had back
/// (`was`: the table's indexes before relay, in `schema`, with what was attached).
fn rename_partition_indexes(schema: &str, was: &[catalog::IndexInfo]) -> Vec<String> {
    let mut lines = Vec::new();
    for index in was {
        let parent = quote_qualified(schema, &index.name);
        for attached in &index.attached {
            let now = crate::pg::privilege::select_optional::<String>(
                "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_inherits h
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) h.inhrelid
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                   JOIN pg_catalog.pg_index i ON i.indexrelid OPERATOR(pg_catalog.=) c.oid
                  WHERE h.inhparent OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
                    AND i.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($2)
                    AND c.relname OPERATOR(pg_catalog.<>) $3
                    AND NOT EXISTS (SELECT FROM pg_catalog.pg_class x WHERE x.relnamespace OPERATOR(pg_catalog.=) c.relnamespace
                                       AND x.relname OPERATOR(pg_catalog.=) $3)",
                &[
                    parent.as_str().into(),
                    attached.table.as_str().into(),
                    attached.name.as_str().into(),
                ],
            );
            if let Some(now) = now {
                Spi::run(&format!(
                    "ALTER INDEX {now} RENAME TO {}",
                    crate::model::quote::quote_ident(&attached.name)
                ))
                .expect("rename partition index");
                lines.push(format!(
                    "renamed index {now} back to {} [ACCESS EXCLUSIVE]",
                    crate::model::quote::quote_ident(&attached.name)
                ));
            }
        }
    }
    lines
}

/// The dry run of the undo of `tables`: (notes, steps).
pub fn plan_undo(
    function: &str,
    tables: &[(pg_sys::Oid, bool)],
    drop_column: bool,
) -> (Vec<String>, Vec<crate::plan::Step>) {
    let mut notes = Vec::new();
    let mut steps = Vec::new();
    for (table, is_partition) in tables.iter().copied() {
        let p = prepare(function, table, drop_column && !is_partition, is_partition);
        notes.extend(tenants_merged_note(&p));
        notes.extend(p.undo.notes);
        steps.extend(p.undo.steps);
    }
    (notes, steps)
}

/// Every lock the undo of `tables` needs, taken before its first step at the strongest
/// mode any step needs (locks.rs): no lock upgrade (SHARE ROW EXCLUSIVE for the checks,
/// then ACCESS EXCLUSIVE), no wait while holding a lock. The plans are made again under
/// the locks before they run.
pub fn lock_everything(tables: &[(pg_sys::Oid, bool)], drop_column: bool) {
    crate::apply::locks::take_all("relay_disable_tenancy", || {
        let mut wanted: Vec<(u32, crate::plan::Lock)> = Vec::new();
        for (table, is_partition) in tables {
            let p = prepare(
                "relay_disable_tenancy",
                *table,
                drop_column && !is_partition,
                *is_partition,
            );
            for (oid, lock) in crate::apply::locks::for_plan(&p.state, &p.undo.steps) {
                crate::apply::locks::want_in(&mut wanted, oid, lock);
            }
        }
        wanted.sort_by_key(|(oid, _)| *oid);
        wanted
    });
}

/// The dry run of relay_disable_tenancy: its steps (a partitioned table's partitions'
/// first) with the lock each takes and its SQL. Notes (what is kept on purpose) come
/// as step 0. Changes nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_tenancy_plan(
    tbl: Option<RegClass>,
    drop_column: default!(Option<bool>, "false"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let (oid, drop_column) = table_arg("relay_disable_tenancy_plan", tbl, drop_column);
    let (notes, steps) = plan_undo(
        "relay_disable_tenancy_plan",
        &with_partitions(oid),
        drop_column,
    );
    TableIterator::new(enable::plan_rows(notes, steps))
}
