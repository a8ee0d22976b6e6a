//! Undo: the steps that take a tenant-enabled table back to what it was before relay
//! first touched it. Pure, like `plan`: no SPI, no Postgres.
//!
//! The inputs are the registry's history (the table's state before the first call, and
//! the steps relay took on this table and on every other registered one, with what
//! each replaced) and the table's state now. The plan is a diff of the two states,
//! restricted to what relay did: a key relay rewrote goes back to its recorded
//! definition, an index relay built is dropped, a user's objects created since are left
//! alone. Checks come first, then index builds (SHARE), then the catalog changes under
//! ACCESS EXCLUSIVE, so a refusal changes nothing.

use crate::catalog::{ForeignKeyInfo, IndexInfo, PolicyInfo, TableState};
use crate::model::kinds::ConKind;
use crate::model::quote::{choose_name, quote_ident, quote_qualified};
use crate::plan::{
    deferral_clause, rebuilt_unique_index_sql, Lock, PlanError, Step, StepKind, ACCESS_POLICY_NAME,
    POLICY_NAME, TENANT_EXISTS_TRIGGER, TRUNCATE_GUARD_TRIGGER,
};
use std::collections::HashSet;

/// How a global-key check's line starts; what follows names the key, for the error.
pub const SHARED_CHECK_PREFIX: &str = "checked that no two tenants share a value of ";

pub use crate::catalog::RecordedStep;

pub struct UndoInput<'a> {
    /// The table as relay first found it (`history[0].before`).
    pub original: &'a TableState,
    /// The table now.
    pub now: &'a TableState,
    /// Steps taken on this table's behalf, every call.
    pub own_steps: &'a [RecordedStep],
    /// Steps of every registered table (this one's included): a foreign key between
    /// two tenant tables, and the parent key it references, are changed by whichever
    /// end is enabled second.
    pub all_steps: &'a [RecordedStep],
    /// The tenant column the registry records.
    pub tenant_column: &'a str,
    pub drop_column: bool,
}

/// What undo will do, and what it leaves on purpose (said to the caller).
#[derive(Debug, Default)]
pub struct UndoPlan {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

/// The original definition of foreign key `fk` (single-column, as it was before relay
/// made it composite), from the state relay first found or from a recorded step.
fn original_foreign_key(input: &UndoInput, fk: &ForeignKeyInfo) -> Option<String> {
    let child = quote_qualified(&fk.child_schema, &fk.child_name);
    if let Some(found) = input
        .original
        .foreign_keys
        .iter()
        .find(|o| o.name == fk.name && o.child_oid == fk.child_oid && !o.has_tenant)
    {
        return Some(found.definition.clone());
    }
    input
        .all_steps
        .iter()
        .filter_map(|s| s.replaces.as_ref())
        .find_map(|r| {
            let same = r.get("foreign_key").and_then(|v| v.as_str()) == Some(fk.name.as_str())
                && r.get("table").and_then(|v| v.as_str()) == Some(child.as_str());
            same.then(|| {
                r.get("definition")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .flatten()
        })
}

/// Relay built this index on `table`: a recorded `CREATE [UNIQUE] INDEX [CONCURRENTLY]
/// <name> ON <table> (`.
fn built_by_relay(steps: &[RecordedStep], index: &str, table: &str) -> bool {
    let q = quote_ident(index);
    let made = [
        format!("CREATE INDEX {q} ON {table} ("),
        format!("CREATE UNIQUE INDEX {q} ON {table} ("),
        format!("CREATE INDEX CONCURRENTLY {q} ON {table} ("),
        format!("CREATE UNIQUE INDEX CONCURRENTLY {q} ON {table} ("),
    ];
    steps.iter().any(|s| {
        matches!(
            s.kind.as_str(),
            "create_tenant_index" | "build_parent_tenant_key"
        ) && made.iter().any(|m| s.sql.starts_with(m.as_str()))
    })
}

fn key_name(index: &IndexInfo) -> String {
    match &index.constraint {
        Some(c) => format!("constraint {}", quote_ident(&c.name)),
        None => format!("unique index {}", quote_ident(&index.name)),
    }
}

/// The query that finds values of a global key shared by several tenants (which the
/// restored key would refuse): value, tenants, and how many such values in all. A key
/// over expressions groups by them (`(lower(name))`); `None` only when the registry
/// recorded no expressions (before 0.3.0): the index build itself then refuses.
fn shared_values_sql(index: &IndexInfo, table: &str, tcol: &str) -> Option<String> {
    let cols: Vec<String> = index
        .key_columns
        .iter()
        .enumerate()
        .map(|(n, c)| match c {
            Some(name) => Some(quote_ident(name)),
            None => index.key_exprs.get(n).map(|e| format!("({e})")),
        })
        .collect::<Option<_>>()?;
    let mut filters: Vec<String> = Vec::new();
    if !index.definition.contains(" NULLS NOT DISTINCT") {
        filters.extend(cols.iter().map(|c| format!("{c} IS NOT NULL")));
    }
    if let Some(pred) = &index.predicate {
        filters.push(format!("({pred})"));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let list = cols.join(", ");
    Some(format!(
        "SELECT pg_catalog.count(*) OVER (), ROW({list})::pg_catalog.text,
                pg_catalog.string_agg(DISTINCT {tcol}::pg_catalog.text, ', ')
           FROM {table}{filter} GROUP BY {list} HAVING pg_catalog.count(*) > 1 ORDER BY 2 LIMIT 10"
    ))
}

/// CREATE POLICY from the `pg_policies` row relay recorded when it dropped a policy of
/// the same name.
fn recreate_policy_sql(table: &str, def: &serde_json::Value) -> Option<String> {
    let name = def.get("policyname")?.as_str()?;
    let mode = def
        .get("permissive")
        .and_then(|v| v.as_str())
        .unwrap_or("PERMISSIVE");
    let cmd = def.get("cmd").and_then(|v| v.as_str()).unwrap_or("ALL");
    let roles: Vec<String> = def
        .get("roles")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str())
                .map(|r| {
                    if r == "public" {
                        "PUBLIC".to_string()
                    } else {
                        quote_ident(r)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let roles = if roles.is_empty() {
        "PUBLIC".to_string()
    } else {
        roles.join(", ")
    };
    let mut sql = format!(
        "CREATE POLICY {} ON {table} AS {mode} FOR {cmd} TO {roles}",
        quote_ident(name)
    );
    if let Some(q) = def.get("qual").and_then(|v| v.as_str()) {
        sql.push_str(&format!(" USING ({q})"));
    }
    if let Some(c) = def.get("with_check").and_then(|v| v.as_str()) {
        sql.push_str(&format!(" WITH CHECK ({c})"));
    }
    Some(sql)
}

fn is_relay_policy(p: &PolicyInfo) -> bool {
    use crate::model::names::{SHARED_DELETE_POLICY, SHARED_UPDATE_POLICY};
    p.is_ours
        && [
            POLICY_NAME,
            ACCESS_POLICY_NAME,
            SHARED_UPDATE_POLICY,
            SHARED_DELETE_POLICY,
        ]
        .contains(&p.name.as_str())
}

/// Compute the undo of every change relay made to `input.now`.
/// Foreign keys relay made composite, with their original definitions.
type ForeignKeysBack<'a> = Vec<(&'a ForeignKeyInfo, String)>;
/// Keys relay rewrote: (as they were, as they are).
type KeysBack<'a> = Vec<(&'a IndexInfo, &'a IndexInfo)>;

/// What every section of `plan_undo` shares.
struct Undoing<'a> {
    input: &'a UndoInput<'a>,
    table: String,
    tcol: String,
    /// Relation names taken (new ones avoid them).
    taken: HashSet<String>,
    steps: Vec<Step>,
    notes: Vec<String>,
}

pub fn plan_undo(input: &UndoInput) -> Result<UndoPlan, PlanError> {
    let now = input.now;
    crate::plan::validate(now)?;
    let table = quote_qualified(&now.schema, &now.name);
    let mut taken: HashSet<String> = now.names_taken.iter().cloned().collect();
    taken.extend(now.indexes.iter().map(|i| i.name.clone()));
    let mut u = Undoing {
        input,
        table: table.clone(),
        tcol: quote_ident(input.tenant_column),
        taken,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    let (fks_back, keys_back) = keys_to_restore(&mut u)?;
    let swaps = check_and_build_steps(&mut u, &keys_back)?;
    isolation_removal_steps(&mut u)?;
    key_restore_steps(&mut u, &fks_back, &swaps)?;
    index_drop_steps(&mut u)?;
    column_restore_steps(&mut u)?;
    let mut steps = u.steps;
    let mut out = UndoPlan {
        steps: Vec::new(),
        notes: u.notes,
    };
    if steps.iter().any(|s| {
        s.lock < Lock::AccessExclusive
            && s.kind != StepKind::RenameIndex
            && s.kind != StepKind::RestoreForeignKey
    }) {
        steps.insert(
            0,
            Step::new(
                StepKind::LockTable,
                Lock::ShareRowExclusive,
                format!(
                    "locked {table} against writes (reads go on) for the checks and index builds"
                ),
                format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"),
            ),
        );
    }
    out.steps = steps;
    Ok(out)
}

/// What goes back: foreign keys relay made composite (with their original
/// definitions), and unique keys and exclusion constraints relay rewrote.
fn keys_to_restore<'a>(
    u: &mut Undoing<'a>,
) -> Result<(ForeignKeysBack<'a>, KeysBack<'a>), PlanError> {
    let input = u.input;
    let now = input.now;
    let original = input.original;
    // Foreign keys relay made composite, in either direction: back to the recorded
    // definition. A composite key relay did not make depends on the tenant column and
    // on the composite keys relay would take away: refused, naming it.
    let mut fks_back: Vec<(&ForeignKeyInfo, String)> = Vec::new();
    for fk in now.foreign_keys.iter().filter(|fk| fk.has_tenant) {
        let had = original
            .foreign_keys
            .iter()
            .any(|o| o.name == fk.name && o.child_oid == fk.child_oid && o.has_tenant);
        if had {
            continue;
        }
        match original_foreign_key(input, fk) {
            Some(def) => {
                let is_self = fk.child_oid == fk.parent_oid;
                if !is_self && !fk.other_is_owner {
                    let other = if fk.outgoing {
                        quote_qualified(&fk.parent_schema, &fk.parent_name)
                    } else {
                        quote_qualified(&fk.child_schema, &fk.child_name)
                    };
                    return Err(PlanError::ForeignKeyOtherOwner {
                        fk: fk.name.clone(),
                        other,
                        owner: fk.other_owner.clone(),
                    });
                }
                fks_back.push((fk, def));
            }
            None => {
                return Err(PlanError::ForeignKeyNotOurs {
                    fk: fk.name.clone(),
                    table: quote_qualified(&fk.child_schema, &fk.child_name),
                })
            }
        }
    }

    // Unique keys and exclusion constraints relay rewrote: the same name now carries
    // the tenant column, and did not before.
    let mut keys_back: Vec<(&IndexInfo, &IndexInfo)> = Vec::new();
    for was in original
        .indexes
        .iter()
        .filter(|i| (i.is_unique || i.constraint.is_some()) && !i.has_tenant_key)
    {
        let is = match &was.constraint {
            Some(c) => now
                .indexes
                .iter()
                .find(|i| i.constraint.as_ref().is_some_and(|k| k.name == c.name)),
            None => now
                .indexes
                .iter()
                .find(|i| i.name == was.name && i.constraint.is_none()),
        };
        if let Some(is) = is.filter(|i| i.has_tenant_key) {
            keys_back.push((was, is));
        }
    }

    Ok((fks_back, keys_back))
}

/// Steps 1 and 2: each key that goes back to global checked across tenants, and its
/// original index built beside the per-tenant one. Returns what step 3 swaps.
fn check_and_build_steps<'a>(
    u: &mut Undoing<'a>,
    keys_back: &[(&'a IndexInfo, &'a IndexInfo)],
) -> Result<Vec<(&'a IndexInfo, &'a IndexInfo, String)>, PlanError> {
    let input = u.input;
    let now = input.now;
    let table = u.table.clone();
    let tcol = u.tcol.clone();
    // 1. Checks: a key that goes back to global must hold across tenants.
    for (was, _) in keys_back.iter().filter(|(w, _)| w.is_unique) {
        if let Some(sql) = shared_values_sql(was, &table, &tcol) {
            u.steps.push(Step::new(
                StepKind::CheckGlobalUnique,
                Lock::AccessShare,
                format!(
                    "{SHARED_CHECK_PREFIX}{} ({}) of {table}",
                    key_name(was),
                    was.key_columns
                        .iter()
                        .map(|c| c.as_deref().unwrap_or("(expression)"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                sql,
            ));
        }
    }
    // 2. The original unique indexes, built beside the per-tenant ones (SHARE).
    let mut swaps: Vec<(&IndexInfo, &IndexInfo, String)> = Vec::new();
    for (was, is) in keys_back {
        // Exclusion constraints, and a partitioned table's keys (PostgreSQL cannot
        // attach a prebuilt index to them), are rebuilt by the swap itself.
        if !was.is_unique
            || (now.relkind == crate::model::kinds::RelKind::Partitioned
                && was.constraint.is_some())
        {
            swaps.push((was, is, String::new()));
            continue;
        }
        let tmp = choose_name(&was.name, "_relay_undo", &|n| u.taken.contains(n));
        u.taken.insert(tmp.clone());
        u.steps.push(Step::new(
            StepKind::BuildTenantUnique,
            Lock::Share,
            format!(
                "built unique index {} on {table} as {} was before relay",
                quote_ident(&tmp),
                key_name(was)
            ),
            rebuilt_unique_index_sql(was, &tmp, &table, None)?,
        ));
        swaps.push((was, is, tmp));
    }

    Ok(swaps)
}

/// Step 3, isolation first: relay's policies, the row level security flags it set,
/// its guards.
fn isolation_removal_steps<'a>(u: &mut Undoing<'a>) -> Result<(), PlanError> {
    let input = u.input;
    let now = input.now;
    let original = input.original;
    let table = u.table.clone();
    // 3. Catalog changes under ACCESS EXCLUSIVE. Isolation first: policies, flags, guards.
    for p in now.policies.iter().filter(|p| is_relay_policy(p)) {
        u.steps.push(Step::new(
            StepKind::DropPolicy,
            Lock::AccessExclusive,
            format!("dropped relay's policy {} on {table}", p.name),
            format!("DROP POLICY {} ON {table}", quote_ident(&p.name)),
        ));
    }
    // Each name once, as first replaced: a later record of the same name is relay's own
    // policy, altered and put back by a re-run (registries written before 0.3.0 kept
    // those too).
    let mut restored: Vec<&str> = Vec::new();
    for replaced in input
        .own_steps
        .iter()
        .filter(|s| s.kind == "drop_policy")
        .filter_map(|s| s.replaces.as_ref())
    {
        let Some(def) = replaced.get("policy") else {
            continue;
        };
        let name = def
            .get("policyname")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if restored.contains(&name) {
            continue;
        }
        restored.push(name);
        if now
            .policies
            .iter()
            .any(|p| p.name == name && !is_relay_policy(p))
        {
            continue;
        }
        if let Some(sql) = recreate_policy_sql(&table, def) {
            u.steps.push(Step::new(
                StepKind::CreatePolicy,
                Lock::AccessExclusive,
                format!(
                    "restored policy {} on {table}, which relay had replaced",
                    quote_ident(name)
                ),
                sql,
            ));
        }
    }
    if now.rls_forced && !original.rls_forced {
        u.steps.push(Step::new(
            StepKind::NoForceRls,
            Lock::AccessExclusive,
            format!("row level security on {table} no longer forced (as before)"),
            format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"),
        ));
    }
    if now.rls_enabled && !original.rls_enabled {
        u.steps.push(Step::new(
            StepKind::DisableRls,
            Lock::AccessExclusive,
            format!("disabled row level security on {table} (as before)"),
            format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
        ));
    }
    for trigger in [TRUNCATE_GUARD_TRIGGER, TENANT_EXISTS_TRIGGER] {
        if now.triggers.iter().any(|t| t.name == trigger)
            && !original.triggers.iter().any(|t| t.name == trigger)
        {
            u.steps.push(Step::new(
                StepKind::DropTrigger,
                Lock::AccessExclusive,
                format!("dropped trigger {trigger} on {table}"),
                format!("DROP TRIGGER {} ON {table}", quote_ident(trigger)),
            ));
        }
    }

    Ok(())
}

/// Composite foreign keys out, original keys back, original foreign keys in.
fn key_restore_steps<'a>(
    u: &mut Undoing<'a>,
    fks_back: &[(&'a ForeignKeyInfo, String)],
    swaps: &[(&'a IndexInfo, &'a IndexInfo, String)],
) -> Result<(), PlanError> {
    let input = u.input;
    let now = input.now;
    let table = u.table.clone();
    // Keys: composite foreign keys out, original keys back, original foreign keys in.
    for (fk, _) in fks_back {
        let child = quote_qualified(&fk.child_schema, &fk.child_name);
        u.steps.push(
            Step::new(
                StepKind::DropForeignKey,
                Lock::AccessExclusive,
                format!(
                    "dropped composite foreign key {} on {child}, to come back as it was below",
                    quote_ident(&fk.name)
                ),
                format!(
                    "ALTER TABLE {child} DROP CONSTRAINT {}",
                    quote_ident(&fk.name)
                ),
            )
            .locking(fk.child_oid, Lock::AccessExclusive)
            .locking(fk.parent_oid, Lock::AccessExclusive),
        );
    }
    for (was, is, tmp) in swaps {
        match &was.constraint {
            Some(con) if con.contype == ConKind::Exclusion || tmp.is_empty() => {
                u.steps.push(Step::new(
                    StepKind::SwapExclusionConstraint,
                    Lock::AccessExclusive,
                    format!(
                        "restored constraint {} {} (its index built here, under the lock)",
                        quote_ident(&con.name),
                        con.definition
                    ),
                    format!(
                        "ALTER TABLE {table} DROP CONSTRAINT {0}, ADD CONSTRAINT {0} {1}",
                        quote_ident(&con.name),
                        con.definition
                    ),
                ))
            }
            Some(con) => {
                let deferral = deferral_clause(con.deferrable, con.deferred);
                let kind = if con.contype == ConKind::PrimaryKey {
                    "PRIMARY KEY"
                } else {
                    "UNIQUE"
                };
                u.steps.push(Step::new(
                    StepKind::SwapUniqueConstraint,
                    Lock::AccessExclusive,
                    format!("restored constraint {} {}", quote_ident(&con.name), con.definition),
                    format!(
                        "ALTER TABLE {table} DROP CONSTRAINT {0}, ADD CONSTRAINT {0} {kind} USING INDEX {1}{deferral}",
                        quote_ident(&con.name),
                        quote_ident(tmp)
                    ),
                ));
            }
            None => {
                u.steps.push(Step::new(
                    StepKind::DropUniqueIndex,
                    Lock::AccessExclusive,
                    format!("dropped per-tenant unique index {}", quote_ident(&is.name)),
                    format!("DROP INDEX {}", quote_qualified(&now.schema, &is.name)),
                ));
                u.steps.push(Step::new(
                    StepKind::RenameIndex,
                    Lock::ShareUpdateExclusive,
                    format!(
                        "renamed {} to {}, unique across the table again",
                        quote_ident(tmp),
                        quote_ident(&was.name)
                    ),
                    format!(
                        "ALTER INDEX {} RENAME TO {}",
                        quote_qualified(&now.schema, tmp),
                        quote_ident(&was.name)
                    ),
                ));
            }
        }
    }
    for (fk, def) in fks_back {
        let child = quote_qualified(&fk.child_schema, &fk.child_name);
        u.steps.push(
            Step::new(
                StepKind::RestoreForeignKey,
                Lock::ShareRowExclusive,
                format!(
                    "restored foreign key {} on {child} {def} (validating scan)",
                    quote_ident(&fk.name)
                ),
                format!(
                    "ALTER TABLE {child} ADD CONSTRAINT {} {def}",
                    quote_ident(&fk.name)
                ),
            )
            .locking(fk.child_oid, Lock::ShareRowExclusive)
            .locking(fk.parent_oid, Lock::ShareRowExclusive),
        );
    }
    Ok(())
}

/// Indexes relay built (and INVALID leftovers of the online path) dropped.
fn index_drop_steps<'a>(u: &mut Undoing<'a>) -> Result<(), PlanError> {
    let input = u.input;
    let now = input.now;
    let original = input.original;
    let table = u.table.clone();
    // What a failed or cancelled concurrent build of the online path left: an INVALID
    // index leading with the tenant column, still maintained on every write.
    for index in crate::plan::invalid_leftovers(now) {
        u.steps.push(Step::new(
            StepKind::DropIndex,
            Lock::AccessExclusive,
            format!(
                "dropped INVALID index {} (left by a failed concurrent build)",
                quote_ident(&index.name)
            ),
            format!("DROP INDEX {}", quote_qualified(&now.schema, &index.name)),
        ));
    }
    // Indexes relay built on this table (for the tenant column, or as the parent key
    // of composite foreign keys, whichever table's call built it).
    let original_names: HashSet<&str> = original.indexes.iter().map(|i| i.name.as_str()).collect();
    for index in now.indexes.iter().filter(|i| {
        i.constraint.is_none() && !original_names.contains(i.name.as_str()) && i.is_valid
    }) {
        if built_by_relay(input.all_steps, &index.name, &table) {
            u.steps.push(Step::new(
                StepKind::DropIndex,
                Lock::AccessExclusive,
                format!("dropped index {} relay built", quote_ident(&index.name)),
                format!("DROP INDEX {}", quote_qualified(&now.schema, &index.name)),
            ));
        }
    }

    Ok(())
}

/// The column: the key to tenants, the default, NOT NULL, the column itself; the views
/// relay made security_invoker.
fn column_restore_steps<'a>(u: &mut Undoing<'a>) -> Result<(), PlanError> {
    let input = u.input;
    let now = input.now;
    let original = input.original;
    let table = u.table.clone();
    let tcol = u.tcol.clone();
    // The column: foreign key to tenants, default, NOT NULL, the column itself.
    let had_column = original.tenant_column.as_ref();
    if let Some(fk) = &now.tenant_fk {
        if original.tenant_fk.as_deref() != Some(fk.as_str()) {
            u.steps.push(Step::new(
                StepKind::DropForeignKey,
                Lock::AccessExclusive,
                format!("dropped foreign key {} to tenants", quote_ident(fk)),
                format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(fk)),
            ));
        }
    }
    let drop_column = input.drop_column && had_column.is_none() && now.tenant_column.is_some();
    if input.drop_column && had_column.is_some() {
        u.notes.push(format!(
            "kept column {tcol} of {table}: it was there before relay first ran, so it is not relay's to drop"
        ));
    }
    if now
        .tenant_column
        .as_ref()
        .is_some_and(|c| c.default_is_ours)
    {
        match had_column.and_then(|c| c.default_expr.clone()) {
            Some(expr) => u.steps.push(Step::new(
                StepKind::SetDefault,
                Lock::AccessExclusive,
                format!("restored the default of {tcol} on {table}: {expr}"),
                format!("ALTER TABLE {table} ALTER COLUMN {tcol} SET DEFAULT {expr}"),
            )),
            None if !drop_column => u.steps.push(Step::new(
                StepKind::DropDefault,
                Lock::AccessExclusive,
                format!("dropped relay's default of {tcol} on {table}"),
                format!("ALTER TABLE {table} ALTER COLUMN {tcol} DROP DEFAULT"),
            )),
            None => {}
        }
    }
    let now_not_null = now.tenant_column.as_ref().is_some_and(|c| c.not_null);
    if had_column.is_some_and(|c| !c.not_null) && now_not_null {
        u.steps.push(Step::new(
            StepKind::DropNotNull,
            Lock::AccessExclusive,
            format!("{tcol} on {table} accepts NULL again (as before)"),
            format!("ALTER TABLE {table} ALTER COLUMN {tcol} DROP NOT NULL"),
        ));
    } else if had_column.is_none() && now_not_null && !drop_column {
        // relay added the column and it stays (drop_column => false): without relay's
        // default it must accept NULL, or every insert that does not name it fails.
        u.steps.push(Step::new(
            StepKind::DropNotNull,
            Lock::AccessExclusive,
            format!("kept column {tcol} on {table} accepts NULL (its default is gone: inserts that do not name it store NULL)"),
            format!("ALTER TABLE {table} ALTER COLUMN {tcol} DROP NOT NULL"),
        ));
    }
    // Views relay made security_invoker while enabling this table.
    for step in input
        .own_steps
        .iter()
        .filter(|s| s.kind == "set_view_invoker")
    {
        let Some(view) = now.views.iter().find(|v| {
            v.security_invoker
                && step.sql
                    == format!(
                        "ALTER VIEW {} SET (security_invoker = on)",
                        quote_qualified(&v.schema, &v.name)
                    )
        }) else {
            continue;
        };
        let was_invoker = original
            .views
            .iter()
            .any(|v| v.schema == view.schema && v.name == view.name && v.security_invoker);
        if !was_invoker {
            let name = quote_qualified(&view.schema, &view.name);
            u.steps.push(Step::new(
                StepKind::SetViewInvoker,
                Lock::AccessExclusive,
                format!("view {name} reads {table} with its owner's rights again (security_invoker = off, as before)"),
                format!("ALTER VIEW {name} SET (security_invoker = off)"),
            ));
        }
    }
    if drop_column {
        u.steps.push(Step::new(
            StepKind::DropColumn,
            Lock::AccessExclusive,
            format!("dropped column {tcol} from {table} (catalog only, no rewrite)"),
            format!("ALTER TABLE {table} DROP COLUMN {tcol}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{enabled, fk, kinds, opts, table, text_column, unique_constraint};

    /// The steps relay_enable_tenancy recorded for `original`, as the registry has them.
    fn recorded(original: &TableState) -> Vec<RecordedStep> {
        let steps = crate::plan::plan(original, &opts(&[])).unwrap();
        serde_json::from_value(serde_json::to_value(&steps).unwrap()).unwrap()
    }

    /// `skills` with a unique email, and the same table after relay enabled it.
    fn before_and_after() -> (TableState, TableState) {
        let mut original = table("skills");
        original
            .indexes
            .push(unique_constraint("skills", "skills_email_key", "email"));
        let mut now = enabled(original.clone());
        let email = now
            .indexes
            .iter_mut()
            .find(|i| i.name == "skills_email_key")
            .unwrap();
        email.has_tenant_key = true;
        email.leads_with_tenant = true;
        email.key_columns.insert(0, Some("tenant_id".into()));
        (original, now)
    }

    fn undo(
        original: &TableState,
        now: &TableState,
        own: &[RecordedStep],
        drop_column: bool,
    ) -> Result<UndoPlan, PlanError> {
        plan_undo(&UndoInput {
            original,
            now,
            own_steps: own,
            all_steps: own,
            tenant_column: "tenant_id",
            drop_column,
        })
    }

    #[test]
    fn a_key_over_an_expression_is_checked_across_tenants_by_that_expression() {
        let index = IndexInfo {
            name: "skills_lower_name".into(),
            is_unique: true,
            key_columns: vec![None, Some("kind".into())],
            key_exprs: vec!["lower(name)".into(), "kind".into()],
            definition: "CREATE UNIQUE INDEX skills_lower_name ON public.skills USING btree (lower(name), kind)".into(),
            ..Default::default()
        };
        let sql = shared_values_sql(&index, "public.skills", "tenant_id").unwrap();
        assert!(sql.contains("GROUP BY (lower(name)), kind HAVING"), "{sql}");
        assert!(
            sql.contains("WHERE (lower(name)) IS NOT NULL AND kind IS NOT NULL"),
            "{sql}"
        );
        // recorded before 0.3.0: no expressions, no check (the index build refuses)
        let old = IndexInfo {
            key_exprs: Vec::new(),
            ..index
        };
        assert!(shared_values_sql(&old, "public.skills", "tenant_id").is_none());
    }

    #[test]
    fn undo_checks_and_builds_first_then_takes_back_every_change() {
        let (original, now) = before_and_after();
        let own = recorded(&original);
        let plan = undo(&original, &now, &own, false).unwrap();
        assert_eq!(
            kinds(&plan.steps),
            vec![
                StepKind::LockTable,
                StepKind::CheckGlobalUnique,
                StepKind::BuildTenantUnique,
                StepKind::DropPolicy,
                StepKind::DropPolicy,
                StepKind::NoForceRls,
                StepKind::DisableRls,
                StepKind::DropTrigger,
                StepKind::SwapUniqueConstraint,
                StepKind::DropForeignKey,
                StepKind::DropDefault,
                StepKind::DropNotNull,
            ]
        );
        // skills_tenant_id_idx was not built by relay here (the per-tenant email key
        // served the tenant column), so it stays.
        assert!(!plan
            .steps
            .iter()
            .any(|s| s.sql.contains("skills_tenant_id_idx")));
        let build = &plan.steps[2].sql;
        assert_eq!(
            build,
            "CREATE UNIQUE INDEX skills_email_key_relay_undo ON public.skills USING btree (email)"
        );
        let swap = &plan.steps[8].sql;
        assert_eq!(
            swap,
            "ALTER TABLE public.skills DROP CONSTRAINT skills_email_key, ADD CONSTRAINT skills_email_key UNIQUE USING INDEX skills_email_key_relay_undo"
        );
        assert!(plan.steps[1]
            .sql
            .contains("GROUP BY email HAVING pg_catalog.count(*) > 1"));
        assert!(plan.steps[1].sql.contains("WHERE email IS NOT NULL"));
        assert!(plan.notes.is_empty());
    }

    #[test]
    fn drop_column_drops_what_relay_added_and_keeps_what_was_there() {
        let (original, now) = before_and_after();
        let own = recorded(&original);
        let plan = undo(&original, &now, &own, true).unwrap();
        assert_eq!(
            plan.steps.last().unwrap().sql,
            "ALTER TABLE public.skills DROP COLUMN tenant_id"
        );
        assert!(!kinds(&plan.steps).contains(&StepKind::DropDefault));

        // An adopted column, nullable with a default of its own before relay.
        let mut original = table("skills");
        original.tenant_column = Some(text_column(false, Some("'x'::text"), false));
        let now = enabled(table("skills"));
        let plan = undo(&original, &now, &recorded(&original), true).unwrap();
        let ks = kinds(&plan.steps);
        assert!(ks.contains(&StepKind::DropNotNull));
        assert!(!ks.contains(&StepKind::DropColumn));
        assert!(plan
            .steps
            .iter()
            .any(|s| s.sql
                == "ALTER TABLE public.skills ALTER COLUMN tenant_id SET DEFAULT 'x'::text"));
        assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);
    }

    #[test]
    fn composite_foreign_keys_go_back_to_their_recorded_definition() {
        let (mut original, mut now) = before_and_after();
        let mut single = fk(
            "skills_author_id_fkey",
            "skills",
            &["author_id"],
            "users",
            &["id"],
        );
        single.definition = "FOREIGN KEY (author_id) REFERENCES public.users(id) MATCH FULL".into();
        original.foreign_keys.push(single.clone());
        let mut composite = single;
        composite.has_tenant = true;
        composite.columns.insert(0, "tenant_id".into());
        now.foreign_keys.push(composite);
        let plan = undo(&original, &now, &recorded(&original), false).unwrap();
        let drop = plan
            .steps
            .iter()
            .position(|s| {
                s.sql == "ALTER TABLE public.skills DROP CONSTRAINT skills_author_id_fkey"
            })
            .unwrap();
        let add = plan
            .steps
            .iter()
            .position(|s| s.sql == "ALTER TABLE public.skills ADD CONSTRAINT skills_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id) MATCH FULL")
            .unwrap();
        let swap = plan
            .steps
            .iter()
            .position(|s| s.kind == StepKind::SwapUniqueConstraint)
            .unwrap();
        assert!(drop < swap && swap < add);

        // A composite key made by someone else since: refused, naming it.
        let mut theirs = fk(
            "skills_other_fkey",
            "skills",
            &["tenant_id", "x"],
            "users",
            &["tenant_id", "id"],
        );
        theirs.has_tenant = true;
        now.foreign_keys.push(theirs);
        assert_eq!(
            undo(&original, &now, &recorded(&original), false).unwrap_err(),
            PlanError::ForeignKeyNotOurs {
                fk: "skills_other_fkey".into(),
                table: "public.skills".into()
            }
        );
    }

    #[test]
    fn indexes_relay_built_go_and_a_user_index_added_since_stays() {
        let original = table("skills");
        let mut now = enabled(original.clone());
        now.indexes.push(IndexInfo {
            name: "skills_mine_idx".into(),
            ..Default::default()
        });
        let plan = undo(&original, &now, &recorded(&original), false).unwrap();
        assert!(!plan.steps.iter().any(|s| s.sql.contains("skills_mine_idx")));
        assert!(plan
            .steps
            .iter()
            .any(|s| s.sql == "DROP INDEX public.skills_tenant_id_idx"));
    }
}
