// The application's schema after `relay_enable_tenancy` (migration 0001): each
// tenant table declares what relay made of it, so drizzle-kit generate finds nothing
// to change (relay keeps constraint names; it adds the tenant column with its
// default, the key to relay.tenants, the (tenant_id, id) key composite foreign keys
// point at, the tenant index, and its two policies with row level security).
import { bigserial, bigint, foreignKey, index, pgTable, text, unique, uniqueIndex } from 'drizzle-orm/pg-core';
import { relayPolicies, relayTenants, tenantColumn } from '@relay-tenancy/drizzle';

export const projects = pgTable('projects', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  code: text('code').notNull(),
  name: text('name').notNull(),
  tenantId: tenantColumn('projects'),
}, (t) => [
  unique('projects_code_key').on(t.tenantId, t.code),
  uniqueIndex('projects_tenant_id_id_key').on(t.tenantId, t.id),
  foreignKey({ name: 'projects_tenant_id_fkey', columns: [t.tenantId], foreignColumns: [relayTenants.id] }),
  ...relayPolicies('projects'),
]).enableRLS();

export const tasks = pgTable('tasks', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  projectId: bigint('project_id', { mode: 'number' }).notNull(),
  title: text('title').notNull(),
  tenantId: tenantColumn('tasks'),
}, (t) => [
  index('ix_tasks_project_id').on(t.projectId),
  index('tasks_tenant_id_idx').on(t.tenantId),
  foreignKey({ name: 'tasks_project_id_projects_id_fk', columns: [t.tenantId, t.projectId], foreignColumns: [projects.tenantId, projects.id] }),
  foreignKey({ name: 'tasks_tenant_id_fkey', columns: [t.tenantId], foreignColumns: [relayTenants.id] }),
  ...relayPolicies('tasks'),
]).enableRLS();
