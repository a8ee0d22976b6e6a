//! Online conversion of big tables: the steps of `plan::plan`, rearranged so that
//! ACCESS EXCLUSIVE is only ever taken for catalog changes. Pure.
//!
//! - Index builds become `CREATE [UNIQUE] INDEX CONCURRENTLY` (reads and writes go on).
//! - Foreign keys are added `NOT VALID` (a catalog change) and checked by `VALIDATE
//!   CONSTRAINT` (SHARE UPDATE EXCLUSIVE: reads and writes go on).
//! - A nullable tenant column gets `CHECK (col IS NOT NULL) NOT VALID`, validated, and
//!   then SET NOT NULL, which a valid check lets PostgreSQL do without a scan.
//! - The catalog changes run in short runs through `relay_enable_tenancy(..., online
//!   => true)`, which applies the next run of them with a short lock_timeout; the first
//!   run puts row level security, relay's policies and the TRUNCATE guard in place and
//!   registers the table, so it is isolated from then on.
//!
//! PostgreSQL refuses CONCURRENTLY inside a transaction block or a function, so the
//! long steps are statements of their own (`standalone`), run one by one by the
//! caller (psql's `\gexec`, or a migration tool's non-transactional migration).
//! Every plan is computed from the table as it is, so running the plan again after a
//! failure (a lock timeout, an INVALID index left by a failed concurrent build)
//! resumes where it stopped.

use crate::catalog::TableState;
use crate::model::quote::{quote_ident, quote_qualified};
use crate::plan::{not_null_check_name, validate_step, Lock, Options, PlanError, Step, StepKind};

/// `CREATE [UNIQUE] INDEX name ...` as `CREATE [UNIQUE] INDEX CONCURRENTLY name ...`.
fn concurrently(sql: &str) -> String {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = sql.strip_prefix(prefix) {
            return format!("{prefix}CONCURRENTLY {rest}");
        }
    }
    sql.to_string()
}

/// The online plan for `state`, from the offline `steps` computed for it.
/// The plan for `state`: `plan::plan`'s steps, rearranged for the online path when
/// `opts.online` (the entry point of both; `plan` itself knows nothing of the online
/// path).
pub fn plan_for(state: &TableState, opts: &Options) -> Result<Vec<Step>, PlanError> {
    let steps = crate::plan::plan(state, opts)?;
    if opts.online {
        plan_online(state, opts, steps)
    } else {
        Ok(steps)
    }
}

pub fn plan_online(
    state: &TableState,
    opts: &Options,
    steps: Vec<Step>,
) -> Result<Vec<Step>, PlanError> {
    if state.relkind == crate::model::kinds::RelKind::Partitioned {
        return Err(PlanError::OnlinePartitioned);
    }
    let table = quote_qualified(&state.schema, &state.name);
    let tcol = quote_ident(opts.tenant_column);
    let check = not_null_check_name(opts.tenant_column);
    // (tenant_from: the column is added nullable, then filled)
    // (shared rows: the column stays nullable)
    let nullable = !opts.shared_rows
        && (state.tenant_column.as_ref().is_some_and(|c| !c.not_null)
            || (state.tenant_column.is_none() && opts.tenant_from.is_some()));
    let check_exists = state.names_taken.contains(&check);
    let check_valid = check_exists && !state.not_valid.contains(&check);

    let mut first = Vec::new(); // standalone, before everything
    let mut run1 = Vec::new(); // catalog: isolation, registration
    let mut builds = Vec::new(); // standalone, concurrent
    let mut backfill = Vec::new(); // relay, ROW EXCLUSIVE
    let mut check_validation = Vec::new(); // standalone
    let mut run2 = Vec::new(); // catalog: NOT NULL, key swaps
    let mut validations = Vec::new(); // standalone

    for step in steps {
        match step.kind {
            StepKind::LockTable | StepKind::SetNotNull => {}
            StepKind::DropInvalidIndex => first.push(
                Step::new(
                    step.kind,
                    Lock::ShareUpdateExclusive,
                    step.action,
                    step.sql.replacen(
                        "DROP INDEX IF EXISTS ",
                        "DROP INDEX CONCURRENTLY IF EXISTS ",
                        1,
                    ),
                )
                .standalone(),
            ),
            StepKind::BackfillFromParent => {
                if !check_valid {
                    backfill.push(step);
                }
            }
            StepKind::Backfill => {
                // No NULL can be left once the check is valid.
                if !check_valid {
                    backfill.push(step);
                }
            }
            StepKind::CreateTenantIndex
            | StepKind::BuildTenantUnique
            | StepKind::BuildParentTenantKey => {
                let sql = concurrently(&step.sql);
                builds.push(
                    Step::new(step.kind, Lock::ShareUpdateExclusive, step.action, sql).standalone(),
                );
            }
            StepKind::AddForeignKey
            | StepKind::AddCompositeForeignKey
            | StepKind::SwapForeignKey => {
                let (on, name) = step
                    .adds_foreign_key
                    .clone()
                    .expect("foreign key steps name their key");
                let deferred = step.kind == StepKind::AddForeignKey;
                let mut not_valid = step;
                not_valid.sql.push_str(" NOT VALID");
                not_valid.action = format!(
                    "{} (NOT VALID: validated below)",
                    not_valid
                        .action
                        .replace(" (validating scan)", "")
                        .replace(" (validating scan; ACCESS EXCLUSIVE on both tables)", "")
                );
                if deferred {
                    run1.push(not_valid)
                } else {
                    run2.push(not_valid)
                }
                validations.push(validate_step(&on, &name).standalone());
            }
            StepKind::SwapUniqueConstraint
            | StepKind::DropForeignKey
            | StepKind::DropUniqueIndex
            | StepKind::RenameIndex
            | StepKind::SwapExclusionConstraint => run2.push(step),
            StepKind::ValidateConstraint
                if step
                    .sql
                    .ends_with(&format!("VALIDATE CONSTRAINT {}", quote_ident(&check))) =>
            {
                check_validation.push(step.standalone())
            }
            StepKind::ValidateConstraint => validations.push(step.standalone()),
            _ => run1.push(step),
        }
    }

    // NOT NULL without a scan under ACCESS EXCLUSIVE.
    if nullable {
        let runs = (&mut run1, &mut check_validation, &mut run2);
        not_null_by_check(&table, &tcol, &check, check_exists, runs);
    }

    let mut online = first;
    online.extend(run1);
    online.extend(builds);
    online.extend(backfill);
    online.extend(check_validation);
    online.extend(run2);
    online.extend(validations);
    Ok(online)
}

/// A nullable tenant column made NOT NULL without a scan under ACCESS EXCLUSIVE: a
/// CHECK added NOT VALID in the first run (after the column, when tenant_from adds
/// it there), validated on its own, then SET NOT NULL and the check dropped. `runs`:
/// the first run, the check's validation, the second run.
fn not_null_by_check(
    table: &str,
    tcol: &str,
    check: &str,
    check_exists: bool,
    runs: (&mut Vec<Step>, &mut Vec<Step>, &mut Vec<Step>),
) {
    let (run1, check_validation, run2) = runs;
    if !check_exists {
        // (after the column, when tenant_from adds it in this run)
        let at = run1
            .iter()
            .position(|s| s.kind == StepKind::AddColumn)
            .map_or(0, |i| i + 1);
        run1.insert(
            at,
            Step::new(
                StepKind::AddNotNullCheck,
                Lock::AccessExclusive,
                format!("added CHECK ({tcol} IS NOT NULL) NOT VALID to {table}: new rows must name a tenant (catalog only)"),
                format!("ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({tcol} IS NOT NULL) NOT VALID", quote_ident(check)),
            ),
        );
        check_validation.push(validate_step(table, check).standalone());
    }
    run2.insert(
        0,
        Step::new(
            StepKind::SetNotNull,
            Lock::AccessExclusive,
            format!("set {tcol} NOT NULL on {table} (catalog only: the valid check proves it)"),
            format!("ALTER TABLE {table} ALTER COLUMN {tcol} SET NOT NULL"),
        ),
    );
    run2.insert(
        1,
        Step::new(
            StepKind::DropNotNullCheck,
            Lock::AccessExclusive,
            format!(
                "dropped the check {}, replaced by NOT NULL",
                quote_ident(check)
            ),
            format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(check)),
        ),
    );
}

/// The leading run of steps `relay_enable_tenancy(..., online => true)` applies now:
/// the catalog steps up to the next standalone statement.
pub fn next_run(steps: &[Step]) -> &[Step] {
    let end = steps
        .iter()
        .position(|s| s.standalone)
        .unwrap_or(steps.len());
    &steps[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{kinds, opts, table, text_column, unique_constraint};

    fn online<'a>(o: &Options<'a>) -> Options<'a> {
        Options { online: true, ..*o }
    }

    #[test]
    fn tenant_from_adds_the_column_and_its_check_first_and_fills_it_in_a_later_run() {
        let (state, from) = crate::plan::tests::join_table();
        let o = Options {
            tenant_from: Some(&from),
            ..opts(&[])
        };
        let steps = plan_for(&state, &online(&o)).unwrap();
        let first = next_run(&steps);
        let pos = |kind| first.iter().position(|s: &Step| s.kind == kind).unwrap();
        assert!(pos(StepKind::AddColumn) < pos(StepKind::AddNotNullCheck));
        assert!(!first.iter().any(|s| s.kind == StepKind::BackfillFromParent));
        assert!(kinds(&steps).contains(&StepKind::BackfillFromParent));
    }

    #[test]
    fn a_fresh_table_is_isolated_by_the_first_run_and_built_concurrently() {
        let mut state = table("big");
        state
            .indexes
            .push(unique_constraint("big", "big_email_key", "email"));
        let o = opts(&[]);
        let steps = plan_for(&state, &online(&o)).unwrap();
        let first = next_run(&steps);
        assert!(first
            .iter()
            .all(|s| s.lock == Lock::AccessExclusive || s.lock <= Lock::ShareRowExclusive));
        assert!(first.iter().any(|s| s.kind == StepKind::ForceRls));
        assert!(first.iter().any(|s| s.kind == StepKind::AddColumn));
        let fk = first
            .iter()
            .find(|s| s.kind == StepKind::AddForeignKey)
            .unwrap();
        assert!(fk.sql.ends_with(" NOT VALID"), "{}", fk.sql);
        let build = steps
            .iter()
            .find(|s| s.kind == StepKind::BuildTenantUnique)
            .unwrap();
        assert!(
            build.standalone
                && build
                    .sql
                    .starts_with("CREATE UNIQUE INDEX CONCURRENTLY big_email_key_relay_tmp")
        );
        // every ACCESS EXCLUSIVE step is a catalog change run through relay
        assert!(steps
            .iter()
            .filter(|s| s.lock == Lock::AccessExclusive)
            .all(|s| !s.standalone));
        assert_eq!(steps.last().unwrap().kind, StepKind::ValidateConstraint);
    }

    #[test]
    fn after_the_builds_the_swap_uses_the_built_index() {
        let mut state = table("big");
        state
            .indexes
            .push(unique_constraint("big", "big_email_key", "email"));
        state.tenant_column = Some(text_column(
            true,
            Some("relay_insert_tenant('big'::regclass)"),
            true,
        ));
        let mut built = unique_constraint("big", "big_email_key_relay_tmp", "email");
        built.constraint = None;
        built.key_columns.insert(0, Some("tenant_id".into()));
        built.has_tenant_key = true;
        built.leads_with_tenant = true;
        state.indexes.push(built);
        let o = opts(&[]);
        let steps = plan_for(&state, &online(&o)).unwrap();
        assert!(!kinds(&steps).contains(&StepKind::BuildTenantUnique));
        let swap = steps
            .iter()
            .find(|s| s.kind == StepKind::SwapUniqueConstraint)
            .unwrap();
        assert!(
            swap.sql
                .ends_with("UNIQUE USING INDEX big_email_key_relay_tmp"),
            "{}",
            swap.sql
        );
    }

    #[test]
    fn a_nullable_column_gets_not_null_through_a_validated_check() {
        let mut state = table("half");
        state.tenant_column = Some(text_column(false, None, false));
        let o = opts(&[]);
        let steps = plan_for(&state, &online(&o)).unwrap();
        let order: Vec<StepKind> = kinds(&steps);
        let at = |k: StepKind| order.iter().position(|x| *x == k).unwrap();
        assert!(at(StepKind::AddNotNullCheck) < at(StepKind::Backfill));
        assert!(at(StepKind::Backfill) < at(StepKind::ValidateConstraint));
        assert!(at(StepKind::ValidateConstraint) < at(StepKind::SetNotNull));
        assert!(at(StepKind::SetNotNull) < at(StepKind::DropNotNullCheck));
        // once the check is valid, no backfill and no scan: SET NOT NULL and the drop
        state.names_taken.push(not_null_check_name("tenant_id"));
        let steps = plan_for(&state, &online(&o)).unwrap();
        assert!(!kinds(&steps).contains(&StepKind::Backfill));
        assert_eq!(next_run(&steps)[0].kind, StepKind::SetDefault);
    }

    #[test]
    fn partitioned_tables_are_refused() {
        let mut state = table("p");
        state.relkind = crate::model::kinds::RelKind::Partitioned;
        let o = opts(&[]);
        assert_eq!(
            plan_for(&state, &online(&o)).unwrap_err(),
            PlanError::OnlinePartitioned
        );
    }
}
