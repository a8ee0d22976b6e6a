-- drizzle-kit generate wrote, from schema.ts's tenancy declarations (tenantColumn,
-- relayPolicies, .enableRLS()), the DDL for the tenant column and its default, the
-- keys with tenant_id in front, the key to relay.tenants, the tenant index and the
-- two policies. relay_enable_tenancy makes those same changes (and forces row level
-- security, adds the TRUNCATE guard, checks every existing row, records the table
-- for undo), so this migration calls it instead; drizzle's snapshot of schema.ts is
-- kept, and tests/scripts/clients.sh checks the database against it.
SELECT public.relay_enable_tenancy('projects');--> statement-breakpoint
SELECT public.relay_enable_tenancy('tasks');
