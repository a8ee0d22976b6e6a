//! The append-only guard: a native trigger that refuses UPDATE and DELETE row by row
//! and TRUNCATE per statement. Attached `ENABLE ALWAYS`, so it also fires under
//! `session_replication_role = replica`. On relay's own audit_logs, DELETE is let
//! through for relay_audit_purge and its replay on a subscriber (audit/purge.rs).

use crate::model::errors;
use crate::model::quote::quote_qualified;
use pgrx::prelude::*;
use pgrx::{PgTriggerLevel, PgTriggerOperation, PgTriggerWhen};

#[pg_trigger(sql = "
CREATE FUNCTION relay_append_only_guard() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_append_only_guard_entry';
")]
fn append_only_guard<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let table = quote_qualified(&trigger.table_schema()?, &trigger.table_name()?);
    let name = trigger.name()?.to_string();
    let op = trigger.op()?;
    let fired = (trigger.when()?, trigger.level());
    let own_log = trigger.relation()?.oid() == crate::pg::ext::ext_relation(c"audit_logs").relid;
    match (op, fired) {
        (PgTriggerOperation::Update, (PgTriggerWhen::Before, PgTriggerLevel::Row)) => {
            errors::append_only(&table, "UPDATE", own_log)
        }
        (PgTriggerOperation::Delete, (PgTriggerWhen::Before, PgTriggerLevel::Row)) => {
            // relay_audit_purge on relay's own log, here or replayed on a subscriber.
            if own_log && (crate::audit::purge::purging() || crate::audit::purge::replica_mode()) {
                return Ok(trigger.old());
            }
            errors::append_only(&table, "DELETE", own_log)
        }
        (PgTriggerOperation::Truncate, (PgTriggerWhen::Before, PgTriggerLevel::Statement)) => {
            errors::append_only(&table, "TRUNCATE", own_log)
        }
        _ => errors::trigger_misuse(
            "relay_append_only_guard",
            &name,
            &table,
            "BEFORE UPDATE OR DELETE FOR EACH ROW, or BEFORE TRUNCATE FOR EACH STATEMENT",
        ),
    }
}

trigger_entry!(
    relay_append_only_guard_entry,
    pg_finfo_relay_append_only_guard_entry,
    append_only_guard_wrapper,
    "relay_append_only_guard"
);
