//! The names relay gives things: its column, policies, triggers, the default tenant,
//! A leaf: every layer may use it, it uses nothing.

pub const TENANT_COLUMN: &str = "tenant_id";
/// relay's RESTRICTIVE policy: ANDed with every other policy of the table, whenever
/// that policy was created, so no policy can open another tenant's rows.
pub const POLICY_NAME: &str = "tenant_isolation";
/// relay's PERMISSIVE companion, created only when the table has no permissive policy
/// of its own (PostgreSQL grants no row without at least one permissive policy).
pub const ACCESS_POLICY_NAME: &str = "tenant_access";
/// The comment that marks a policy as relay's own; `catalog` looks for the prefix.
pub const POLICY_MARKER: &str = "relay_tenancy: rows of the tenant in app.current_tenant_id only";
pub const ACCESS_POLICY_MARKER: &str =
    "relay_tenancy: grants what tenant_isolation allows (the table had no permissive policy of its own)";
/// A table with shared rows (`shared_rows => true`): RESTRICTIVE policies that keep
/// UPDATE and DELETE to the session tenant's own rows (its USING lets every tenant
/// read the rows of no tenant).
pub const SHARED_UPDATE_POLICY: &str = "tenant_own_updates";
pub const SHARED_DELETE_POLICY: &str = "tenant_own_deletes";
pub const SHARED_POLICY_MARKER: &str =
    "relay_tenancy: the shared rows (no tenant) are read-only for tenants";
/// The trigger that refuses TRUNCATE to roles subject to row level security.
pub const TRUNCATE_GUARD_TRIGGER: &str = "relay_tenant_truncate_guard";
/// On tables whose tenant column is not text (no foreign key to tenants.id possible):
/// new and changed rows must name an existing tenant.
pub const TENANT_EXISTS_TRIGGER: &str = "relay_tenant_exists";
/// The tenant every pre-existing row belongs to unless the caller names another.
pub const DEFAULT_TENANT_ID: &str = "default-tenant-000-0000-000000000000";
