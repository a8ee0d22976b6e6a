-- The application's own tenant table as relay's registry (issue 22, item 1). A SaaS
-- schema already has organizations (uuid ids, an active flag) and organization_id
-- columns: relay_use_tenant_registry makes relay check tenants there, so a new
-- organization is usable the moment the application inserts it. Run with the roles a
-- deployment has: a superuser operator (the test's role), a non-superuser migration
-- role that owns the tables (reg_owner), an application login role (reg_app). In a
-- database of its own: the registry is one per database.
CREATE DATABASE relay_registry;
\c relay_registry
CREATE EXTENSION relay_tenancy;
\set ECHO none
\i include/expect_error.sql
\set ECHO all
\set VERBOSITY verbose
CREATE ROLE reg_owner LOGIN;
CREATE ROLE reg_app LOGIN;
GRANT CREATE ON SCHEMA public TO reg_owner;

SET ROLE reg_owner;
CREATE TABLE organizations (
  id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name   text NOT NULL UNIQUE,
  active boolean NOT NULL DEFAULT true
);
CREATE TABLE projects (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  name            text NOT NULL
);
CREATE TABLE tasks (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id uuid NOT NULL,
  project_id      bigint NOT NULL REFERENCES projects (id),
  title           text NOT NULL
);
CREATE TABLE labels (id bigint PRIMARY KEY, name text NOT NULL);
CREATE VIEW organization_names AS SELECT id, name FROM organizations;
INSERT INTO organizations (id, name) VALUES
  ('00000000-0000-4000-8000-00000000000a', 'Acme'),
  ('00000000-0000-4000-8000-00000000000b', 'Globex');
INSERT INTO projects (organization_id, name) VALUES
  ('00000000-0000-4000-8000-00000000000a', 'acme-web'),
  ('00000000-0000-4000-8000-00000000000b', 'globex-web');
INSERT INTO tasks (organization_id, project_id, title) VALUES
  ('00000000-0000-4000-8000-00000000000a', 1, 'ship'),
  ('00000000-0000-4000-8000-00000000000b', 2, 'plan');
INSERT INTO labels VALUES (1, 'urgent');
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, projects, tasks, labels TO reg_app;
RESET ROLE;

-- 1. Who chooses the registry: a superuser or the extension's owner, not the
-- migration role (the registry decides which tenant ids exist for every table).
SET ROLE reg_owner;
SELECT * FROM expect_error($$SELECT relay_use_tenant_registry('organizations')$$);
RESET ROLE;

-- 2. What can be a registry: a permanent table with a unique id column of a tenant
-- type, and a boolean active column when one is named.
\x on
SELECT s.n, e.* FROM (VALUES
    (1, $$SELECT relay_use_tenant_registry('organization_names')$$),
    (2, $$SELECT relay_use_tenant_registry('organizations', id_column => 'org_id')$$),
    (3, $$SELECT relay_use_tenant_registry('organizations', id_column => 'active')$$),
    (4, $$SELECT relay_use_tenant_registry('projects', id_column => 'organization_id')$$),
    (5, $$SELECT relay_use_tenant_registry('organizations', active_column => 'name')$$),
    (6, $$SELECT relay_use_tenant_registry('organizations', active_column => 'enabled')$$)) s(n, stmt),
  LATERAL expect_error(s.stmt) e ORDER BY s.n;
\x off

-- 3. The operator names organizations, suspended while active is not true. Again:
-- unchanged.
SELECT relay_use_tenant_registry('organizations', active_column => 'active');
SELECT relay_use_tenant_registry('organizations', active_column => 'active');

-- 4. The migration role converts. projects already references organizations: its key
-- is kept, no trigger, no second key. tasks gets the key to organizations(id) its
-- organization_id lacked. labels has no tenant column: it gets one of the registry's
-- type (uuid), and its rows need a tenant that is a row of organizations.
SET ROLE reg_owner;
SELECT * FROM relay_enable_tenancy('projects', tenant_column => 'organization_id');
SELECT * FROM relay_enable_tenancy('tasks', tenant_column => 'organization_id');
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('labels')$$);
SELECT * FROM relay_enable_tenancy('labels', default_tenant => '00000000-0000-4000-8000-00000000000a');
RESET ROLE;
SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f' ORDER BY 1, 2;
SELECT table_name, tenant_column, column_type, tenant_foreign_key, problems
  FROM relay.relay_tenancy_status ORDER BY 1;

-- 5. The application creates an organization and uses it at once: no copy into
-- relay's tenants, no privileged sync trigger.
SET ROLE reg_app;
INSERT INTO organizations (id, name) VALUES ('00000000-0000-4000-8000-00000000000c', 'Initech');
BEGIN;
SELECT relay_set_tenant('00000000-0000-4000-8000-00000000000c');
INSERT INTO projects (name) VALUES ('initech-web');
INSERT INTO labels (id, name) VALUES (2, 'later');
SELECT organization_id, name FROM projects;
COMMIT;
BEGIN;
SELECT relay_set_tenant('00000000-0000-4000-8000-00000000000a');
SELECT organization_id, name FROM projects;
SELECT tenant_id, name FROM labels;
COMMIT;
-- Unknown ids, and ids that are not uuids: relay's 22023 naming the registry.
BEGIN;
SELECT * FROM expect_error($$SELECT relay_set_tenant('00000000-0000-4000-8000-0000000000ff')$$);
SELECT * FROM expect_error($$SELECT relay_set_tenant('acme')$$);
ROLLBACK;
-- Suspension is the registry's active column.
UPDATE organizations SET active = false WHERE name = 'Initech';
BEGIN;
SELECT * FROM expect_error($$SELECT relay_set_tenant('00000000-0000-4000-8000-00000000000c')$$);
ROLLBACK;
UPDATE organizations SET active = true WHERE name = 'Initech';
RESET ROLE;

-- 6. Tenant administration follows the registry: relay_create_tenant points at it,
-- suspend and resume write its active column, and relay_delete_tenant deletes the
-- tenant's rows and then its organization (as the table's owner).
SELECT * FROM expect_error($$SELECT relay_create_tenant('Hooli', 'hooli')$$);
-- A row naming an organization that does not exist is refused by the foreign key
-- (23503), also for a role that bypasses row level security.
SELECT * FROM expect_error($$INSERT INTO tasks (organization_id, project_id, title) VALUES ('00000000-0000-4000-8000-0000000000ff', 1, 'x')$$);
SELECT relay_suspend_tenant('00000000-0000-4000-8000-00000000000b');
SELECT name, active FROM organizations ORDER BY name;
SELECT relay_resume_tenant('00000000-0000-4000-8000-00000000000b');
SELECT * FROM relay_delete_tenant('00000000-0000-4000-8000-00000000000b');
SELECT name FROM organizations ORDER BY name;
SELECT * FROM expect_error($$SELECT * FROM relay_delete_tenant('00000000-0000-4000-8000-00000000000b')$$);

-- Nor scale out with Citus (every node checks tenants against relay's tenants).
SELECT * FROM expect_error($$SELECT * FROM relay_distribute_plan('public')$$);

-- 7. The registry cannot change under enabled tables (their keys point at it).
SELECT * FROM expect_error($$SELECT relay_use_tenant_registry(NULL)$$);
-- Nor can it be dropped, even by its owner with CASCADE (which would drop the keys).
SET ROLE reg_owner;
SET client_min_messages = warning;
SELECT * FROM expect_error($$DROP TABLE organizations CASCADE$$);
RESET client_min_messages;
RESET ROLE;

-- 8. Undo: every table back, then relay's own tenants again. projects keeps the key
-- it had; the ones relay added are gone.
SET ROLE reg_owner;
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('labels', drop_column => true);
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('tasks');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('projects');
RESET ROLE;
SELECT relay_use_tenant_registry(NULL);
SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f' ORDER BY 1, 2;
BEGIN;
SELECT * FROM expect_error($$SELECT relay_set_tenant('00000000-0000-4000-8000-00000000000a')$$);
ROLLBACK;


-- 9. A registry keyed by bigint. An integer tenant column references it with a
-- foreign key (PostgreSQL compares the two integer types); a text one cannot, so its
-- rows are checked once and a trigger checks new ones, against the registry.
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts VALUES (7, 'Seven'), (8, 'Eight');
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id integer NOT NULL, total numeric);
CREATE TABLE notes (id bigint PRIMARY KEY, account_ref text NOT NULL, body text);
INSERT INTO invoices VALUES (1, 7, 10), (2, 8, 20);
INSERT INTO notes VALUES (1, '7', 'hello');
SELECT relay_use_tenant_registry('accounts');
SELECT * FROM relay_enable_tenancy('invoices', tenant_column => 'account_id') WHERE relay_enable_tenancy LIKE '%foreign key%';
INSERT INTO notes VALUES (2, '9', 'nobody');
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('notes', tenant_column => 'account_ref')$$);
DELETE FROM notes WHERE id = 2;
SELECT * FROM relay_enable_tenancy('notes', tenant_column => 'account_ref') WHERE relay_enable_tenancy LIKE '%trigger relay_tenant_exists%' OR relay_enable_tenancy LIKE '%checked%';
BEGIN;
SELECT relay_set_tenant('8');
SELECT id, account_id, total FROM invoices;
INSERT INTO notes (id, body) VALUES (3, 'from eight');
SELECT * FROM expect_error($$SELECT relay_set_tenant('seven')$$);
ROLLBACK;
SELECT * FROM expect_error($$INSERT INTO notes VALUES (4, '9', 'nobody')$$);
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('notes');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('invoices');
SELECT relay_use_tenant_registry(NULL);

\c regression
DROP DATABASE relay_registry;
DROP ROLE reg_owner, reg_app;
