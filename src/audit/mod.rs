//! The append-only audit log: `audit_logs` (sql/audit.sql), its native guard, and
//! row-change capture. The SQL functions here plan their trigger changes as pure
//! steps (unit-tested) and apply them with the same `apply::apply` as tenancy.

/// Give a `#[pg_trigger]` function an SQL entry point that first checks it was
/// called as a trigger. PostgreSQL lets anyone `SELECT` a C trigger function; pgrx's
/// own wrapper then fails with XX000, where the right answer is the trigger protocol
/// error (39P01). `$entry` is the C symbol the SQL function points at, `$finfo` its
/// `pg_finfo_` record, `$inner` the `<fn>_wrapper` pgrx generates.
macro_rules! trigger_entry {
    ($entry:ident, $finfo:ident, $inner:ident, $sql_name:literal) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pgrx::pg_sys::Pg_finfo_record {
            const V1: pgrx::pg_sys::Pg_finfo_record = pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        /// # Safety
        /// Called by PostgreSQL's function manager with a valid `fcinfo`.
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub unsafe extern "C-unwind" fn $entry(fcinfo: pgrx::pg_sys::FunctionCallInfo) -> pgrx::pg_sys::Datum {
            if !unsafe { pgrx::trigger_support::called_as_trigger(fcinfo) } {
                unsafe {
                    pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(|| -> pgrx::pg_sys::Datum {
                        crate::errors::not_called_as_trigger($sql_name)
                    })
                }
            } else {
                unsafe { $inner(fcinfo) }
            }
        }
    };
}

pub mod capture;
pub mod guard;
pub mod jsonb;
pub mod uuid7;
pub mod writer;

use crate::catalog::TableState;
use crate::plan::{Lock, Step, StepKind};
use crate::quote::{quote_ident, quote_qualified};
use crate::regclass::RegClass;
use crate::{api, apply, catalog, context, errors};
use pgrx::prelude::*;

pub const GUARD_ROW_TRIGGER: &str = "relay_append_only_row";
pub const GUARD_TRUNCATE_TRIGGER: &str = "relay_append_only_truncate";

/// The capture triggers: name, event, transition tables.
pub const CAPTURE_TRIGGERS: [(&str, &str, &str); 4] = [
    ("relay_audit_insert", "INSERT", " REFERENCING NEW TABLE AS relay_new"),
    ("relay_audit_update", "UPDATE", " REFERENCING OLD TABLE AS relay_old NEW TABLE AS relay_new"),
    ("relay_audit_delete", "DELETE", " REFERENCING OLD TABLE AS relay_old"),
    ("relay_audit_truncate", "TRUNCATE", ""),
];

/// A trigger already on the table: its name and `pg_trigger.tgenabled`
/// (O origin, A always, R replica, D disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerInfo {
    pub name: String,
    pub enabled: String,
}

fn step(kind: StepKind, lock: Lock, action: String, sql: String) -> Step {
    Step { kind, action, sql, lock, replaces: None }
}

/// Steps that attach the append-only guard to `table`, fired ALWAYS. Pure.
pub fn guard_steps(table: &str, ext_schema: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    let function = format!("{}.relay_append_only_guard()", quote_ident(ext_schema));
    let mut steps = Vec::new();
    for (name, timing) in [
        (GUARD_ROW_TRIGGER, "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
        (GUARD_TRUNCATE_TRIGGER, "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT"),
    ] {
        let timing = timing.replace("{t}", table);
        let trigger = quote_ident(name);
        match existing.iter().find(|t| t.name == name) {
            None => {
                steps.push(step(
                    StepKind::CreateTrigger,
                    Lock::ShareRowExclusive,
                    format!("created trigger {name} on {table}: {}", timing.replace(&format!(" ON {table}"), "")),
                    format!("CREATE TRIGGER {trigger} {timing} EXECUTE FUNCTION {function}"),
                ));
            }
            Some(t) if t.enabled == "A" => continue,
            Some(_) => {}
        }
        steps.push(step(
            StepKind::EnableTriggerAlways,
            Lock::ShareRowExclusive,
            format!("trigger {name} fires ALWAYS, also under session_replication_role = replica"),
            format!("ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"),
        ));
    }
    steps
}

/// Steps that attach the capture triggers to `table`. Pure.
pub fn capture_steps(table: &str, ext_schema: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    let function = format!("{}.relay_audit_capture()", quote_ident(ext_schema));
    CAPTURE_TRIGGERS
        .iter()
        .filter(|(name, _, _)| !existing.iter().any(|t| t.name == *name))
        .map(|(name, event, transition)| {
            step(
                StepKind::CreateTrigger,
                Lock::ShareRowExclusive,
                format!("created trigger {name} on {table}: AFTER {event}, once per statement"),
                format!(
                    "CREATE TRIGGER {} AFTER {event} ON {table}{transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}",
                    quote_ident(name)
                ),
            )
        })
        .collect()
}

/// Steps that remove the capture triggers from `table`. Pure.
pub fn uncapture_steps(table: &str, existing: &[TriggerInfo]) -> Vec<Step> {
    CAPTURE_TRIGGERS
        .iter()
        .filter(|(name, _, _)| existing.iter().any(|t| t.name == *name))
        .map(|(name, _, _)| {
            step(
                StepKind::DropTrigger,
                Lock::AccessExclusive,
                format!("dropped trigger {name} from {table}"),
                format!("DROP TRIGGER {} ON {table}", quote_ident(name)),
            )
        })
        .collect()
}

fn triggers_of(oid: pg_sys::Oid) -> Vec<TriggerInfo> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT tgname::pg_catalog.text, tgenabled::pg_catalog.text FROM pg_catalog.pg_trigger
                  WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname",
                None,
                &[oid.into()],
            )
            .expect("trigger lookup")
            .map(|row| TriggerInfo {
                name: row.get::<String>(1).unwrap().unwrap_or_default(),
                enabled: row.get::<String>(2).unwrap().unwrap_or_default(),
            })
            .collect()
    })
}

/// The shared body of the three trigger-managing functions: resolve and check the
/// table, read its triggers, plan with `steps_for`, apply, report.
fn manage_triggers(
    function: &str,
    tbl: Option<RegClass>,
    verb: &str,
    capture: bool,
    steps_for: impl Fn(&str, &str, &[TriggerInfo]) -> Vec<Step>,
    nothing: &str,
) -> SetOfIterator<'static, String> {
    let tbl = tbl.unwrap_or_else(|| errors::null_argument(function, "tbl"));
    let ext_schema = api::extension_schema();
    let state: TableState = catalog::read(tbl.0, &ext_schema);
    let table = quote_qualified(&state.schema, &state.name);
    errors::check_audit_target(&state, &table, verb, capture);
    let steps = steps_for(&table, &ext_schema, &triggers_of(tbl.0));
    if steps.is_empty() {
        return SetOfIterator::new(vec![format!("{table} {nothing}: nothing to do")]);
    }
    SetOfIterator::new(apply::apply(&steps, ""))
}

/// Make a table append-only: UPDATE, DELETE and TRUNCATE refused for every role,
/// also in replica mode. Returns one line per action; idempotent.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_append_only(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    manage_triggers("relay_append_only", tbl, "make append-only", false, guard_steps, "is already append-only")
}

/// Record every INSERT, UPDATE, DELETE and TRUNCATE on a table in audit_logs.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_enable_audit(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    manage_triggers("relay_enable_audit", tbl, "audit", true, capture_steps, "is already audited")
}

/// Stop recording changes of a table. Entries already written stay.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_disable_audit(tbl: Option<RegClass>) -> SetOfIterator<'static, String> {
    manage_triggers("relay_disable_audit", tbl, "audit", true, |t, _, existing| uncapture_steps(t, existing), "is not audited")
}

/// Append one entry to audit_logs: the actor from app.current_actor_id, the tenant
/// from the session, the client address, the time. Returns the entry's id.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit(
    action: Option<String>,
    resource_type: default!(Option<String>, "NULL"),
    resource_id: default!(Option<String>, "NULL"),
    metadata: default!(Option<pgrx::JsonB>, "NULL"),
) -> pgrx::Uuid {
    let action = action.unwrap_or_else(|| errors::null_argument("relay_audit", "action"));
    let audit_logs = quote_qualified(&api::extension_schema(), "audit_logs");
    let actor = context::current_setting(context::ACTOR_GUC);
    Spi::get_one_with_args::<pgrx::Uuid>(
        &format!(
            "INSERT INTO {audit_logs} (actor_id, action, resource_type, resource_id, ip_address, metadata)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
        ),
        &[actor.into(), action.into(), resource_type.into(), resource_id.into(), writer::client_address().into(), metadata.into()],
    )
    .expect("audit insert")
    .expect("RETURNING id")
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
        TriggerInfo { name: name.into(), enabled: enabled.into() }
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
        let done = [trig(GUARD_ROW_TRIGGER, "A"), trig(GUARD_TRUNCATE_TRIGGER, "A")];
        assert!(guard_steps("public.ledger", "relay", &done).is_empty());
        let demoted = [trig(GUARD_ROW_TRIGGER, "O"), trig(GUARD_TRUNCATE_TRIGGER, "A")];
        let steps = guard_steps("public.ledger", "relay", &demoted);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].kind, StepKind::EnableTriggerAlways);
    }

    #[test]
    fn capture_adds_what_is_missing_and_removes_what_is_there() {
        let steps = capture_steps("public.t", "public", &[trig("relay_audit_insert", "O")]);
        assert_eq!(steps.len(), 3);
        assert!(steps[0].sql.contains("AFTER UPDATE ON public.t REFERENCING OLD TABLE AS relay_old NEW TABLE AS relay_new FOR EACH STATEMENT"));
        let drop = uncapture_steps("public.t", &[trig("relay_audit_insert", "O"), trig("other", "O")]);
        assert_eq!(drop.len(), 1);
        assert_eq!(drop[0].sql, "DROP TRIGGER relay_audit_insert ON public.t");
        assert!(uncapture_steps("public.t", &[]).is_empty());
    }
}
