// The schema before tenancy (what migration 0000 was generated from).
import { bigserial, bigint, index, pgTable, text, unique } from 'drizzle-orm/pg-core';

export const projects = pgTable('projects', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  code: text('code').notNull(),
  name: text('name').notNull(),
}, (t) => [unique('projects_code_key').on(t.code)]);

export const tasks = pgTable('tasks', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  projectId: bigint('project_id', { mode: 'number' }).notNull().references(() => projects.id),
  title: text('title').notNull(),
}, (t) => [index('ix_tasks_project_id').on(t.projectId)]);
