//! One constructor per user error: SQLSTATE, a message naming the object, DETAIL with
//! what was found, HINT with the fix. Every one is raised before anything is changed.
//! Each is `#[track_caller]`, so an error's LOCATION (`\set VERBOSITY verbose`) names
//! the place that raised it, not this file.

use crate::model::sqlstate::{self, SqlState};
use pgrx::pg_sys::errcodes::PgSqlErrorCode;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgLogLevel;

/// A user error as a value: what pure code (the planners) returns, raised in one
/// place (`raise`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl UserError {
    pub fn new(code: PgSqlErrorCode, message: String, detail: String, hint: String) -> Self {
        UserError {
            code,
            message,
            detail,
            hint,
        }
    }

    /// Raise it as an ERROR. Never returns: PostgreSQL unwinds the transaction.
    #[track_caller]
    pub fn raise(self) -> ! {
        ErrorReport::new(self.code, self.message, "relay_tenancy")
            .set_detail(self.detail)
            .set_hint(self.hint)
            .report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// Raise an ERROR. Never returns: PostgreSQL unwinds the transaction.
#[track_caller]
pub fn raise(code: PgSqlErrorCode, message: String, detail: String, hint: String) -> ! {
    UserError::new(code, message, detail, hint).raise()
}

/// Raise an ERROR with one of relay's own SQLSTATEs (`sqlstate`).
#[track_caller]
fn raise_as(state: SqlState, message: String, detail: String, hint: String) -> ! {
    crate::model::sqlstate::arm(state, &message);
    raise(state.class, message, detail, hint)
}

/// Who can set the tenant, and how, in the context mode the server runs in: the
/// HINT of every no-tenant error (signed mode refuses SET app.current_tenant_id).
fn set_tenant_hint(signed: bool) -> &'static str {
    if signed {
        "The application sets it first with a token from its trusted tier: SELECT relay_set_tenant('<tenant id>', '<token>') (relay.context_mode is signed: SET app.current_tenant_id is refused)."
    } else {
        "The application sets it first, in the transaction: SELECT relay_set_tenant('<tenant id>'), or SET LOCAL app.current_tenant_id = '<tenant id>'."
    }
}

/// The append-only guard refusing an operation.
#[track_caller]
pub fn append_only(table: &str, operation: &str, own_log: bool) -> ! {
    let hint = if own_log && operation == "DELETE" {
        "Correct an entry by appending a new one. Old entries are removed with relay_audit_purge(before), by a superuser or BYPASSRLS role (README: \"Audit log\")."
    } else {
        "Correct an entry by appending a new one. Only a superuser or the table owner can remove the guard (README: \"Audit log\")."
    };
    raise(
        PgSqlErrorCode::ERRCODE_S_R_E_MODIFYING_SQL_DATA_NOT_PERMITTED,
        format!("{table} is append-only: {operation} is not allowed"),
        format!("relay_append_only_guard refuses {operation} on {table} for every role, also under session_replication_role = replica{}.",
                if own_log && operation == "DELETE" { " (but for relay_audit_purge, and its replay on a logical-replication subscriber)" } else { "" }),
        hint.into(),
    )
}

/// A relay trigger function attached the wrong way.
#[track_caller]
pub fn trigger_misuse(function: &str, trigger: &str, table: &str, expected: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
        format!("{function} must be fired {expected}"),
        format!("Trigger \"{trigger}\" on {table} fired it otherwise."),
        "Attach it with relay_append_only(table) or relay_enable_audit(table) instead of CREATE TRIGGER.".into(),
    )
}

/// A relay trigger function called as a plain function.
#[track_caller]
pub fn not_called_as_trigger(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
        format!("{function} was not called as a trigger"),
        format!("{function}() is a trigger function; it was called directly."),
        "Attach it with relay_append_only(table) or relay_enable_audit(table).".into(),
    )
}

/// A regclass argument given as an oid that names no relation.
#[track_caller]
pub fn undefined_relation(function: &str, oid: u32) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
        format!("{function}: relation with OID {oid} does not exist"),
        format!("No relation has OID {oid} (it was dropped, or the number is not a table's)."),
        "Pass the table by name, e.g. 'public.skills'.".into(),
    )
}

/// relay is about to write one of its own tables with raised privileges, and the
/// table carries triggers relay did not put there.
#[track_caller]
pub fn foreign_trigger_on_relay_table(table: &str, triggers: &[String]) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("refusing to write {table}: it has triggers that are not relay_tenancy's"),
        format!("Trigger(s) {} on {table} would run with relay_tenancy's privileges.", triggers.join(", ")),
        format!("Drop them (DROP TRIGGER ... ON {table}); relay's tables take no user triggers. Revoke TRIGGER on relay's tables from application roles."),
    )
}

/// The capture trigger fired on a table relay_enable_audit did not register.
#[track_caller]
pub fn capture_not_registered(table: &str, trigger: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("relay_audit_capture refuses to record changes of {table}: it is not registered for capture"),
        format!("Trigger \"{trigger}\" was attached by hand; only tables in relay.relay_audit_tables are recorded."),
        format!("Use SELECT relay_enable_audit({}) as the table's owner.", crate::model::quote::quote_literal(table)),
    )
}

/// An audit entry with no tenant to write it for.
#[track_caller]
pub fn no_tenant_for_audit(what: &str, signed: bool) -> ! {
    raise_as(
        sqlstate::NO_TENANT,
        format!("no tenant set: cannot record {what} in the audit log"),
        "Every audit entry belongs to a tenant: the row's own (tenant-enabled tables) or the session's, and app.current_tenant_id is not set.".into(),
        set_tenant_hint(signed).into(),
    )
}

/// An audit entry for a tenant that does not exist.
#[track_caller]
pub fn unknown_audit_tenant(tenant: &str, what: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        format!("cannot record {what} in the audit log of tenant \"{tenant}\": no such tenant"),
        format!("No row of tenants has id '{tenant}'."),
        "Set an existing tenant (relay_set_tenant checks it).".into(),
    )
}

/// A tenant lifecycle function run by a role subject to row level security.
#[track_caller]
pub fn tenant_admin_needs_bypassrls(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{function} must be run by a role that sees every tenant"),
        "The current role is subject to row level security; tenants gives such roles nothing, whatever was granted on it.".into(),
        "Run it as the maintenance role (a role WITH BYPASSRLS, see README \"Cross-tenant admin work\") or as a superuser.".into(),
    )
}

#[track_caller]
pub fn null_argument(function: &str, argument: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        format!("{function}: {argument} must not be NULL"),
        format!("{argument} was NULL."),
        format!("Pass a value for {argument}."),
    )
}

#[track_caller]
pub fn null_global_unique_entry(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        format!("{function}: global_unique must not contain NULL"),
        "One entry of global_unique was NULL.".into(),
        "List constraint or index names, or column lists such as 'email'; leave NULLs out.".into(),
    )
}

#[track_caller]
pub fn unknown_default_tenant(
    tenant: &str,
    tenants: &str,
    registry: Option<&crate::model::registry::Registry>,
) -> ! {
    let (detail, hint) = match registry {
        None => (
            format!("No row of {tenants} has id '{tenant}'."),
            format!("Create the tenant first (INSERT INTO {tenants} (id, name, slug) ...), or omit default_tenant to use the default tenant."),
        ),
        Some(r) => (
            format!("No row of {} (the tenant registry) has {} '{tenant}'; the table's existing rows need a tenant.", r.table, crate::model::quote::quote_ident(&r.id_column)),
            format!("Pass default_tenant => the {} of the row of {} that the existing rows belong to.", crate::model::quote::quote_ident(&r.id_column), r.table),
        ),
    };
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("default tenant \"{tenant}\" does not exist"),
        detail,
        hint,
    )
}

/// A query on a tenant-enabled table with no tenant set, under relay.require_tenant.
#[track_caller]
pub fn no_tenant_for_query(table: &str, signed: bool) -> ! {
    raise_as(
        sqlstate::NO_TENANT,
        format!("no tenant set: cannot read or write {table}"),
        "relay.require_tenant is on and app.current_tenant_id is not set (or is empty).".into(),
        set_tenant_hint(signed).into(),
    )
}

#[track_caller]
pub fn tenant_exists(existing: &str, slug: &str, id: Option<&str>) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        format!("tenant \"{existing}\" already has this slug or id"),
        match id {
            Some(id) => format!("slug '{slug}' or id '{id}' is taken by tenant '{existing}'."),
            None => format!("slug '{slug}' is taken by tenant '{existing}'."),
        },
        "Choose another slug (and id), or use the existing tenant.".into(),
    )
}

#[track_caller]
pub fn default_tenant_undeletable() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "the default tenant cannot be deleted".into(),
        format!(
            "'{}' owns the rows that existed before tables were tenant-enabled.",
            crate::model::names::DEFAULT_TENANT_ID
        ),
        "Move or delete its rows yourself if it must go; relay keeps the tenant.".into(),
    )
}

#[track_caller]
pub fn cross_tenant_reference(tenant: &str, fk: &str, child: &str, parent: &str, rows: i64) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        format!("cannot delete tenant \"{tenant}\": rows outside the tenant reference its rows"),
        format!("{rows} row(s) of {child} outside tenant '{tenant}' reference its rows in {parent} through foreign key {fk}."),
        "Nothing was deleted. Remove or repoint those references first; foreign-key actions ignore row level security and would reach into the other tenants.".into(),
    )
}

#[track_caller]
pub fn unknown_tenant(tenant: &str, registry: Option<&crate::model::registry::Registry>) -> ! {
    let (detail, hint) = match registry {
        None => (
            format!("No row of relay.tenants has id '{tenant}'."),
            "Pass the id of an existing tenant; a superuser or BYPASSRLS role creates tenants (relay_create_tenant).".to_string(),
        ),
        Some(r) => (
            format!(
                "No row of {} (the tenant registry) has {} '{tenant}'.",
                r.table,
                crate::model::quote::quote_ident(&r.id_column)
            ),
            format!(
                "Pass the {} of an existing row of {} (the application creates tenants there).",
                crate::model::quote::quote_ident(&r.id_column),
                r.table
            ),
        ),
    };
    raise_as(
        sqlstate::UNKNOWN_TENANT,
        format!("tenant \"{tenant}\" does not exist"),
        detail,
        hint,
    )
}

#[track_caller]
pub fn suspended_tenant(tenant: &str, registry: Option<&crate::model::registry::Registry>) -> ! {
    raise_as(
        sqlstate::SUSPENDED_TENANT,
        format!("tenant \"{tenant}\" is suspended"),
        match registry.and_then(|r| r.active_column.as_deref().map(|c| (r, c))) {
            Some((r, column)) => format!("{}.{} is not true for '{tenant}'.", r.table, crate::model::quote::quote_ident(column)),
            None => format!("relay.tenants.is_active is false for '{tenant}'."),
        },
        match registry.and_then(|r| r.active_column.as_deref().map(|c| (r, c))) {
            Some((r, column)) => format!(
                "The application should refuse the tenant's requests while it is suspended; it resumes the tenant itself (UPDATE {} SET {} = true ...), or a superuser or BYPASSRLS role does: SELECT relay_resume_tenant({}).",
                r.table,
                crate::model::quote::quote_ident(column),
                crate::model::quote::quote_literal(tenant)
            ),
            None => format!(
                "The application should refuse the tenant's requests while it is suspended; a superuser or BYPASSRLS role resumes it: SELECT relay_resume_tenant({}).",
                crate::model::quote::quote_literal(tenant)
            ),
        },
    )
}

/// An INSERT that did not name tenant_id, with no tenant set for the session.
#[track_caller]
pub fn no_tenant_for_insert(table: &str, signed: bool) -> ! {
    raise_as(
        sqlstate::NO_TENANT,
        format!("no tenant set: cannot insert into {table} without a tenant"),
        "app.current_tenant_id is not set (or is empty), and the row does not name tenant_id."
            .into(),
        set_tenant_hint(signed).into(),
    )
}

/// Signed mode, and relay.token_key is not set.
#[track_caller]
pub fn token_key_missing() -> ! {
    raise_as(
        sqlstate::TOKEN_KEY_MISSING,
        "signed mode has no key: relay.token_key_file is not set".into(),
        "Tenant tokens are signed with the key in the file relay.token_key_file names, and no file is configured.".into(),
        "As the server's operating-system user: openssl rand -hex 32 > <file>; chmod 600 <file>; then a superuser runs ALTER SYSTEM SET relay.token_key_file = '<file>' and reloads.".into(),
    )
}

/// Every reason a token is refused gets this one answer (expired, malformed, signed
/// for another tenant, unknown or suspended tenant), so tokens cannot be used to
/// learn which tenants exist.
#[track_caller]
pub fn token_rejected() -> ! {
    raise_as(
        sqlstate::TOKEN_REJECTED,
        "tenant token rejected".into(),
        "The token is malformed, expired, already used (tokens are single-use) or not valid for this tenant, or the tenant is not active.".into(),
        "Get a fresh token for the tenant from the trusted tier (relay_tenant_token).".into(),
    )
}

#[track_caller]
pub fn token_minting_refused() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        "relay_tenant_token may only be called by roles that can read relay.token_key".into(),
        "Minting a token is as good as knowing the key: superusers and members of pg_read_all_settings only.".into(),
        "Mint tokens in the trusted tier, or call it as such a role.".into(),
    )
}

#[track_caller]
pub fn invalid_token_lifetime(found: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "relay_tenant_token: valid_for must be positive".into(),
        format!("valid_for is {found}."),
        "Pass an interval such as '5 minutes'.".into(),
    )
}

/// relay_set_tenant(tenant) without a token, in signed mode, by a role subject to RLS.
#[track_caller]
pub fn tenant_needs_token() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        "relay.context_mode is signed: relay_set_tenant needs a token".into(),
        "The current role is subject to row level security, and in signed mode its tenant is set only with a token.".into(),
        "Call SELECT relay_set_tenant('<tenant id>', '<token>') with a token from the trusted tier.".into(),
    )
}

/// SET LOCAL outside a transaction block would end with the statement: nothing set.
#[track_caller]
pub fn set_local_outside_transaction() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_NO_ACTIVE_SQL_TRANSACTION,
        "relay_set_tenant with is_local => true must run inside a transaction block".into(),
        "Outside BEGIN ... COMMIT the transaction is the statement itself, so the tenant would be gone before the next query.".into(),
        "BEGIN first, or pass is_local => false for the session (unsafe behind a transaction-pooling connection pooler; see README \"Security model\").".into(),
    )
}

/// A tenant switch while cursors declared under another tenant are open.
#[track_caller]
pub fn other_tenants_cursors_open(cursors: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "cannot switch tenant while cursors declared under another tenant are open".into(),
        format!("Cursor(s) {cursors} were declared under another tenant (or none): a WITH HOLD cursor keeps the rows it read and stays readable after COMMIT and the switch, and any cursor fetched after a switch mixes tenants."),
        "CLOSE them (or CLOSE ALL / DISCARD ALL) first.".into(),
    )
}

/// TRUNCATE by a role subject to row level security.
#[track_caller]
pub fn truncate_refused(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("cannot truncate {table}: row level security applies to the current role"),
        "TRUNCATE ignores row level security: it would empty every tenant's rows, not the current tenant's.".into(),
        "Delete the tenant's rows with DELETE, or truncate as a role that sees every tenant (BYPASSRLS, see README \"Cross-tenant admin work\").".into(),
    )
}

/// DDL that would leave a tenant-enabled table without its isolation.
#[track_caller]
pub fn isolation_switched_off(table: &str, what: &str, problems: &[String]) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{what} would switch tenant isolation off on {table}"),
        format!("{}.", problems.join("; ")),
        "Tenant-enabled tables keep row level security forced, relay's policies and the TRUNCATE guard; only a superuser can change them (SET LOCAL relay.allow_unsafe_ddl = on). Nothing was changed.".into(),
    )
}

/// A superuser's statement would switch isolation off, relay.allow_unsafe_ddl not set.
#[track_caller]
pub fn isolation_switched_off_by_superuser(table: &str, what: &str, problems: &[String]) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{what} would switch tenant isolation off on {table}"),
        format!("{}.", problems.join("; ")),
        "A tool that plans schema changes (drizzle-kit push, an ORM's autogenerate) can propose this without saying so. To take tenancy off a table: SELECT relay_disable_tenancy(...). To do this anyway, as a superuser: SET LOCAL relay.allow_unsafe_ddl = on in this transaction (relay_enable_tenancy puts isolation back). Nothing was changed.".into(),
    )
}

/// COPY <distributed relay table> TO by a role subject to its row level security.
#[track_caller]
pub fn bare_copy_to_distributed(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("COPY {table} TO is not supported for roles subject to its row level security"),
        "Citus sends a plain COPY to every shard, where the session's tenant does not reach: it would return no rows.".into(),
        format!("COPY (SELECT * FROM {table}) TO STDOUT: Citus plans the query with the tenant, like any other."),
    )
}

/// relay_restore_placement on a relation that is no Citus shard here.
#[track_caller]
pub fn not_a_placement(relation: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
        format!("{relation} is not a Citus placement of a hash-distributed table on this node"),
        "relay_restore_placement restores the shards Citus made of relay's tables, from this node's Citus metadata.".into(),
        "On the coordinator, re-run relay_distribute: it restores every placement that needs it.".into(),
    )
}

/// EXPLAIN ANALYZE of a query on a table whose row level security applies.
#[track_caller]
pub fn explain_analyze_refused(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("EXPLAIN ANALYZE is not allowed on {table} for roles subject to its row level security"),
        "Its row counts (Rows Removed by Filter, loops, buffers) include the rows row level security hides, which reveals other tenants' data.".into(),
        "Use EXPLAIN without ANALYZE, or run it as a role that sees every tenant (BYPASSRLS).".into(),
    )
}

/// Plain EXPLAIN under relay.restrict_explain = all.
#[track_caller]
pub fn explain_refused(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("EXPLAIN is not allowed on {table} for roles subject to its row level security"),
        "relay.restrict_explain is 'all': row estimates come from statistics over every tenant's rows.".into(),
        "Ask a role that sees every tenant (BYPASSRLS) to run it, or a superuser to set relay.restrict_explain = analyze.".into(),
    )
}

/// An empty or blank name, slug or id for a new tenant.
#[track_caller]
pub fn blank_tenant_field(field: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("relay_create_tenant: {field} must not be empty"),
        format!(
            "{field} was empty or only white space; an empty tenant id reads as \"no tenant set\"."
        ),
        format!("Pass a non-blank {field}."),
    )
}

#[track_caller]
pub fn undefined_schema(function: &str, schema: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
        format!("{function}: schema \"{schema}\" does not exist"),
        format!("No schema is named \"{schema}\"."),
        "Pass an existing schema's name (names are case-sensitive here: no quoting needed).".into(),
    )
}

#[track_caller]
pub fn schema_global_unique_unknown(entry: &str, schema: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        format!("global_unique entry \"{entry}\" names no table being tenant-enabled in schema \"{schema}\""),
        "In the schema call each entry is table.key: the table's name (unqualified), a dot, then a constraint or index name or a column list.".into(),
        "Write e.g. 'users.email' or 'ratings.skill_id,user_id'; leave out tables listed in exclude or shared.".into(),
    )
}

/// A shared (global) table referencing a table that becomes a tenant table.
#[track_caller]
pub fn shared_references_tenant_table(what: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
        "a shared table cannot reference a tenant table".into(),
        format!("{what}; shared rows are visible to every tenant and would point into one tenant's data."),
        "Tenant-enable that table too (leave it out of shared), or drop or repoint the foreign key.".into(),
    )
}

#[track_caller]
pub fn bad_views_option(function: &str, found: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("{function}: views must be 'report' or 'invoker'"),
        format!("views was '{found}'."),
        "'report' (the default) lists views that bypass row level security; 'invoker' sets security_invoker = on on them.".into(),
    )
}

#[track_caller]
pub fn bad_primary_key_option(function: &str, found: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("{function}: primary_key must be 'global' or 'tenant'"),
        format!("primary_key was '{found}'."),
        "'global' (the default) keeps the primary key as it is; 'tenant' makes it (tenant_id, key), so each tenant has its own key space.".into(),
    )
}

#[track_caller]
pub fn tenant_column_changed(registry: &str, recorded: &str, asked: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("tenant_column \"{asked}\" differs from the table's tenant column \"{recorded}\""),
        format!("{registry} records \"{recorded}\" as the column that holds the tenant; it cannot change once the table is enabled."),
        format!("Leave tenant_column out, or pass '{recorded}'."),
    )
}

/// Rows whose tenant column names no tenant (adopting an existing column).
#[track_caller]
pub fn rows_of_unknown_tenants(
    check: &str,
    rows: i64,
    example: &str,
    registry: Option<&crate::model::registry::Registry>,
) -> ! {
    let (registry_name, hint) = match registry {
        None => ("relay.tenants".to_string(), "Register the existing tenants in one statement first, e.g. INSERT INTO relay.tenants (id, name, slug) SELECT id::text, name, id::text FROM organizations ON CONFLICT DO NOTHING.".to_string()),
        Some(r) => (r.table.clone(), format!("Correct or delete those rows, or add the missing tenants to {} first.", r.table)),
    };
    raise(
        PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        format!("{rows} row(s) name a tenant that is not in {registry_name}"),
        format!(
            "Expected {}; '{example}' is not a tenant. Nothing was changed.",
            check.trim_start_matches("checked that ")
        ),
        hint,
    )
}

/// The session's tenant cannot be a value of the table's tenant column type.
#[track_caller]
pub fn tenant_not_of_type(tenant: &str, type_name: &str, table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        format!("tenant \"{tenant}\" cannot be a tenant of {table}: its tenant column is {type_name}"),
        format!("app.current_tenant_id is '{tenant}', which is not a {type_name}; no row of {table} can belong to it."),
        "Set a tenant whose id is written as the column's type (tenants.id holds it as text).".into(),
    )
}

/// A row naming a tenant that does not exist, in a table whose tenant column cannot
/// reference tenants.id with a foreign key.
#[track_caller]
pub fn unknown_row_tenant(
    table: &str,
    column: &str,
    tenant: &str,
    registry: Option<&crate::model::registry::Registry>,
) -> ! {
    let (detail, hint) = match registry {
        None => (
            format!("No row of tenants has id '{tenant}' (relay_tenant_exists checks what a foreign key to tenants would)."),
            "Create the tenant first (relay_create_tenant), or use an existing one.".to_string(),
        ),
        Some(r) => (
            format!("No row of {} (the tenant registry) has {} '{tenant}' (relay_tenant_exists checks what a foreign key to it would).", r.table, crate::model::quote::quote_ident(&r.id_column)),
            format!("Create the tenant in {} first, or use an existing one.", r.table),
        ),
    };
    raise(
        PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        format!("{column} of {table} names tenant \"{tenant}\", which does not exist"),
        detail,
        hint,
    )
}

/// Rows with no tenant would be backfilled with a default tenant the column cannot hold.
#[track_caller]
pub fn default_tenant_not_of_type(tenant: &str, column: &str, type_name: &str, table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("default tenant \"{tenant}\" cannot be stored in {column} of {table}, a {type_name} column"),
        format!("{column} is nullable, so its NULL rows would be given the default tenant, and '{tenant}' is not a {type_name}."),
        format!("Pass default_tenant => a tenant whose id is a {type_name}, or fill {column} and make it NOT NULL first."),
    )
}

/// relay_disable_tenancy: a key to make global again has values in several tenants.
#[track_caller]
pub fn values_shared_across_tenants(key: &str, total: i64, examples: &[String]) -> ! {
    let shown = if total as usize > examples.len() {
        format!(" (first {} of {total})", examples.len())
    } else {
        String::new()
    };
    raise(
        PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        format!("cannot make {key} unique across tenants again: {total} value{} shared by several tenants", if total == 1 { " is" } else { "s are" }),
        format!("Shared{shown}: {}.", examples.join("; ")),
        "Change or delete the rows so each value belongs to one tenant, then run relay_disable_tenancy again. Nothing was changed; the table is still tenant-enabled.".into(),
    )
}

/// relay_disable_tenancy on a table relay has not enabled.
#[track_caller]
pub fn not_tenant_enabled(function: &str, table: &str, registry: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{function}: {table} is not tenant-enabled"),
        format!("{registry} has no row for it, so relay has nothing recorded to undo."),
        "SELECT * FROM relay.relay_tenancy_status lists the tenant-enabled tables.".into(),
    )
}

/// DROP EXTENSION (or a cascade to it) while tables are tenant-enabled.
#[track_caller]
pub fn drop_with_enabled_tables(command: &str, tables: &[String], count: i64) -> ! {
    let more = if count as usize > tables.len() {
        format!(" and {} more", count as usize - tables.len())
    } else {
        String::new()
    };
    raise(
        PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop extension relay_tenancy: {count} table{} tenant-enabled", if count == 1 { " is" } else { "s are" }),
        format!(
            "{command} would drop tenants and audit_logs, and by cascade the policies, defaults and foreign keys of {}{more}: their rows would stay, with no tenant isolation.",
            tables.join(", ")
        ),
        "Disable them first (SELECT relay_disable_tenancy(relid, drop_column => true) FROM relay.relay_tables;, children before parents), or drop the tables, then drop the extension.".into(),
    )
}

/// DROP EXTENSION (or a cascade to it) while audit_logs holds entries.
#[track_caller]
pub fn drop_with_audit_entries(command: &str, audit: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop extension relay_tenancy: {audit} holds audit entries"),
        format!("{command} would drop {audit} with every tenant's entries, which nothing else keeps."),
        format!("Keep a copy first (pg_dump --table={audit}, or COPY {audit} TO ...), then SET relay.drop_audit_log = on in the session and drop again."),
    )
}

/// ATTACH PARTITION / INHERIT would put tenant-enabled `child` under `parent`, which
/// is not tenant-enabled.
#[track_caller]
pub fn tenant_table_under_open_parent(child: &str, parent: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("cannot put tenant-enabled {child} under {parent}: {parent} is not tenant-enabled"),
        format!("A query on {parent} reads the rows of {child} with {parent}'s row level security, which has none of relay's policies: every tenant's rows would be readable through it."),
        format!("Tenant-enable the parent first (SELECT relay_enable_tenancy({}); its partitions follow), then attach; or attach a table that is not tenant-enabled. Nothing was changed.", crate::model::quote::quote_literal(parent)),
    )
}

/// relay_disable_tenancy on a partition whose parent stays tenant-enabled.
#[track_caller]
pub fn partition_follows_parent(function: &str, table: &str, parent: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{function}: {table} is a partition of tenant-enabled {parent}"),
        format!("Its rows would stay readable through {parent} under {parent}'s policies, but not when it is queried directly: one partition cannot leave a tenant-enabled parent's isolation."),
        format!("Disable the parent ({function}({}) takes its partitions with it), or detach the partition first.", crate::model::quote::quote_literal(parent)),
    )
}

/// The capture trigger fired with row_security = off: a dump being loaded.
#[track_caller]
pub fn capture_during_bulk_load(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("relay_audit_capture refuses to record changes of {table} made with row_security = off"),
        "row_security = off is how pg_dump's output and pg_restore load rows: recording them would add every restored row to audit_logs again, next to the entries the dump already holds.".into(),
        "Restore a data-only dump with --disable-triggers, as a superuser (relay puts its guard triggers back to ALWAYS by itself), or restore the full dump; outside a restore, leave row_security on.".into(),
    )
}

/// relay_audit_purge with a cut-off in the future.
#[track_caller]
pub fn purge_in_future(before: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("relay_audit_purge: before ({before}) is in the future"),
        "Every entry, including those written a moment ago, would be deleted.".into(),
        "Pass the oldest time to keep, e.g. now() - interval '400 days'.".into(),
    )
}

/// An online run's catalog step could not get its lock within lock_timeout.
#[track_caller]
pub fn online_lock_timeout(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE,
        format!("relay_enable_tenancy (online) could not lock {table} within lock_timeout"),
        "A transaction holding a lock on the table (or on a table whose foreign key relay changes) did not finish in time; this run of catalog steps changed nothing.".into(),
        "Retry: run the same relay_tenancy_plan(..., online => true) line again (it resumes from the table as it is), at a quieter moment or with a longer lock_timeout.".into(),
    )
}

/// Capture in a database whose encoding is not UTF8.
#[track_caller]
pub fn capture_needs_utf8(table: &str, verb: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("cannot {verb} {table}: the database's encoding is not UTF8"),
        "Captured values are recorded as text in jsonb documents built in UTF-8; in another server encoding their non-ASCII characters would be recorded wrongly.".into(),
        "Capture needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8'); relay_audit() entries work in any encoding.".into(),
    )
}

/// One of relay's tables was renamed, and another table took its name.
#[track_caller]
pub fn not_relay_table(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{table} is not relay_tenancy's table"),
        "relay's own table of that name was renamed or replaced; relay neither reads nor writes a table the extension did not create (entries would go where no guard or policy protects them).".into(),
        "Rename relay's table back (ALTER TABLE ... RENAME TO ...), after renaming or dropping the one that took its name.".into(),
    )
}

/// relay_distribute without Citus.
#[track_caller]
pub fn citus_missing(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{function} needs Citus, which is not installed in this database"),
        "The citus extension is not in pg_extension.".into(),
        "Install Citus from Citus's packages, add it to shared_preload_libraries, CREATE EXTENSION citus and add the workers; relay_distribute_plan checks a schema without it.".into(),
    )
}

/// A session-wide tenant once tenants is a Citus table: Citus forwards only SET LOCAL.
#[track_caller]
pub fn session_tenant_not_distributed() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "relay_set_tenant with is_local => false cannot reach the Citus workers".into(),
        "relay's tables are distributed with Citus, which forwards a setting to the workers only when it is SET LOCAL in a transaction block; a session-wide tenant would hold on the coordinator only (the workers would see no tenant).".into(),
        "Set the tenant per transaction: BEGIN; SELECT relay_set_tenant('<tenant id>'); ... COMMIT;".into(),
    )
}

/// relay_disable_tenancy on a table Citus distributed.
#[track_caller]
pub fn undo_on_citus_table(function: &str, table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{function}: {table} is a Citus table"),
        "Undoing relay restores keys without the tenant column and drops its default, which Citus refuses on a table distributed on that column.".into(),
        format!("Make it local again first: SELECT undistribute_table({}); then run {function} again.", crate::model::quote::quote_literal(table)),
    )
}

/// relay_enable_audit on a table Citus distributed.
#[track_caller]
pub fn audit_on_citus_table(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("cannot audit {table}: it is a Citus table"),
        "Its rows live in shards on the workers, where a capture trigger would run, while audit_logs and its hash chain stay on the coordinator.".into(),
        "Audit the tables that stay local, or record the events from the application with relay_audit(...), which writes on the coordinator.".into(),
    )
}

/// relay_distribute on a Citus worker.
#[track_caller]
pub fn not_coordinator(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{function} must run on the Citus coordinator"),
        "citus_is_coordinator() is false on this node.".into(),
        "Connect to the coordinator (the node whose pg_dist_node lists the workers) and run it there.".into(),
    )
}

/// relay's tenant check on `table` names a column the table no longer has.
#[track_caller]
pub fn tenant_column_gone(table: &str, column: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("tenant column {} of {table} no longer exists", crate::model::quote::quote_ident(column)),
        format!("relay's tenant check on {table} reads column {} (the tenant column relay enabled the table with); it was renamed or dropped, so no row's tenant can be checked.", crate::model::quote::quote_ident(column)),
        format!("Rename the column back (ALTER TABLE {table} RENAME COLUMN <new name> TO {}), or disable tenancy on the table first.", crate::model::quote::quote_ident(column)),
    )
}

/// The caller may not create the foreign key from `table` to relay's tenants table.
#[track_caller]
pub fn references_on_tenants_needed(table: &str, tenants: &str, role: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("role {} cannot tenant-enable {table}: it lacks REFERENCES on {tenants}", crate::model::quote::quote_ident(role)),
        format!("relay_enable_tenancy adds a foreign key from {table}'s tenant column to {tenants}(id), created as the calling role, which PostgreSQL requires to hold REFERENCES on {tenants}."),
        format!("As a superuser or {tenants}'s owner: GRANT REFERENCES ON {tenants} TO {}; (README \"Deployment rules\"). Nothing was changed.", crate::model::quote::quote_ident(role)),
    )
}

/// CREATE TRIGGER / CREATE RULE on tenant-enabled (or relay's) `table` by a role that
/// does not own it and whose row level security applies.
#[track_caller]
pub fn foreign_code_on_tenant_table(tag: &str, table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{tag} on {table} refused: only its owner may attach code to a tenant-enabled table"),
        format!("A trigger or rule on {table} runs for every row any tenant writes and sees it whole (NEW, OLD): a role whose row level security applies could send other tenants' rows anywhere (pg_notify, a table of its own)."),
        format!("Revoke the privilege that allowed it (REVOKE TRIGGER ON {table} FROM <role>; GRANT ALL gives it); the table's owner may create triggers. Nothing was changed."),
    )
}

/// relay_audit with an action in relay's own namespace.
#[track_caller]
pub fn reserved_audit_action(action: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_RESERVED_NAME,
        format!("relay_audit: action {} is reserved for relay_tenancy", crate::model::quote::quote_literal(action)),
        "Actions starting with \"relay.\" are relay's own entries (relay.audit_purged, relay.tenant_deleted, ...); relay writes them itself, and tools that read the log trust them.".into(),
        "Name the application's actions without the \"relay.\" prefix, e.g. 'skill.published'.".into(),
    )
}

/// A non-superuser switched capture off on an audited table.
#[track_caller]
pub fn capture_silenced(command: &str, table: &str, trigger: &str, how: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{command} refused: it {how} capture trigger {trigger} on audited {table}"),
        format!("{table} is registered for capture (relay_enable_audit): with {trigger} {how}, changes to it would go unrecorded and nothing would say so."),
        format!("Stop capturing with SELECT relay_disable_audit({}), which records that it did; a superuser's change is let through with a WARNING and an entry relay.audit_disabled.", crate::model::quote::quote_literal(table)),
    )
}

/// The replay cache has no free slot for a new token.
#[track_caller]
pub fn token_replay_full() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
        "tenant token refused: relay's cache of used tokens is full".into(),
        "Each token is remembered until it expires so that it cannot be used twice; more unexpired tokens were spent than relay.token_replay_slots holds.".into(),
        "Mint tokens with a shorter lifetime (relay_tenant_token(tenant, '30 seconds')), or raise relay.token_replay_slots (server restart).".into(),
    )
}

/// Single-use tokens need the shared replay cache, which needs preloading.
#[track_caller]
pub fn token_replay_unavailable() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "tenant token refused: single-use tokens need relay_tenancy in shared_preload_libraries".into(),
        "relay remembers used tokens in shared memory, which only a library loaded at server start can have; without it a token read from pg_stat_activity could be replayed.".into(),
        "Set shared_preload_libraries = 'relay_tenancy' and restart, or (weaker) let tokens be reused until they expire: ALTER SYSTEM SET relay.token_reuse = on.".into(),
    )
}

/// relay.token_key_file is set but cannot be used.
#[track_caller]
pub fn token_key_file_unusable(problem: &str) -> ! {
    raise_as(
        sqlstate::TOKEN_KEY_MISSING,
        "signed mode's key file cannot be used".into(),
        format!("{problem}."),
        "As the server's operating-system user: openssl rand -hex 32 > <file>; chmod 600 <file>; then ALTER SYSTEM SET relay.token_key_file = '<file>'; SELECT pg_reload_conf();".into(),
    )
}

/// relay_audit_verify's digest is not one relay_audit_digest returned.
#[track_caller]
pub fn bad_audit_digest(what: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("relay_audit_verify: not an audit digest: {what}"),
        "A digest is the jsonb relay_audit_digest() returns: {\"taken_at\": ..., \"chains\": {\"<tenant>\": {\"seq\": <position>, \"hash\": \"<hex>\"}}}.".into(),
        "Pass the digest exactly as it was stored.".into(),
    )
}

/// The server's strong random source failed.
#[track_caller]
pub fn no_randomness() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        "could not generate a random nonce for the token".into(),
        "pg_strong_random failed.".into(),
        "Check the server's random source (/dev/urandom or OpenSSL).".into(),
    )
}

/// The locks a call needs were not all granted within lock_timeout.
#[track_caller]
pub fn locks_not_available(function: &str, tables: &[String], waited_ms: i64, tries: u64) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE,
        format!("{function} could not lock {} within lock_timeout", tables.join(", ")),
        format!("relay takes every lock a call needs before its first step, without waiting while it holds any (so it never deadlocks the application); other transactions kept one of these tables locked for {waited_ms} ms ({tries} attempts). Nothing was changed."),
        "Retry the call (it starts from the tables as they are), at a quieter moment or with a longer lock_timeout (SET lock_timeout = '30s'; 0 waits as long as it takes). pg_locks shows who holds them.".into(),
    )
}

/// An online conversion's call found a statement that must run on its own still to do.
#[track_caller]
pub fn online_step_pending(table: &str, next: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("online conversion of {table} is not complete: a statement that runs on its own has not run"),
        format!("Next, outside a transaction block: {next}. A concurrent index build that failed or was cancelled leaves an INVALID index, which the next plan drops and builds again."),
        format!("Run SELECT statement FROM relay_tenancy_plan({}, online => true) again and run its lines in order (it starts from the table as it is).", crate::model::quote::quote_literal(table)),
    )
}

/// Disabling a child whose foreign key would go back to a key the still-enabled parent
/// has only per tenant.
#[track_caller]
pub fn foreign_key_target_per_tenant(
    table: &str,
    fk: &str,
    parent: &str,
    columns: &[String],
    tenant_column: &str,
) -> ! {
    let cols = columns.join(", ");
    raise(
        PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot disable tenancy on {table}: foreign key {} would reference {parent} ({cols}), which has no unique key on ({cols})", crate::model::quote::quote_ident(fk)),
        format!("{parent} is tenant-enabled and relay made its key on ({cols}) per tenant: ({tenant_column}, {cols}). The foreign key can go back to ({cols}) only once that key is global again."),
        format!("Disable {parent} first: SELECT relay_disable_tenancy({}); its key and this foreign key go back together. Nothing was changed.", crate::model::quote::quote_literal(parent)),
    )
}

/// A schema call naming a tenant column some of its tables do not have.
#[track_caller]
pub fn schema_tables_lack_column(schema: &str, column: &str, tables: &[String]) -> ! {
    let q = |t: &String| crate::model::quote::quote_qualified(schema, t);
    let shown: Vec<String> = tables.iter().take(10).map(q).collect();
    let more = if tables.len() > 10 {
        format!(" and {} more", tables.len() - 10)
    } else {
        String::new()
    };
    let array: Vec<String> = tables
        .iter()
        .map(|t| crate::model::quote::quote_literal(&q(t)))
        .collect();
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
        format!(
            "{} table(s) of schema {} have no column {} to hold the tenant",
            tables.len(),
            crate::model::quote::quote_ident(schema),
            crate::model::quote::quote_ident(column)
        ),
        format!("tenant_column names a column every tenant table must already have; these lack it: {}{more}.", shown.join(", ")),
        format!(
            "Add the column to the tables that belong to a tenant, let a table that belongs to one through a parent take it from there (tenant_from => ARRAY['<table>.<foreign key>']), and leave the others out: shared => ARRAY[{}]::regclass[] (reference data every tenant reads) or exclude => the same list. Nothing was changed.",
            array.join(", ")
        ),
    )
}

/// relay_use_tenant_registry by a role that is neither a superuser nor the extension's owner.
#[track_caller]
pub fn registry_needs_extension_owner(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{function} is for a superuser or the owner of extension relay_tenancy"),
        "The tenant registry decides which tenant ids exist for every tenant-enabled table and every session; the current role is neither.".into(),
        format!("Run it as the role that ran CREATE EXTENSION relay_tenancy (or a superuser), once, before the first relay_enable_tenancy: SELECT {function}('organizations');"),
    )
}

/// The registry named is not an ordinary permanent table of the application.
#[track_caller]
pub fn registry_wrong_kind(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
        format!("{table} cannot be the tenant registry"),
        format!("{table} is not an ordinary permanent table of the application (a view, a partitioned, temporary or unlogged table, or an extension's table)."),
        "Name the application's own table of tenants (organizations, accounts), or NULL for relay's tenants.".into(),
    )
}

/// A column named for the registry is not there.
#[track_caller]
pub fn registry_column_missing(table: &str, column: &str, argument: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
        format!(
            "column {} of {table} does not exist",
            crate::model::quote::quote_ident(column)
        ),
        format!(
            "{argument} names {}, which {table} does not have.",
            crate::model::quote::quote_ident(column)
        ),
        format!("Pass {argument} => '<column>' naming a column of {table}."),
    )
}

/// A column named for the registry has a type relay cannot use for it.
#[track_caller]
pub fn registry_column_type(table: &str, column: &str, found: &str, wanted: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        format!(
            "column {} of {table} is {found}: it must be {wanted}",
            crate::model::quote::quote_ident(column)
        ),
        format!(
            "{table}.{} is of type {found}.",
            crate::model::quote::quote_ident(column)
        ),
        format!("Name a column of type {wanted}."),
    )
}

/// The registry's id column has no unique index a foreign key (and relay's probe) can use.
#[track_caller]
pub fn registry_not_unique(table: &str, column: &str) -> ! {
    let col = crate::model::quote::quote_ident(column);
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_FOREIGN_KEY,
        format!("no unique key on {table} ({col})"),
        format!("Tenant columns will reference {table}({col}), and relay looks tenants up by it: that needs a primary key or unique constraint on {col} alone (not partial, not deferrable)."),
        format!("ALTER TABLE {table} ADD PRIMARY KEY ({col}), or name the column that has one."),
    )
}

/// The registry cannot change while tables are tenant-enabled against the one in use.
#[track_caller]
pub fn registry_tables_enabled(current: &str, tables: &[String]) -> ! {
    let shown: Vec<&str> = tables.iter().take(10).map(String::as_str).collect();
    let more = if tables.len() > shown.len() {
        format!(" and {} more", tables.len() - shown.len())
    } else {
        String::new()
    };
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("cannot change the tenant registry: {} table(s) are tenant-enabled against {current}", tables.len()),
        format!("Tenant-enabled now: {}{more}. Their tenant columns reference (or are checked against) {current}.", shown.join(", ")),
        "Choose the registry before the first relay_enable_tenancy, or disable those tables first (relay_disable_tenancy_schema), change the registry, and enable them again. Nothing was changed.".into(),
    )
}

/// The application's own registry on a Citus cluster.
#[track_caller]
pub fn registry_with_citus(function: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{function} is not supported once relay_distribute has run"),
        "relay's tenants is a Citus reference table here, and every node checks tenants against it.".into(),
        "Keep relay's tenants on a Citus cluster (copy the application's ids into it).".into(),
    )
}

/// relay_create_tenant with the application's own registry: tenants are its rows.
#[track_caller]
pub fn create_tenant_with_registry(registry: &crate::model::registry::Registry) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "tenants are rows of {}: relay_create_tenant does not apply",
            registry.table
        ),
        format!(
            "relay_use_tenant_registry made {} the tenant registry.",
            registry.table
        ),
        format!(
            "Insert the tenant into {} as the application does; it is usable at once.",
            registry.table
        ),
    )
}

/// relay_suspend_tenant / relay_resume_tenant with a registry that has no active column.
#[track_caller]
pub fn registry_without_active_column(
    function: &str,
    registry: &crate::model::registry::Registry,
) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{function}: the tenant registry {} has no active column", registry.table),
        format!("relay_use_tenant_registry named {} without active_column, so relay has nowhere to record a suspension.", registry.table),
        format!("Name a boolean column: SELECT relay_use_tenant_registry('{}', '{}', active_column => 'is_active') (before tables are enabled), or suspend in the application.", registry.table, registry.id_column),
    )
}

/// DROP of the table relay_use_tenant_registry named.
#[track_caller]
pub fn registry_dropped(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop {table}: it is relay's tenant registry"),
        format!("relay_use_tenant_registry made {table} the table every tenant check reads (relay_set_tenant, tenant keys, relay_tenant_exists)."),
        "Disable the tables enabled against it, then SELECT relay_use_tenant_registry(NULL), then drop it.".into(),
    )
}

/// tenant_from names no foreign key of the table.
#[track_caller]
pub fn tenant_from_unknown_key(function: &str, table: &str, fk: &str, keys: &[String]) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        format!("{function}: {table} has no foreign key {}", crate::model::quote::quote_ident(fk)),
        if keys.is_empty() {
            format!("{table} has no foreign keys; tenant_from names the key whose parent row gives each row its tenant.")
        } else {
            format!("Its foreign keys: {}.", keys.join(", "))
        },
        "Pass tenant_from => '<constraint name>' of a foreign key to a tenant-enabled table, or add a tenant column instead.".into(),
    )
}

/// tenant_from's parent is not tenant-enabled: it has no tenant to give.
#[track_caller]
pub fn tenant_from_parent_not_enabled(function: &str, table: &str, fk: &str, parent: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("{function}: {parent} is not tenant-enabled, so {table} cannot take its tenant through {}", crate::model::quote::quote_ident(fk)),
        format!("tenant_from fills {table}'s tenant column from the rows of {parent} that {} references; {parent} has no tenant column of relay's.", crate::model::quote::quote_ident(fk)),
        format!("Enable {parent} first (SELECT relay_enable_tenancy('{parent}')), or let the schema call order them. Nothing was changed."),
    )
}

/// tenant_from with a tenant_column other than the parent's.
#[track_caller]
pub fn tenant_from_column_mismatch(
    table: &str,
    asked: &str,
    parent_column: &str,
    parent: &str,
) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("tenant_column {} differs from {parent}'s tenant column {}", crate::model::quote::quote_ident(asked), crate::model::quote::quote_ident(parent_column)),
        format!("With tenant_from, {table} takes the tenant column of its parent {parent}: the composite key pairs the two columns by name."),
        format!("Omit tenant_column, or pass tenant_column => '{parent_column}'."),
    )
}

/// tenant_from on a table that has the tenant column already.
#[track_caller]
pub fn tenant_from_column_exists(table: &str, column: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DUPLICATE_COLUMN,
        format!("{table} already has column {}", crate::model::quote::quote_ident(column)),
        format!("tenant_from adds {} and fills it from the parent; {table} has one already.", crate::model::quote::quote_ident(column)),
        format!("Omit tenant_from to adopt the column as it is (relay_enable_tenancy('{table}', tenant_column => '{column}')), or drop it first."),
    )
}

/// A schema call's tenant_from entry naming no table it enables.
#[track_caller]
pub fn schema_tenant_from_unknown(entry: &str, schema: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        format!("tenant_from entry \"{entry}\" names no table being tenant-enabled in schema \"{schema}\""),
        "In the schema call each entry is table.fk: the table's name (unqualified), a dot, then the name of its foreign key to the parent that gives each row its tenant.".into(),
        "Write e.g. 'project_tags.project_tags_project_id_fkey'; leave out tables listed in exclude or shared.".into(),
    )
}

/// Two tenant_from entries for one table.
#[track_caller]
pub fn schema_tenant_from_twice(table: &str, keys: &[String]) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("tenant_from names {} foreign keys of {table}", keys.len()),
        format!("Entries for {table}: {}. A row takes its tenant from one parent.", keys.join(", ")),
        "Keep one entry per table: the key to the parent whose tenant the rows belong to (the other keys become composite with it).".into(),
    )
}

/// shared_rows asked otherwise than recorded for an enabled table.
#[track_caller]
pub fn shared_rows_changed(table: &str, was: bool) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("{table} is tenant-enabled with shared_rows => {was}: it cannot change in place"),
        "Shared rows keep the tenant column nullable and widen relay's policies to the rows of no tenant; the other way the column is NOT NULL.".into(),
        format!("Leave shared_rows out (the recorded value is used), or disable tenancy on {table} and enable it again with shared_rows => {}.", !was),
    )
}

/// shared_rows with default_tenant: rows without a tenant stay shared.
#[track_caller]
pub fn shared_rows_with_default_tenant(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("default_tenant does not apply to {table} with shared_rows"),
        "With shared_rows the rows that have no tenant are the shared ones: none is given a default tenant.".into(),
        format!("Leave default_tenant out, or set the tenant of the rows that belong to one first (UPDATE {table} SET ...)."),
    )
}

/// relay_distribute on what relay does not distribute.
#[track_caller]
pub fn distribute_unsupported(function: &str, what: &str, hint: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{function}: not supported here: {what}"),
        "relay_distribute makes relay's tenants a reference table every node checks tenants against, and writes relay's plain policy rule on every shard.".into(),
        format!("{hint} Nothing was changed."),
    )
}

/// An enabled table's tenant column was renamed.
#[track_caller]
pub fn tenant_column_renamed(table: &str, recorded: &str, now: &str) -> ! {
    let (recorded, now) = (
        crate::model::quote::quote_ident(recorded),
        crate::model::quote::quote_ident(now),
    );
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("the tenant column {recorded} of {table} was renamed to {now}"),
        format!("relay's registry records {recorded} as the tenant column of {table}, and column {now} carries relay's default or its key to the tenant registry. Nothing was changed."),
        format!("Rename it back: ALTER TABLE {table} RENAME COLUMN {now} TO {recorded}; (a superuser: SET LOCAL relay.allow_unsafe_ddl = on first), then call again."),
    )
}

/// relay_online_wait inside a transaction block: it commits between polls so that it
/// holds no snapshot the worker's concurrent index builds would wait for.
#[track_caller]
pub fn online_wait_in_transaction_block() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_ACTIVE_SQL_TRANSACTION,
        "relay_online_wait cannot run inside a transaction block".into(),
        "The background worker's concurrent index builds wait for every transaction older than them: a transaction that waited for the worker would wait for itself.".into(),
        "CALL relay_online_wait(...) on its own, outside BEGIN ... COMMIT: after the migration that queued the conversion has committed (a migration of its own that runs outside a transaction, or a deploy step).".into(),
    )
}

/// relay_online_wait on a table with no background conversion queued.
#[track_caller]
pub fn online_wait_nothing_queued(table: &str) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("no online conversion of {table} was queued"),
        format!("relay.online_conversions has no job for {table}."),
        format!(
            "Queue one with SELECT relay_enable_tenancy_background({}) (and commit) first.",
            crate::model::quote::quote_literal(table)
        ),
    )
}

/// relay_online_wait by a role that is not the one that queued the job.
#[track_caller]
pub fn online_wait_not_allowed(table: &str, job: i64) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("permission denied to wait for online conversion #{job} of {table}"),
        "Only the role that queued a conversion (or a member of it, or a superuser) may wait for it: its outcome may name rows of the table.".into(),
        "Wait as the role that called relay_enable_tenancy_background.".into(),
    )
}
