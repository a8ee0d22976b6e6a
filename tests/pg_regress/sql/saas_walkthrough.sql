-- The README's walk-through, "A SaaS schema with its own organizations table", run as
-- written: the application's organizations table as relay's registry, organization_id
-- adopted, a join table that takes its tenant from its parent, a table of shared
-- reference data, predefined rows every tenant reads, tables added later. With the
-- roles a deployment has: the extension's owner (the test's superuser), a migration
-- role that owns the tables, an application login role. A database of its own.
CREATE DATABASE relay_saas;
\c relay_saas
CREATE EXTENSION relay_tenancy;
\set VERBOSITY verbose
CREATE ROLE saas_migrator LOGIN;
CREATE ROLE saas_app LOGIN;
GRANT CREATE ON SCHEMA public TO saas_migrator;

-- The application's schema, as its migrations left it.
SET ROLE saas_migrator;
CREATE TABLE organizations (
  id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name   text NOT NULL,
  active boolean NOT NULL DEFAULT true
);
CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations,
  plan_id         int REFERENCES plans,
  name            text NOT NULL,
  UNIQUE (organization_id, name)
);
CREATE TABLE project_members (
  project_id bigint NOT NULL REFERENCES projects,
  email      text NOT NULL,
  PRIMARY KEY (project_id, email)
);
CREATE TABLE roles (
  id              int PRIMARY KEY,
  organization_id uuid REFERENCES organizations,
  name            text NOT NULL
);
INSERT INTO organizations (id, name) VALUES
  ('0e6f1d2a-0000-4000-8000-000000000001', 'Acme'),
  ('0e6f1d2a-0000-4000-8000-000000000002', 'Globex');
INSERT INTO plans VALUES (1, 'free'), (2, 'team');
INSERT INTO projects (organization_id, plan_id, name) VALUES
  ('0e6f1d2a-0000-4000-8000-000000000001', 1, 'rocket'),
  ('0e6f1d2a-0000-4000-8000-000000000002', 2, 'dome');
INSERT INTO project_members VALUES (1, 'wile@acme.test'), (2, 'hank@globex.test');
INSERT INTO roles VALUES (1, NULL, 'admin'), (2, NULL, 'viewer'),
  (3, '0e6f1d2a-0000-4000-8000-000000000001', 'acme-auditor');
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, projects, project_members, roles TO saas_app;
GRANT SELECT ON plans TO saas_app;
RESET ROLE;

-- Step 1, once, as the extension's owner: organizations is the tenant registry.
SELECT relay_use_tenant_registry('organizations', active_column => 'active');

-- Step 2, the migration, as the migration role: look at the plan, then convert.
SET ROLE saas_migrator;
SELECT table_name, count(*) AS steps
  FROM relay_tenancy_schema_plan('public', tenant_column => 'organization_id',
         shared => ARRAY['plans']::regclass[], exclude => ARRAY['roles']::regclass[],
         tenant_from => ARRAY['project_members.project_members_project_id_fkey'])
 GROUP BY 1 ORDER BY 1;
SELECT table_name, count(*) AS actions, min(action) FILTER (WHERE action LIKE 'skipped%') AS skipped
  FROM relay_enable_tenancy_schema('public', tenant_column => 'organization_id',
         shared => ARRAY['plans']::regclass[], exclude => ARRAY['roles']::regclass[],
         tenant_from => ARRAY['project_members.project_members_project_id_fkey'])
 GROUP BY 1 ORDER BY 1;
-- Predefined roles (no organization) are read by every organization.
SELECT count(*) AS actions FROM relay_enable_tenancy('roles', tenant_column => 'organization_id', shared_rows => true);
RESET ROLE;
SELECT table_name, tenant_column, column_type, problems FROM relay.relay_tenancy_status ORDER BY 1;

-- Step 3, the application: a new organization is usable at once; each request sets it.
SET ROLE saas_app;
INSERT INTO organizations (id, name) VALUES ('0e6f1d2a-0000-4000-8000-000000000003', 'Initech');
BEGIN;
SELECT relay_set_tenant('0e6f1d2a-0000-4000-8000-000000000003');
INSERT INTO projects (plan_id, name) VALUES (1, 'tps');
INSERT INTO project_members (project_id, email) SELECT id, 'peter@initech.test' FROM projects WHERE name = 'tps';
SELECT p.name, m.email FROM projects p JOIN project_members m ON m.project_id = p.id;
SELECT name FROM roles ORDER BY id;
COMMIT;
BEGIN;
SELECT relay_set_tenant('0e6f1d2a-0000-4000-8000-000000000001');
SELECT p.name, m.email, pl.name AS plan FROM projects p JOIN project_members m ON m.project_id = p.id JOIN plans pl ON pl.id = p.plan_id;
COMMIT;
RESET ROLE;

-- Step 4, tables added later: the schema's options are recorded, relay.auto_enable
-- applies them at CREATE TABLE.
ALTER DATABASE relay_saas SET relay.auto_enable = on;
\c relay_saas
SET ROLE saas_migrator;
CREATE TABLE invoices (id bigint PRIMARY KEY, organization_id uuid NOT NULL REFERENCES organizations, total numeric);
RESET ROLE;
SELECT table_name, tenant_column FROM relay.relay_tenancy_status WHERE table_name = 'invoices'::regclass;

-- Step 5, the checks a deployment gates on.
SELECT severity, object FROM relay_verify() WHERE severity = 'error' ORDER BY 2;
SELECT check_name FROM relay_security_check() WHERE NOT ok AND check_name NOT IN ('preloaded', 'context_mode') ORDER BY 1;

-- And back: the whole schema as it was, then relay's own tenants again.
ALTER DATABASE relay_saas RESET relay.auto_enable;
SET ROLE saas_migrator;
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy_schema('public', drop_column => true);
RESET ROLE;
SELECT relay_use_tenant_registry(NULL);

\c regression
DROP DATABASE relay_saas;
DROP ROLE saas_migrator, saas_app;
