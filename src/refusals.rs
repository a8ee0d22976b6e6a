//! Refusals that name relay's own decisions: a planner's `PlanError`, what
//! relay_distribute cannot distribute, what cannot be audited, turned into the user's
//! error (SQLSTATE, message, DETAIL, HINT). Above the planners: `errors` stays a leaf
//! that every layer may use.

use crate::errors;
use crate::plan::PlanError;
use pgrx::pg_sys::errcodes::PgSqlErrorCode;

/// The planner's refusals, for table `table` (already quoted and qualified).
#[track_caller]
pub fn plan_error(table: &str, err: PlanError) -> ! {
    plan_error_doing(table, err, "tenant-enable")
}

/// The planner's refusals, worded for what the caller was doing (`verb`).
#[track_caller]
pub fn plan_error_doing(table: &str, err: PlanError, verb: &str) -> ! {
    use PgSqlErrorCode::*;
    match err {
        PlanError::WrongKind { kind } => {
            let hint = match kind {
                "a view" => "Enable the tables the view reads, and make the view respect their row level security with ALTER VIEW ... SET (security_invoker = on).",
                "a materialized view" => "A materialized view is filled by its owner and bypasses row level security: enable the tables it reads, and do not expose it to tenants.",
                "a foreign table" => "Enable the table on the server that holds its rows.",
                "a sequence" => "Sequences hold no rows: enable the tables that use it.",
                "an index" => "Pass the table the index belongs to.",
                _ => "Pass an ordinary table.",
            };
            errors::raise(
                ERRCODE_WRONG_OBJECT_TYPE,
                format!("cannot {verb} {table}: it is {kind}"),
                "relay_enable_tenancy works on ordinary tables only.".into(),
                hint.into(),
            )
        }
        PlanError::SystemCatalog => errors::raise(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot {verb} {table}: it is a system catalog"),
            "System catalogs and information_schema belong to PostgreSQL.".into(),
            "Only application tables can be tenant-enabled.".into(),
        ),
        PlanError::ExclusionNeedsOpclass { key, entry, am } => errors::raise(
            ERRCODE_UNDEFINED_OBJECT,
            format!("cannot make {key} of {table} exclude per tenant: {am} has no operator class for text"),
            format!("The constraint would become EXCLUDE USING {am} (tenant_id WITH =, ...), and no default {am} operator class exists for tenant_id's type, text."),
            format!("Install btree_gist (shipped with PostgreSQL's contrib modules, in Debian's postgresql-15 package): CREATE EXTENSION btree_gist; then run again. Or keep it global, knowing one tenant's rows then exclude another's: global_unique => ARRAY[{}].", crate::quote::quote_literal(&entry)),
        ),
        PlanError::ForeignKeyOtherOwner { fk, other, owner } => errors::raise(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot make foreign key {} between {table} and {other} include tenant_id: must be owner of {other}", crate::quote::quote_ident(&fk)),
            format!("Both tables are tenant-enabled, so relay makes the key (tenant_id, ...) and needs to change {other}, which is owned by role \"{owner}\"."),
            format!("Run the migration as \"{owner}\" (or a role that is a member of both owners)."),
        ),
        PlanError::ForeignKeyNotComposable { fk, table: child, why } => errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot make foreign key {} on {child} include tenant_id", crate::quote::quote_ident(&fk)),
            format!("Its other end is tenant-enabled, but {why}."),
            "Change the constraint (ALTER TABLE ... DROP CONSTRAINT ..., ADD CONSTRAINT ... with another action or MATCH SIMPLE), then run again.".into(),
        ),
        PlanError::ViewNotOwned { view, owner } => errors::raise(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot make view {view} over {table} security_invoker: must be owner of the view"),
            format!("views => 'invoker' changes the views that bypass row level security; {view} is owned by role \"{owner}\"."),
            format!("Run it as \"{owner}\", or leave views => 'report' and have the view's owner run ALTER VIEW {view} SET (security_invoker = on)."),
        ),
        PlanError::TenantColumnMissing { column } => errors::raise(
            ERRCODE_UNDEFINED_COLUMN,
            format!("{table} has no column \"{column}\" to hold the tenant"),
            "tenant_column names a column the table must already have (text, uuid, bigint or integer); only tenant_id is added by relay.".into(),
            "Pass the name of the existing column, or leave tenant_column out to add tenant_id.".into(),
        ),
        PlanError::Temporary => errors::raise(
            ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot {verb} {table}: it is a temporary table"),
            "A temporary table lives in one session and cannot reference tenants, a permanent table.".into(),
            "Tenant-enable the permanent tables the application shares.".into(),
        ),
        PlanError::ExtensionMember { extension } => {
            let hint = if extension == "relay_tenancy" {
                format!("relay_tenancy's own tables are set up by the extension itself; {verb} your application's tables.")
            } else {
                format!("Tables of extension \"{extension}\" are changed by that extension's own scripts.")
            };
            errors::raise(
                ERRCODE_WRONG_OBJECT_TYPE,
                format!("cannot {verb} {table}: it belongs to extension \"{extension}\""),
                "Its definition and contents are managed by the extension.".into(),
                hint,
            )
        }
        PlanError::PartitionChild { parent } => errors::raise(
            ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot tenant-enable {table}: it is a partition of {parent}"),
            "A partition's columns, keys and policies come from its partitioned table.".into(),
            format!("Tenant-enable the partitioned table: SELECT relay_enable_tenancy({}); its partitions, those of today and those attached later, follow it.", crate::quote::quote_literal(&parent)),
        ),
        PlanError::InheritanceChild { parent } => errors::raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot tenant-enable {table}: it inherits from {parent}, which is not tenant-enabled"),
            format!("A query on {parent} reads the rows of {table} under {parent}'s row level security, which has none of relay's policies: every tenant's rows would be readable through it."),
            format!("Tenant-enable the parent first (SELECT relay_enable_tenancy({})), or remove the inheritance (ALTER TABLE {table} NO INHERIT {parent}). Nothing was changed.", crate::quote::quote_literal(&parent)),
        ),
        PlanError::NotOwner { owner } => errors::raise(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {table} to {verb} it"),
            format!("{table} is owned by role \"{owner}\"."),
            format!("Run the migration as \"{owner}\" or a member of it."),
        ),
        PlanError::TenantColumnType { column, found } => errors::raise(
            ERRCODE_DATATYPE_MISMATCH,
            format!("column {} of {table} has type {found}, which cannot hold a tenant", crate::quote::quote_ident(&column)),
            format!("A tenant column is text, uuid, bigint or integer (tenants.id, text, holds the id as written); {table}.{} is {found}.", crate::quote::quote_ident(&column)),
            format!("Change it with ALTER TABLE {table} ALTER COLUMN {} TYPE text (this rewrites the table), or name another column with tenant_column.", crate::quote::quote_ident(&column)),
        ),
        PlanError::GlobalUniqueUnknown { entry, candidates } => errors::raise(
            ERRCODE_UNDEFINED_OBJECT,
            format!("global_unique entry \"{entry}\" names no unique key of {table}"),
            if candidates.is_empty() {
                format!("{table} has no unique key without tenant_id other than its primary key.")
            } else {
                format!("Unique keys of {table}: {}.", candidates.join("; "))
            },
            "Name a unique constraint or index, or its columns as a comma-separated list, e.g. 'email' or 'skill_id,user_id'.".into(),
        ),
        PlanError::UniqueHasDependents { key, entry, definition, dependents } => errors::raise(
            ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot make {key} of {table} unique per tenant: foreign keys depend on it"),
            format!("{} reference{} it ({definition}); relay rewrites a key together with the foreign keys into it only when they all come from tenant-enabled tables and can take tenant_id.", dependents.join(", "), if dependents.len() == 1 { "s" } else { "" }),
            if definition.starts_with("PRIMARY KEY") {
                "Tenant-enable the referencing tables first (their keys then become composite with it), or keep primary_key => 'global'.".to_string()
            } else {
                format!("Tenant-enable the referencing tables first (their keys then become composite with it), or keep it global: relay_enable_tenancy({}, global_unique => ARRAY[{}]).", crate::quote::quote_literal(table), crate::quote::quote_literal(&entry))
            },
        ),
        PlanError::ForeignKeyNotOurs { fk, table: child } => errors::raise(
            ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot {verb} {table}: foreign key {} on {child} includes tenant_id, and relay did not make it so", crate::quote::quote_ident(&fk)),
            "relay restores the foreign keys it made composite to their recorded definitions; this one was created with tenant_id by someone else since, and it depends on the per-tenant keys relay would take away.".into(),
            format!("Drop it (ALTER TABLE {child} DROP CONSTRAINT {}) or recreate it without tenant_id, then run again.", crate::quote::quote_ident(&fk)),
        ),
        PlanError::DistributedWithoutDefault { column, default } => errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot {verb} {table}: Citus distributed it, and its {column} has no relay default"),
            format!("Citus cannot change the default of a distribution column, and rows inserted without {column} need relay's default {default}."),
            format!("Tenant-enable the table before distributing it (relay_enable_tenancy, then relay_distribute), or create it with {column} ... DEFAULT {default}."),
        ),
        PlanError::OnlinePartitioned => errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot {verb} partitioned table {table} online"),
            "PostgreSQL 15 cannot build an index CONCURRENTLY on a partitioned table, and the online path builds every index that way.".into(),
            format!("Use relay_enable_tenancy({}) without online (it holds ACCESS EXCLUSIVE while the partitions' indexes build), in a quiet period.", crate::quote::quote_literal(table)),
        ),
        PlanError::UnexpectedIndexDefinition { index, definition } => errors::raise(
            ERRCODE_INTERNAL_ERROR,
            format!("relay_tenancy could not read the definition of index \"{index}\" on {table}"),
            format!("pg_get_indexdef() returned: {definition}"),
            "Please report this with the index definition; list the index in global_unique to leave it unchanged.".into(),
        ),
    }
}

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
    use crate::plan::PlanError;
    if state.relkind != "r" {
        let kind = crate::names::relkind_label(&state.relkind);
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
