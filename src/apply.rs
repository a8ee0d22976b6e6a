//! Apply: run a plan through SPI in the caller's transaction and record it.
//!
//! Any error aborts the caller's transaction, so either every step lands, together
//! with its registry entry, or nothing does.

use crate::catalog::TableState;
use crate::plan::{Step, StepKind};
use crate::quote::quote_qualified;
use pgrx::prelude::*;

/// Run the steps in order; return one log line per step.
pub fn apply(steps: &[Step], default_tenant: &str) -> Vec<String> {
    Spi::connect_mut(|client| {
        steps
            .iter()
            .map(|step| {
                pgrx::debug1!("relay_tenancy: {}", step.sql);
                match step.kind {
                    StepKind::Backfill => {
                        let args = [default_tenant.into()];
                        let done = client.update(step.sql.as_str(), None, &args).expect("backfill");
                        step.report_line(Some(done.len()))
                    }
                    // PostgreSQL NOTICEs that ADD CONSTRAINT ... USING INDEX renames the
                    // index; our own line says so already. Quiet for this statement only.
                    StepKind::SwapUniqueConstraint => {
                        let min_messages = client
                            .select("SELECT pg_catalog.current_setting('client_min_messages')", None, &[])
                            .and_then(|rows| rows.first().get_one::<String>())
                            .expect("read client_min_messages")
                            .unwrap_or_else(|| "notice".into());
                        client
                            .update(
                                "SELECT pg_catalog.set_config('client_min_messages', 'warning', true)",
                                None,
                                &[],
                            )
                            .and_then(|_| client.update(step.sql.as_str(), None, &[]))
                            .expect("plan step");
                        client
                            .update(
                                "SELECT pg_catalog.set_config('client_min_messages', $1, true)",
                                None,
                                &[min_messages.as_str().into()],
                            )
                            .expect("restore client_min_messages");
                        step.report_line(None)
                    }
                    _ => {
                        client.update(step.sql.as_str(), None, &[]).expect("plan step");
                        step.report_line(None)
                    }
                }
            })
            .collect()
    })
}

/// Record the call in relay_tables: the state before and the steps, appended to the
/// table's history so every change can be reported and undone exactly.
pub fn register(
    ext_schema: &str,
    state: &TableState,
    steps: &[Step],
    default_tenant: &str,
    global_unique: &[String],
) -> String {
    let registry = quote_qualified(ext_schema, "relay_tables");
    let sql = format!(
        "INSERT INTO {registry} AS r (relid, default_tenant, global_unique, history)
         VALUES ($1::pg_catalog.oid::pg_catalog.regclass, $2, $3,
                 pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                   'at', pg_catalog.now(), 'by', CURRENT_USER,
                   'before', $4::pg_catalog.jsonb, 'steps', $5::pg_catalog.jsonb)))
         ON CONFLICT (relid) DO UPDATE
            SET history = r.history || EXCLUDED.history, updated_at = pg_catalog.now()"
    );
    let before = serde_json::to_string(state).expect("state serializes");
    let steps_json = serde_json::to_string(steps).expect("steps serialize");
    let args = [
        state.oid_datum().into(),
        default_tenant.into(),
        global_unique.to_vec().into(),
        before.into(),
        steps_json.into(),
    ];
    Spi::run_with_args(&sql, &args).expect("registry insert");
    format!("registered {} in {registry}", quote_qualified(&state.schema, &state.name))
}
