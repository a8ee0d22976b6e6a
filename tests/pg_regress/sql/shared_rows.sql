-- Shared rows (issue 22, item 3): "a row of no tenant is a row every tenant may read"
-- (predefined roles, templates, plans). relay_enable_tenancy(tbl, shared_rows => true)
-- keeps the tenant column nullable: every tenant reads the rows of no tenant and its
-- own, writes only its own; only roles that bypass row level security (superusers,
-- BYPASSRLS) write the shared rows.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA sr;
-- Roles: the predefined ones have no tenant; tenants add their own.
CREATE TABLE sr.roles (id bigint PRIMARY KEY, tenant_id text, name text NOT NULL);
INSERT INTO sr.roles VALUES (1, NULL, 'admin'), (2, NULL, 'viewer'), (3, 'acme', 'acme-auditor');
-- Templates have no tenant column yet: the rows there now are the shared ones.
CREATE TABLE sr.templates (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO sr.templates VALUES (1, 'welcome');
GRANT USAGE ON SCHEMA sr TO relay_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sr TO relay_app;

-- 1. Without shared_rows, the NULLs are refused (relay would backfill them to the
-- default tenant); a default tenant does not go with shared rows (22023).
SELECT step, action FROM relay_tenancy_plan('sr.roles') WHERE action LIKE '%NULL%';
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('sr.roles', shared_rows => true, default_tenant => 'acme')$$);

-- 2. With shared_rows: no backfill, no NOT NULL; relay's policies read the rows of no
-- tenant, two more keep UPDATE and DELETE to the tenant's own rows.
SELECT * FROM relay_enable_tenancy('sr.roles', shared_rows => true);
SELECT polname, polpermissive, polcmd, pg_get_expr(polqual, polrelid) AS using, pg_get_expr(polwithcheck, polrelid) AS check
  FROM pg_policy WHERE polrelid = 'sr.roles'::regclass ORDER BY polname;
SELECT * FROM relay_enable_tenancy('sr.templates', shared_rows => true)
 WHERE relay_enable_tenancy LIKE 'added column%';
SELECT table_name, not_null, problems FROM relay.relay_tenancy_status WHERE table_name::text LIKE 'sr.%' ORDER BY 1;

-- 3. A tenant reads the shared rows and its own, never another tenant's; it writes
-- its own rows only: it cannot insert, change, take over or delete a shared row.
BEGIN;
SET LOCAL ROLE relay_app;
SELECT relay_set_tenant('acme');
SELECT id, tenant_id, name FROM sr.roles ORDER BY id;
SELECT id, tenant_id, body FROM sr.templates ORDER BY id;
INSERT INTO sr.roles (id, name) VALUES (4, 'acme-editor');
SELECT * FROM expect_error($$INSERT INTO sr.roles VALUES (5, NULL, 'fake-admin')$$);
UPDATE sr.roles SET name = 'hacked' WHERE id = 1;
UPDATE sr.roles SET tenant_id = 'acme' WHERE id = 2;
DELETE FROM sr.roles WHERE id IN (1, 2);
SELECT id, tenant_id, name FROM sr.roles ORDER BY id;
UPDATE sr.roles SET name = 'acme-editor2' WHERE id = 4;
COMMIT;
BEGIN;
SET LOCAL ROLE relay_app;
SELECT relay_set_tenant('globex');
SELECT id, tenant_id, name FROM sr.roles ORDER BY id;
ROLLBACK;
-- The operator (a superuser) writes shared rows.
INSERT INTO sr.roles VALUES (6, NULL, 'billing');
SELECT id, tenant_id, name FROM sr.roles ORDER BY id;

-- 4. The checks: the isolation check knows the shared form, and sees it broken
-- when a write policy goes (the DDL guard warns the superuser who drops it).
BEGIN;
SET LOCAL relay.allow_unsafe_ddl = on;
DROP POLICY tenant_own_deletes ON sr.roles;
SELECT table_name, problems FROM relay.relay_tenancy_status WHERE table_name = 'sr.roles'::regclass;
ROLLBACK;
-- Not on Citus: relay_distribute refuses a schema with shared rows (0A000).
SELECT * FROM expect_error($$SELECT * FROM relay_distribute_plan('sr')$$);
-- A re-run keeps shared_rows (nothing to do); changing it in place is refused (22023).
SELECT * FROM relay_enable_tenancy('sr.roles');
SELECT * FROM expect_error($$SELECT * FROM relay_enable_tenancy('sr.roles', shared_rows => false)$$);

-- 5. A tenant table whose rows reference a table with shared rows: its key cannot
-- include the tenant (a shared row has none), so it stays single-column, and
-- relay_verify says what that allows.
CREATE TABLE sr.grants (id bigint PRIMARY KEY, tenant_id text NOT NULL, role_id bigint REFERENCES sr.roles (id));
INSERT INTO sr.grants VALUES (1, 'acme', 1), (2, 'acme', 3);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('sr.grants');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sr.grants'::regclass AND contype = 'f' ORDER BY 1;
SELECT severity, object, problem FROM relay_verify() WHERE object LIKE '%sr.%' OR problem LIKE '%sr.%' ORDER BY 1, 2;
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('sr.grants');

-- 6. Undo: the policies go, the column stays nullable as it was (roles) or goes
-- (templates, drop_column).
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('sr.roles');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('sr.templates', drop_column => true);
SELECT polname FROM pg_policy WHERE polrelid IN ('sr.roles'::regclass, 'sr.templates'::regclass);
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'sr.roles'::regclass AND attname = 'tenant_id';
SELECT count(*) AS template_columns FROM pg_attribute WHERE attrelid = 'sr.templates'::regclass AND attnum > 0 AND NOT attisdropped;
REVOKE ALL ON ALL TABLES IN SCHEMA sr FROM relay_app;
REVOKE USAGE ON SCHEMA sr FROM relay_app;
DROP SCHEMA sr CASCADE;
