//! Refusing what relay_append_only / relay_enable_audit / relay_disable_audit cannot
//! work on, before anything is changed.

use crate::model::errors;
use crate::plan::refusals::plan_error_doing;
use crate::plan::PlanError;
use pgrx::pg_sys::errcodes::PgSqlErrorCode;

/// Refuse what relay_append_only / relay_enable_audit / relay_disable_audit cannot
/// work on. `verb` says what the caller was doing ("audit", "make append-only");
/// `capture` is true for the capture functions, which also refuse audit_logs itself.
#[track_caller]
pub fn check_audit_target(
    state: &crate::catalog::TableState,
    table: &str,
    verb: &str,
    capture: bool,
) {
    if state.relkind != crate::model::kinds::RelKind::Table {
        let kind = state.relkind.label();
        errors::raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot {verb} {table}: it is {kind}"),
            "Audit and append-only triggers go on ordinary tables, where the rows are written."
                .into(),
            if kind == "a view" {
                "Use the tables the view reads and writes.".into()
            } else {
                "Pass an ordinary table.".into()
            },
        );
    }
    if state.is_system {
        plan_error_doing(table, PlanError::SystemCatalog, verb);
    }
    let own_audit_log =
        state.extension.as_deref() == Some("relay_tenancy") && state.name == "audit_logs";
    if capture && own_audit_log {
        errors::raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot {verb} {table}: it is the audit log itself"),
            "Every entry would record its own writing.".into(),
            "audit_logs is append-only already; audit the application's tables.".into(),
        );
    }
    // relay_append_only('audit_logs') re-promotes the log's own guard after a demotion.
    if let Some(extension) = state.extension.as_ref().filter(|_| !own_audit_log) {
        plan_error_doing(
            table,
            PlanError::ExtensionMember {
                extension: extension.clone(),
            },
            verb,
        );
    }
    if capture && !crate::audit::capture::utf8_database() {
        errors::capture_needs_utf8(table, verb);
    }
    if capture && state.persistence == "t" {
        errors::raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot {verb} {table}: it is a temporary table"),
            "A temporary table lives in one session and belongs to no tenant's data; its changes are not recorded.".into(),
            "Audit the permanent tables the application writes.".into(),
        );
    }
    if !state.is_owner {
        // "make append-only" reads "to make it append-only"; the others "to audit it"
        let what = verb
            .strip_prefix("make ")
            .map_or_else(|| format!("{verb} it"), |rest| format!("make it {rest}"));
        errors::raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {table} to {what}"),
            format!("{table} is owned by role \"{}\".", state.owner),
            format!("Run it as \"{}\" or a member of it.", state.owner),
        );
    }
}
