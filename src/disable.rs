//! relay_disable_tenancy and its dry run: look (the registry's history and the table
//! now), plan (`undo::plan_undo`, pure), apply, deregister.

use crate::ext::extension_schema;
use crate::quote::quote_qualified;
use crate::regclass::RegClass;
use crate::{api, apply, catalog, errors, undo};
use pgrx::prelude::*;

struct Prepared {
    ext_schema: String,
    state: catalog::TableState,
    undo: undo::UndoPlan,
}

fn prepare(function: &str, tbl: Option<RegClass>, drop_column: Option<bool>) -> Prepared {
    let tbl = tbl.unwrap_or_else(|| errors::null_argument(function, "tbl")).require(function);
    let drop_column = drop_column.unwrap_or_else(|| errors::null_argument(function, "drop_column"));
    let ext_schema = extension_schema();
    api::lock_table_calls(tbl.0);
    let tenant_column = catalog::registry_lists(tbl.0).map(|(_, _, c)| c);
    let state = catalog::read(tbl.0, &ext_schema, tenant_column.as_deref().unwrap_or(crate::plan::TENANT_COLUMN));
    let table = quote_qualified(&state.schema, &state.name);
    let (Some(tenant_column), Some((original, own_steps, all_steps))) = (tenant_column, catalog::registry_history(tbl.0)) else {
        errors::not_tenant_enabled(function, &table, &quote_qualified(&ext_schema, "relay_tables"))
    };
    let input = undo::UndoInput {
        original: &original,
        now: &state,
        own_steps: &own_steps,
        all_steps: &all_steps,
        tenant_column: &tenant_column,
        drop_column,
    };
    let undo = undo::plan_undo(&input).unwrap_or_else(|e| errors::plan_error_doing(&table, e, "disable tenancy on"));
    Prepared { ext_schema, state, undo }
}

/// Undo relay_enable_tenancy: the table as it was before relay first touched it
/// (policies, row level security flags, unique keys, foreign keys, indexes, default),
/// and the tenant column dropped when asked and relay added it. Returns one line per
/// action taken.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_tenancy(tbl: Option<RegClass>, drop_column: default!(Option<bool>, "false")) -> SetOfIterator<'static, String> {
    let p = prepare("relay_disable_tenancy", tbl, drop_column);
    let mut lines = p.undo.notes.clone();
    lines.extend(apply::apply(&p.state, &p.undo.steps, ""));
    lines.push(apply::deregister(&p.ext_schema, &p.state));
    SetOfIterator::new(lines)
}

/// The dry run of relay_disable_tenancy: its steps with the lock each takes and its
/// SQL. Notes (what is kept on purpose) come as step 0. Changes nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_tenancy_plan(
    tbl: Option<RegClass>,
    drop_column: default!(Option<bool>, "false"),
) -> TableIterator<'static, (name!(step, i32), name!(lock, String), name!(action, String), name!(statement, String))> {
    let p = prepare("relay_disable_tenancy_plan", tbl, drop_column);
    TableIterator::new(api::plan_rows(p.undo.notes, p.undo.steps))
}
