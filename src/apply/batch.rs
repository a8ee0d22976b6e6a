//! Consecutive catalog-only `ALTER TABLE` steps on the table, run as one statement.
//!
//! Why: an online run holds ACCESS EXCLUSIVE through all its steps, and each
//! statement costs more than its catalog change: parsing, relay's event triggers
//! (ddl_command_end), and the table's relcache entry rebuilt before the next one.
//! Adding the tenant column, its default, the foreign key NOT VALID and switching row
//! level security on and FORCE is five statements; as one `ALTER TABLE` with five
//! subcommands it is about 1 ms less of the application waiting (bench/online_bench.sh).
//!
//! What merges: steps of the kinds below, run as the caller (not privileged), that read
//! no rows (`progress::reads_rows`: a foreign key added NOT VALID, not one validated),
//! whose statement is `ALTER TABLE <the table> ...` exactly (not `ONLY`). PostgreSQL runs
//! the subcommands of one ALTER TABLE in passes (columns, then constraints, then
//! defaults, then the rest), the order these kinds come in a plan anyway. Nothing
//! merges on a Citus-distributed table (Citus refuses some subcommands together). The
//! plan, its dry run and the registry keep one step per change; only the execution is
//! grouped, and an error in the statement aborts the call as any step's would.

use super::progress;
use crate::plan::{Step, StepKind};
use std::ops::Range;

/// Steps run together: `sql` when more than one merged into one statement.
#[derive(Debug, PartialEq)]
pub struct Batch {
    pub steps: Range<usize>,
    pub sql: Option<String>,
}

/// Whether `step` may run within one ALTER TABLE of `prefix` (`ALTER TABLE <table> `).
fn mergeable(step: &Step, prefix: &str) -> bool {
    !step.privileged
        && !step.standalone
        && matches!(
            step.kind,
            StepKind::AddColumn
                | StepKind::SetDefault
                | StepKind::AddForeignKey
                | StepKind::AddNotNullCheck
                | StepKind::EnableRls
                | StepKind::ForceRls
        )
        && !progress::reads_rows(step)
        && step.sql.starts_with(prefix)
        && !step.sql.contains(';')
}

/// The steps of a call on `table` (quoted, qualified), in order, grouped: each run of
/// two or more mergeable steps as one statement (when `merge`), every other step on
/// its own. Pure.
pub fn batches(table: &str, steps: &[Step], merge: bool) -> Vec<Batch> {
    let prefix = format!("ALTER TABLE {table} ");
    let mut out: Vec<Batch> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let mut end = i + 1;
        if merge && mergeable(&steps[i], &prefix) {
            while end < steps.len() && mergeable(&steps[end], &prefix) {
                end += 1;
            }
        }
        let sql = (end - i > 1).then(|| {
            let subcommands: Vec<&str> = steps[i..end]
                .iter()
                .map(|s| &s.sql[prefix.len()..])
                .collect();
            format!("{prefix}{}", subcommands.join(", "))
        });
        out.push(Batch { steps: i..end, sql });
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Lock;

    fn step(kind: StepKind, sql: &str) -> Step {
        Step::new(kind, Lock::AccessExclusive, String::new(), sql.to_string())
    }

    #[test]
    fn an_online_first_run_is_one_alter_table_then_the_rest() {
        let t = "public.big";
        let steps = vec![
            step(StepKind::AddColumn, "ALTER TABLE public.big ADD COLUMN tenant_id text NOT NULL DEFAULT 'd'"),
            step(StepKind::SetDefault, "ALTER TABLE public.big ALTER COLUMN tenant_id SET DEFAULT relay.relay_insert_tenant('public.big')"),
            step(StepKind::AddForeignKey, "ALTER TABLE public.big ADD CONSTRAINT big_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES relay.tenants(id) NOT VALID"),
            step(StepKind::EnableRls, "ALTER TABLE public.big ENABLE ROW LEVEL SECURITY"),
            step(StepKind::ForceRls, "ALTER TABLE public.big FORCE ROW LEVEL SECURITY"),
            step(StepKind::CreatePolicy, "CREATE POLICY tenant_isolation ON public.big AS RESTRICTIVE USING (true)"),
            step(StepKind::EnableTriggerAlways, "ALTER TABLE public.big ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard"),
        ];
        let got = batches(t, &steps, true);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].steps, 0..5);
        assert_eq!(
            got[0].sql.as_deref(),
            Some("ALTER TABLE public.big ADD COLUMN tenant_id text NOT NULL DEFAULT 'd', ALTER COLUMN tenant_id SET DEFAULT relay.relay_insert_tenant('public.big'), ADD CONSTRAINT big_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES relay.tenants(id) NOT VALID, ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
        );
        assert_eq!(
            got[1],
            Batch {
                steps: 5..6,
                sql: None
            }
        );
        // (not a kind that merges: on its own)
        assert_eq!(
            got[2],
            Batch {
                steps: 6..7,
                sql: None
            }
        );
        // no merging asked (a distributed table): one batch per step
        assert!(batches(t, &steps, false)
            .iter()
            .all(|b| b.sql.is_none() && b.steps.len() == 1));
    }

    #[test]
    fn a_step_that_reads_rows_or_is_on_another_table_stays_alone() {
        let steps = vec![
            step(StepKind::AddColumn, "ALTER TABLE public.big ADD COLUMN tenant_id text"),
            // validated while added: reads every row
            step(StepKind::AddForeignKey, "ALTER TABLE public.big ADD CONSTRAINT f FOREIGN KEY (tenant_id) REFERENCES relay.tenants(id)"),
            step(StepKind::EnableRls, "ALTER TABLE public.big ENABLE ROW LEVEL SECURITY"),
            step(StepKind::ForceRls, "ALTER TABLE ONLY public.big FORCE ROW LEVEL SECURITY"),
            step(StepKind::EnableRls, "ALTER TABLE public.big_child ENABLE ROW LEVEL SECURITY"),
            step(StepKind::ForceRls, "ALTER TABLE public.big_child FORCE ROW LEVEL SECURITY"),
        ];
        let got = batches("public.big", &steps, true);
        assert!(got.iter().all(|b| b.sql.is_none()), "{got:?}");
        assert_eq!(got.len(), 6);
        // a name that starts like the table's is not the table
        let other = vec![
            step(
                StepKind::EnableRls,
                "ALTER TABLE public.big2 ENABLE ROW LEVEL SECURITY",
            ),
            step(
                StepKind::ForceRls,
                "ALTER TABLE public.big2 FORCE ROW LEVEL SECURITY",
            ),
        ];
        assert!(batches("public.big", &other, true)
            .iter()
            .all(|b| b.sql.is_none()));
    }
}
