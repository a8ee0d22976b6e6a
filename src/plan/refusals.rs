//! A planner's refusal (`PlanError`) turned into the user's error (`UserError`:
//! SQLSTATE, message, DETAIL, HINT) by a pure function, `describe`; raised by
//! `plan_error`. `model::errors` stays the leaf every layer may use.

use crate::model::errors::UserError;
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
    describe(table, err, verb).raise()
}

/// A planner's refusal as the user's error: pure, so it is unit-tested.
pub fn describe(table: &str, err: PlanError, verb: &str) -> UserError {
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
            UserError::new(
                ERRCODE_WRONG_OBJECT_TYPE,
                format!("cannot {verb} {table}: it is {kind}"),
                "relay_enable_tenancy works on ordinary tables only.".into(),
                hint.into(),
            )
        }
        PlanError::SystemCatalog => UserError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot {verb} {table}: it is a system catalog"),
            "System catalogs and information_schema belong to PostgreSQL.".into(),
            "Only application tables can be tenant-enabled.".into(),
        ),
        PlanError::ExclusionNeedsOpclass { key, entry, am } => UserError::new(
            ERRCODE_UNDEFINED_OBJECT,
            format!("cannot make {key} of {table} exclude per tenant: {am} has no operator class for text"),
            format!("The constraint would become EXCLUDE USING {am} (tenant_id WITH =, ...), and no default {am} operator class exists for tenant_id's type, text."),
            format!("Install btree_gist (shipped with PostgreSQL's contrib modules, in Debian's postgresql-15 package): CREATE EXTENSION btree_gist; then run again. Or keep it global, knowing one tenant's rows then exclude another's: global_unique => ARRAY[{}].", crate::model::quote::quote_literal(&entry)),
        ),
        PlanError::ForeignKeyOtherOwner { fk, other, owner } => UserError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot make foreign key {} between {table} and {other} include tenant_id: must be owner of {other}", crate::model::quote::quote_ident(&fk)),
            format!("Both tables are tenant-enabled, so relay makes the key (tenant_id, ...) and needs to change {other}, which is owned by role \"{owner}\"."),
            format!("Run the migration as \"{owner}\" (or a role that is a member of both owners)."),
        ),
        PlanError::ForeignKeyNotComposable { fk, table: child, why } => UserError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot make foreign key {} on {child} include tenant_id", crate::model::quote::quote_ident(&fk)),
            format!("Its other end is tenant-enabled, but {why}."),
            "Change the constraint (ALTER TABLE ... DROP CONSTRAINT ..., ADD CONSTRAINT ... with another action or MATCH SIMPLE), then run again.".into(),
        ),
        PlanError::ViewNotOwned { view, owner } => UserError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("cannot make view {view} over {table} security_invoker: must be owner of the view"),
            format!("views => 'invoker' changes the views that bypass row level security; {view} is owned by role \"{owner}\"."),
            format!("Run it as \"{owner}\", or leave views => 'report' and have the view's owner run ALTER VIEW {view} SET (security_invoker = on)."),
        ),
        PlanError::TenantColumnMissing { column } => UserError::new(
            ERRCODE_UNDEFINED_COLUMN,
            format!("{table} has no column \"{column}\" to hold the tenant"),
            "tenant_column names a column the table must already have (text, uuid, bigint or integer); only tenant_id is added by relay.".into(),
            "Pass the name of the existing column, or leave tenant_column out to add tenant_id.".into(),
        ),
        PlanError::Temporary => UserError::new(
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
            UserError::new(
                ERRCODE_WRONG_OBJECT_TYPE,
                format!("cannot {verb} {table}: it belongs to extension \"{extension}\""),
                "Its definition and contents are managed by the extension.".into(),
                hint,
            )
        }
        PlanError::PartitionChild { parent } => UserError::new(
            ERRCODE_WRONG_OBJECT_TYPE,
            format!("cannot tenant-enable {table}: it is a partition of {parent}"),
            "A partition's columns, keys and policies come from its partitioned table.".into(),
            format!("Tenant-enable the partitioned table: SELECT relay_enable_tenancy({}); its partitions, those of today and those attached later, follow it.", crate::model::quote::quote_literal(&parent)),
        ),
        PlanError::InheritanceChild { parent } => UserError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot tenant-enable {table}: it inherits from {parent}, which is not tenant-enabled"),
            format!("A query on {parent} reads the rows of {table} under {parent}'s row level security, which has none of relay's policies: every tenant's rows would be readable through it."),
            format!("Tenant-enable the parent first (SELECT relay_enable_tenancy({})), or remove the inheritance (ALTER TABLE {table} NO INHERIT {parent}). Nothing was changed.", crate::model::quote::quote_literal(&parent)),
        ),
        PlanError::NotOwner { owner } => UserError::new(
            ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {table} to {verb} it"),
            format!("{table} is owned by role \"{owner}\"."),
            format!("Run the migration as \"{owner}\" or a member of it."),
        ),
        PlanError::TenantColumnType { column, found } => UserError::new(
            ERRCODE_DATATYPE_MISMATCH,
            format!("column {} of {table} has type {found}, which cannot hold a tenant", crate::model::quote::quote_ident(&column)),
            format!("A tenant column is text, uuid, bigint or integer (tenants.id, text, holds the id as written); {table}.{} is {found}.", crate::model::quote::quote_ident(&column)),
            format!("Change it with ALTER TABLE {table} ALTER COLUMN {} TYPE text (this rewrites the table), or name another column with tenant_column.", crate::model::quote::quote_ident(&column)),
        ),
        PlanError::GlobalUniqueUnknown { entry, candidates } => UserError::new(
            ERRCODE_UNDEFINED_OBJECT,
            format!("global_unique entry \"{entry}\" names no unique key of {table}"),
            if candidates.is_empty() {
                format!("{table} has no unique key without tenant_id other than its primary key.")
            } else {
                format!("Unique keys of {table}: {}.", candidates.join("; "))
            },
            "Name a unique constraint or index, or its columns as a comma-separated list, e.g. 'email' or 'skill_id,user_id'.".into(),
        ),
        PlanError::UniqueHasDependents { key, entry, definition, dependents } => UserError::new(
            ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot make {key} of {table} unique per tenant: foreign keys depend on it"),
            format!("{} reference{} it ({definition}); relay rewrites a key together with the foreign keys into it only when they all come from tenant-enabled tables and can take tenant_id.", dependents.join(", "), if dependents.len() == 1 { "s" } else { "" }),
            if definition.starts_with("PRIMARY KEY") {
                "Tenant-enable the referencing tables first (their keys then become composite with it), or keep primary_key => 'global'.".to_string()
            } else {
                format!("Tenant-enable the referencing tables first (their keys then become composite with it), or keep it global: relay_enable_tenancy({}, global_unique => ARRAY[{}]).", crate::model::quote::quote_literal(table), crate::model::quote::quote_literal(&entry))
            },
        ),
        PlanError::ForeignKeyNotOurs { fk, table: child } => UserError::new(
            ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot {verb} {table}: foreign key {} on {child} includes tenant_id, and relay did not make it so", crate::model::quote::quote_ident(&fk)),
            "relay restores the foreign keys it made composite to their recorded definitions; this one was created with tenant_id by someone else since, and it depends on the per-tenant keys relay would take away.".into(),
            format!("Drop it (ALTER TABLE {child} DROP CONSTRAINT {}) or recreate it without tenant_id, then run again.", crate::model::quote::quote_ident(&fk)),
        ),
        PlanError::DistributedWithoutDefault { column, default } => UserError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot {verb} {table}: Citus distributed it, and its {column} has no relay default"),
            format!("Citus cannot change the default of a distribution column, and rows inserted without {column} need relay's default {default}."),
            format!("Tenant-enable the table before distributing it (relay_enable_tenancy, then relay_distribute), or create it with {column} ... DEFAULT {default}."),
        ),
        PlanError::OnlinePartitioned => UserError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot {verb} partitioned table {table} online"),
            "PostgreSQL 15 cannot build an index CONCURRENTLY on a partitioned table, and the online path builds every index that way.".into(),
            format!("Use relay_enable_tenancy({}) without online (it holds ACCESS EXCLUSIVE while the partitions' indexes build), in a quiet period.", crate::model::quote::quote_literal(table)),
        ),
        PlanError::SharedRowsOnCitus => UserError::new(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot {verb} {table} with shared rows on Citus"),
            "shared_rows widens relay's policy rule (rows of no tenant are read by every tenant); relay_distribute writes the rule each shard carries, in its plain form only.".into(),
            "Keep the shared rows in a table of their own, shared by every tenant (a Citus reference table), or leave shared_rows out.".into(),
        ),
        PlanError::UnexpectedIndexDefinition { index, definition } => UserError::new(
            ERRCODE_INTERNAL_ERROR,
            format!("relay_tenancy could not read the definition of index \"{index}\" on {table}"),
            format!("pg_get_indexdef() returned: {definition}"),
            "Please report this with the index definition; list the index in global_unique to leave it unchanged.".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_refused_with_the_view_hint() {
        let e = describe(
            "public.v",
            PlanError::WrongKind { kind: "a view" },
            "tenant-enable",
        );
        assert_eq!(e.code, PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE);
        assert_eq!(e.message, "cannot tenant-enable public.v: it is a view");
        assert!(e.hint.contains("security_invoker"));
    }

    #[test]
    fn a_system_catalog_is_a_privilege_error() {
        let e = describe("pg_class", PlanError::SystemCatalog, "disable tenancy on");
        assert_eq!(e.code, PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE);
        assert_eq!(
            e.message,
            "cannot disable tenancy on pg_class: it is a system catalog"
        );
    }
}
