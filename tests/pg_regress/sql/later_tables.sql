-- Tables added after the conversion (issue 22, item 4). The schema call records the
-- options it was called with (relay_schemas), so a re-run without arguments uses them
-- (before: 42703 for the shared table lacking the tenant column). A table created
-- later that references a tenant-enabled table, or has the schema's tenant column, is
-- reported by relay_verify and relay_security_check; with relay.auto_enable on it is
-- tenant-enabled at CREATE TABLE with the schema's options.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA ae;
CREATE TABLE ae.plans (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE ae.projects (id bigint PRIMARY KEY, org text NOT NULL, name text NOT NULL);
CREATE TABLE ae.members (project_id bigint NOT NULL REFERENCES ae.projects (id), login text NOT NULL,
  PRIMARY KEY (project_id, login));
INSERT INTO ae.plans VALUES (1, 'free');
INSERT INTO ae.projects VALUES (1, 'acme', 'rocket');
INSERT INTO ae.members VALUES (1, 'wile');

-- 1. The schema call, and what it records.
SELECT table_name, count(*) > 0 AS done
  FROM relay_enable_tenancy_schema('ae', shared => ARRAY['ae.plans']::regclass[], tenant_column => 'org',
                                   tenant_from => ARRAY['members.members_project_id_fkey'])
 GROUP BY 1 ORDER BY 1;
SELECT schema_name, options FROM relay.relay_schemas WHERE schema_name = 'ae';

-- 2. A re-run without arguments uses the recorded options, and says so.
SELECT * FROM relay_enable_tenancy_schema('ae');
SELECT table_name, step, action FROM relay_tenancy_schema_plan('ae') WHERE step = 0 ORDER BY 1, 3;

-- 3. Tables created later, not tenant-enabled: one with the schema's tenant column,
-- one that only references a tenant table. Both checks name them, with the statement.
CREATE TABLE ae.tasks (id bigint PRIMARY KEY, org text NOT NULL, project_id bigint REFERENCES ae.projects (id));
CREATE TABLE ae.notes (id bigint PRIMARY KEY, project_id bigint REFERENCES ae.projects (id), body text);
SELECT severity, object, problem, fix FROM relay_verify()
 WHERE object LIKE 'table ae.%' AND problem NOT LIKE 'is owned by login role%' ORDER BY 2, 3;
-- (the detail lists every such table of the database: earlier files leave some)
SELECT check_name, ok, detail LIKE '%: ae.notes, ae.tasks%' AS names_them, substring(detail from 'Fix: .*') AS fix
  FROM relay_security_check() WHERE check_name = 'later_tables_enabled';
DROP TABLE ae.tasks, ae.notes;

-- 4. relay.auto_enable: a table created in the converted schema is enabled at once,
-- with the schema's options (here tenant_column => org), as the role creating it.
SET relay.auto_enable = on;
CREATE TABLE ae.comments (id bigint PRIMARY KEY, org text NOT NULL, project_id bigint REFERENCES ae.projects (id), body text);
SELECT table_name, tenant_column, problems FROM relay.relay_tenancy_status WHERE table_name = 'ae.comments'::regclass;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ae.comments'::regclass AND contype = 'f' ORDER BY 1;
-- A table without the column cannot be enabled so: its CREATE TABLE fails (42703).
SELECT * FROM expect_error($$CREATE TABLE ae.loose (id bigint PRIMARY KEY)$$);
-- Migration bookkeeping, temporary tables and schemas never converted are left alone.
CREATE TABLE ae.schema_migrations (version text PRIMARY KEY);
CREATE TEMP TABLE scratch (org text);
CREATE TABLE public.ae_elsewhere (org text);
SELECT count(*) AS enabled_later FROM relay.relay_tenancy_status
 WHERE table_name::text IN ('ae.schema_migrations', 'ae_elsewhere') OR table_name::text LIKE '%scratch';
RESET relay.auto_enable;
DROP TABLE public.ae_elsewhere;

-- 5. Disabling the schema takes it back and forgets its options.
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy_schema('ae', drop_column => true);
SELECT count(*) AS recorded FROM relay.relay_schemas WHERE schema_name = 'ae';
DROP SCHEMA ae CASCADE;
