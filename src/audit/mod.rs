//! The append-only audit log: `audit_logs` (sql/audit.sql), its native guard, and
//! row-change capture. The SQL functions here plan their trigger changes as pure
//! steps (unit-tested) and apply them with the same `apply::apply` as tenancy.

/// Give a `#[pg_trigger]` function an SQL entry point that first checks it was
/// called as a trigger. PostgreSQL lets anyone `SELECT` a C trigger function; pgrx's
/// own wrapper then fails with XX000, where the right answer is the trigger protocol
/// error (39P01). `$entry` is the C symbol the SQL function points at, `$finfo` its
/// `pg_finfo_` record, `$inner` the `<fn>_wrapper` pgrx generates.
#[macro_export]
macro_rules! trigger_entry {
    ($entry:ident, $finfo:ident, $inner:ident, $sql_name:literal) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pgrx::pg_sys::Pg_finfo_record {
            const V1: pgrx::pg_sys::Pg_finfo_record =
                pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        /// # Safety
        /// Called by PostgreSQL's function manager with a valid `fcinfo`.
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub unsafe extern "C-unwind" fn $entry(
            fcinfo: pgrx::pg_sys::FunctionCallInfo,
        ) -> pgrx::pg_sys::Datum {
            if !unsafe { pgrx::trigger_support::called_as_trigger(fcinfo) } {
                unsafe {
                    pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(
                        || -> pgrx::pg_sys::Datum {
                            $crate::model::errors::not_called_as_trigger($sql_name)
                        },
                    )
                }
            } else {
                unsafe { $inner(fcinfo) }
            }
        }
    };
}

pub mod admin;
pub mod capture;
pub mod chain;
pub mod chain_heads;
pub mod guard;
pub mod jsonb;
pub mod jsonb_datum;
pub mod purge;
pub mod row;
pub mod shape;
pub mod target;
pub mod uuid7;
pub mod writer;

use crate::catalog::{TableState, TriggerInfo};
use crate::model::quote::{quote_ident, quote_qualified};
use crate::pg::privilege;
use crate::pg::probes;
use crate::pg::regclass::RegClass;
use crate::plan::{always_trigger_steps, Lock, Step, StepKind};
use crate::{apply, catalog, context, model::errors, pg::ext};
use pgrx::prelude::*;

pub const GUARD_ROW_TRIGGER: &str = "relay_append_only_row";
pub const GUARD_TRUNCATE_TRIGGER: &str = "relay_append_only_truncate";

/// The capture triggers: name, event, transition tables.
pub const CAPTURE_TRIGGERS: [(&str, &str, &str); 4] = [
    (
        "relay_audit_insert",
        "INSERT",
        " REFERENCING NEW TABLE AS relay_new",
    ),
    (
        "relay_audit_update",
        "UPDATE",
        " REFERENCING OLD TABLE AS relay_old NEW TABLE AS relay_new",
    ),
    (
        "relay_audit_delete",
        "DELETE",
        " REFERENCING OLD TABLE AS relay_old",
    ),
    ("relay_audit_truncate", "TRUNCATE", ""),
];

/// Steps that attach the append-only guard to `table`, fired ALWAYS. Pure.
pub fn guard_steps(table: &str, ext_schema: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    let function = format!("{}.relay_append_only_guard()", quote_ident(ext_schema));
    let mut steps = always_trigger_steps(
        table,
        GUARD_ROW_TRIGGER,
        "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW",
        &function,
        existing,
    );
    steps.extend(always_trigger_steps(
        table,
        GUARD_TRUNCATE_TRIGGER,
        "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT",
        &function,
        existing,
    ));
    steps
}

/// Steps that attach the capture triggers to `table`. Pure.
pub fn capture_steps(table: &str, ext_schema: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    let function = format!("{}.relay_audit_capture()", quote_ident(ext_schema));
    CAPTURE_TRIGGERS
        .iter()
        .filter(|(name, _, _)| !existing.iter().any(|t| t.name == *name))
        .map(|(name, event, transition)| {
            // PUBLIC has no EXECUTE on relay_audit_capture
            Step::new(
                StepKind::CreateTrigger,
                Lock::ShareRowExclusive,
                format!("created trigger {name} on {table}: AFTER {event}, once per statement"),
                format!(
                    "CREATE TRIGGER {} AFTER {event} ON {table}{transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}",
                    quote_ident(name)
                ),
            )
            .privileged()
        })
        .collect()
}

/// Steps that remove the capture triggers from `table`. Pure.
pub fn uncapture_steps(table: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    CAPTURE_TRIGGERS
        .iter()
        .filter(|(name, _, _)| existing.iter().any(|t| t.name == *name))
        .map(|(name, _, _)| {
            Step::new(
                StepKind::DropTrigger,
                Lock::AccessExclusive,
                format!("dropped trigger {name} from {table}"),
                format!("DROP TRIGGER {} ON {table}", quote_ident(name)),
            )
        })
        .collect()
}

/// What a trigger-managing call does to relay_audit_tables, the list of tables whose
/// changes the capture trigger may record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AuditRegistry {
    Keep,
    Add,
    Remove,
}

/// The shared body of the three trigger-managing functions: resolve and check the
/// table, plan with `steps_for`, apply, update the audit registry, report.
fn manage_triggers(
    function: &str,
    tbl: Option<RegClass>,
    verb: &str,
    capture: bool,
    registry: AuditRegistry,
    steps_for: impl Fn(&str, &str, &[TriggerInfo]) -> Vec<Step>,
    nothing: &str,
) -> Vec<String> {
    let tbl = tbl
        .unwrap_or_else(|| errors::null_argument(function, "tbl"))
        .require(function);
    let ext_schema = ext::extension_schema();
    let state: TableState = catalog::read(tbl.0, &ext_schema, crate::plan::TENANT_COLUMN);
    let table = quote_qualified(&state.schema, &state.name);
    target::check_audit_target(&state, &table, verb, capture);
    let steps = steps_for(&table, &ext_schema, &state.triggers);
    let mut lines = if steps.is_empty() {
        Vec::new()
    } else {
        apply::apply(&state, &steps, "")
    };
    let audited = probes::audited_now(tbl.0);
    let registry_sql = match registry {
        AuditRegistry::Add if !audited => Some(format!(
            "INSERT INTO {} (relid, enabled_by) VALUES ($1::pg_catalog.oid::pg_catalog.regclass, $2)",
            quote_qualified(&ext_schema, "relay_audit_tables")
        )),
        AuditRegistry::Remove if audited => Some(format!(
            "DELETE FROM {} WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
            quote_qualified(&ext_schema, "relay_audit_tables")
        )),
        _ => None,
    };
    if let Some(sql) = registry_sql {
        // SAFETY: the name of the current user, from the syscache.
        let caller = unsafe {
            std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false))
        }
        .to_string_lossy()
        .into_owned();
        probes::refuse_foreign_triggers(c"relay_audit_tables");
        let args = [tbl.0.into(), caller.into()];
        let args = if registry == AuditRegistry::Add {
            &args[..]
        } else {
            &args[..1]
        };
        privilege::as_extension_owner(|| Spi::run_with_args(&sql, args).expect("audit registry"));
        probes::registration_changed(tbl.0);
        lines.push(match registry {
            AuditRegistry::Add => {
                format!("registered {table} for capture in relay.relay_audit_tables")
            }
            _ => format!("removed {table} from relay.relay_audit_tables"),
        });
    }
    if lines.is_empty() {
        lines.push(format!("{table} {nothing}: nothing to do"));
    }
    lines
}

/// relay_append_only on relay's own audit_logs (relay_repair re-promotes its guard).
pub fn reguard_audit_log(function: &str) -> Vec<String> {
    let audit = ext::ext_relation(c"audit_logs");
    // Nothing to re-promote: nothing to check either (a migration role that runs
    // relay_repair does not own audit_logs, and need not).
    let state: TableState = catalog::read(audit.relid, &audit.schema, crate::plan::TENANT_COLUMN);
    let table = quote_qualified(&state.schema, &state.name);
    if guard_steps(&table, &audit.schema, &state.triggers).is_empty() {
        return vec![format!("{table} is already append-only: nothing to do")];
    }
    manage_triggers(
        function,
        Some(RegClass(audit.relid)),
        "make append-only",
        false,
        AuditRegistry::Keep,
        guard_steps,
        "is already append-only",
    )
}

/// Make a table append-only: UPDATE, DELETE and TRUNCATE refused for every role,
/// also in replica mode. Returns one line per action; idempotent. Also re-promotes
/// the guard of relay's own audit_logs after someone demoted it.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_append_only(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    SetOfIterator::new(manage_triggers(
        "relay_append_only",
        tbl,
        "make append-only",
        false,
        AuditRegistry::Keep,
        guard_steps,
        "is already append-only",
    ))
}

/// Record every INSERT, UPDATE, DELETE and TRUNCATE on a table in audit_logs.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_enable_audit(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    // Capture on a Citus table would run on the workers' shards, far from audit_logs
    // and its hash chain (kept on the coordinator): refused, see README.
    if let Some(t) = tbl {
        if crate::pg::probes::is_citus_table(t.0) {
            errors::audit_on_citus_table(&t.display());
        }
    }
    SetOfIterator::new(manage_triggers(
        "relay_enable_audit",
        tbl,
        "audit",
        true,
        AuditRegistry::Add,
        capture_steps,
        "is already audited",
    ))
}

/// Stop recording changes of a table. Entries already written stay.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_audit(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    let was_audited = tbl.is_some_and(|t| probes::audited_now(t.0));
    let lines = manage_triggers(
        "relay_disable_audit",
        tbl,
        "audit",
        true,
        AuditRegistry::Remove,
        |t, _, existing| uncapture_steps(t, existing),
        "is not audited",
    );
    // Stopping capture is itself recorded, in the installation's (the default
    // tenant's) log, like enabling and disabling tenancy.
    if let (true, Some(t)) = (was_audited, tbl) {
        admin::record(
            ext::DEFAULT_TENANT_ID,
            "relay.audit_disabled",
            "table",
            &ext::relation_name(t.0),
            serde_json::json!({ "actions": lines.clone() }),
        );
    }
    SetOfIterator::new(lines)
}

/// Append one entry to audit_logs: the actor from app.current_actor_id, the tenant
/// from the session (it must be set and exist), the client address, the time.
/// Returns the entry's id. Runs as the extension's owner (SECURITY DEFINER with a
/// pinned search_path): application roles cannot INSERT into audit_logs directly,
/// so every entry's tenant, time and id come from relay.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit(
    action: Option<String>,
    resource_type: default!(Option<String>, "NULL"),
    resource_id: default!(Option<String>, "NULL"),
    metadata: default!(Option<jsonb_datum::JsonbDatum>, "NULL"),
) -> pgrx::Uuid {
    let action = action.unwrap_or_else(|| errors::null_argument("relay_audit", "action"));
    // relay's own entries (relay.audit_purged, relay.tenant_deleted, ...) are written
    // by relay alone: an application must not forge one.
    if action.starts_with("relay.") {
        errors::reserved_audit_action(&action);
    }
    let tenant = writer::checked_tenant(context::current_tenant(), || "the entry".into());
    let audit_logs = ext::ext_relation(c"audit_logs");
    if !probes::foreign_triggers(audit_logs.relid).is_empty() {
        probes::refuse_foreign_triggers(c"audit_logs");
    }
    writer::insert_one(&writer::One {
        tenant: &tenant,
        action: &action,
        resource_type: resource_type.as_deref(),
        resource_id: resource_id.as_deref(),
        metadata: metadata.map(|m| m.0),
    })
}

/// A new time-ordered UUID (RFC 9562 version 7): the default of audit_logs.id.
#[pg_extern(volatile, parallel_safe)]
fn relay_uuid7() -> pgrx::Uuid {
    pgrx::Uuid::from_bytes(uuid7::new_uuid7())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trig(name: &str, enabled: &str) -> TriggerInfo {
        TriggerInfo {
            name: name.into(),
            enabled: enabled.into(),
        }
    }

    #[test]
    fn guard_is_created_and_fired_always() {
        let steps = guard_steps("public.ledger", "relay", &[]);
        let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            vec![
                "CREATE TRIGGER relay_append_only_row BEFORE UPDATE OR DELETE ON public.ledger FOR EACH ROW EXECUTE FUNCTION relay.relay_append_only_guard()",
                "ALTER TABLE public.ledger ENABLE ALWAYS TRIGGER relay_append_only_row",
                "CREATE TRIGGER relay_append_only_truncate BEFORE TRUNCATE ON public.ledger FOR EACH STATEMENT EXECUTE FUNCTION relay.relay_append_only_guard()",
                "ALTER TABLE public.ledger ENABLE ALWAYS TRIGGER relay_append_only_truncate",
            ]
        );
    }

    #[test]
    fn guard_is_idempotent_and_repairs_a_demoted_trigger() {
        let done = [
            trig(GUARD_ROW_TRIGGER, "A"),
            trig(GUARD_TRUNCATE_TRIGGER, "A"),
        ];
        assert!(guard_steps("public.ledger", "relay", &done).is_empty());
        let demoted = [
            trig(GUARD_ROW_TRIGGER, "O"),
            trig(GUARD_TRUNCATE_TRIGGER, "A"),
        ];
        let steps = guard_steps("public.ledger", "relay", &demoted);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].kind, StepKind::EnableTriggerAlways);
    }

    #[test]
    fn capture_adds_what_is_missing_and_removes_what_is_there() {
        let steps = capture_steps("public.t", "public", &[trig("relay_audit_insert", "O")]);
        assert_eq!(steps.len(), 3);
        assert!(steps[0].sql.contains("AFTER UPDATE ON public.t REFERENCING OLD TABLE AS relay_old NEW TABLE AS relay_new FOR EACH STATEMENT"));
        let drop = uncapture_steps(
            "public.t",
            &[trig("relay_audit_insert", "O"), trig("other", "O")],
        );
        assert_eq!(drop.len(), 1);
        assert_eq!(drop[0].sql, "DROP TRIGGER relay_audit_insert ON public.t");
        assert!(uncapture_steps("public.t", &[]).is_empty());
    }
}
