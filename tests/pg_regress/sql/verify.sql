-- relay_tenancy_status (one row per tenant-enabled table) and relay_verify() (what
-- leaks around them: severity, object, problem, the SQL that fixes it). In a
-- database of their own, so the output shows everything there is.
CREATE DATABASE relay_verify;
\c relay_verify
\set VERBOSITY verbose
\set ECHO none
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\set ECHO all
CREATE EXTENSION relay_tenancy;
CREATE ROLE verify_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO verify_app;
\i include/enable_reference.sql

-- The status of each table: its column, the foreign key to tenants, the indexes
-- leading with the tenant column, row level security, relay's policies, what is
-- wrong with its isolation (nothing), its foreign keys to other tenant tables.
\x
SELECT table_name, tenant_column, column_type, not_null, column_default, tenant_foreign_key, tenant_indexes,
       rls_enabled, rls_forced, policies, problems, composite_foreign_keys, single_column_foreign_keys,
       not_valid_constraints, global_unique, keep_foreign_keys, default_tenant, audited,
       enabled_at <= now() AS enabled_at, enabled_by, updated_at >= enabled_at AS updated_at
  FROM relay.relay_tenancy_status WHERE table_name = 'skills'::regclass;
\x
SELECT table_name, column_type, rls_enabled AND rls_forced AS forced, problems,
       cardinality(composite_foreign_keys) AS composite, single_column_foreign_keys AS single,
       global_unique
  FROM relay.relay_tenancy_status ORDER BY table_name::text;
-- Application roles may not read it (GRANT SELECT to a monitoring role).
SET ROLE verify_app;
SELECT count(*) FROM relay.relay_tenancy_status;
RESET ROLE;

-- A clean conversion of the reference: no errors. The warnings are the choices made
-- (users.email and api_keys.key_hash stay global) and the owner (postgres, a login
-- role, owns every table here).
SELECT severity, object, problem, fix FROM relay_verify();

-- Now everything relay_verify looks for, one at a time.
-- 1. A table created LIKE a tenant table carries relay's default but no isolation.
CREATE TABLE skills_archive (LIKE skills INCLUDING DEFAULTS);
-- 2. A table that references a tenant table without being tenant-enabled.
CREATE TABLE bookmarks (id serial PRIMARY KEY, skill_id text REFERENCES skills (id));
-- 3. A foreign key between tenant tables kept single-column on request.
CREATE TABLE favourites (id text PRIMARY KEY, skill_id text CONSTRAINT favourites_skill_fkey REFERENCES skills (id));
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('favourites', keep_foreign_keys => ARRAY['favourites_skill_fkey']);
-- 4. A view run by its superuser owner, and a materialized view.
CREATE VIEW all_skills AS SELECT id, name FROM skills;
CREATE MATERIALIZED VIEW skill_counts AS SELECT tenant_id, count(*) FROM skills GROUP BY tenant_id;
-- 5. A SECURITY DEFINER function owned by a superuser.
CREATE FUNCTION count_skills() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM skills';
-- 6. Isolation switched off by a superuser (the DDL guard warns), and a policy's rule
--    replaced.
SET relay.allow_unsafe_ddl = on;  -- (a superuser who means it: warned, not refused)
ALTER TABLE ratings NO FORCE ROW LEVEL SECURITY;
ALTER POLICY tenant_isolation ON usage_events USING (true);
RESET relay.allow_unsafe_ddl;
-- 7. TRUNCATE and TRIGGER granted to an application role.
GRANT TRUNCATE, TRIGGER ON skills TO verify_app;
-- 8. A tenant table numbered by a sequence all tenants share.
CREATE TABLE tickets (id bigserial PRIMARY KEY, title text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('tickets');
-- 9. A constraint added NOT VALID.
ALTER TABLE skills ADD CONSTRAINT skills_name_present CHECK (name <> '') NOT VALID;
-- 10. A registry row whose table was dropped while relay's event triggers were off.
CREATE TABLE scratch (id int PRIMARY KEY);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('scratch');
ALTER EVENT TRIGGER relay_registry_cleanup DISABLE;
DROP TABLE scratch;
ALTER EVENT TRIGGER relay_registry_cleanup ENABLE ALWAYS;

-- (The dropped table's oid is masked: it differs from run to run.)
SELECT severity, regexp_replace(object, '[0-9]+', 'N') AS object, problem, regexp_replace(fix, '[0-9]+', 'N') AS fix
  FROM relay_verify() WHERE object NOT LIKE 'table public.%' OR problem NOT LIKE 'is owned by login role%';
-- The status view says the same of the two tables whose isolation was switched off.
SELECT table_name, rls_forced, problems FROM relay.relay_tenancy_status WHERE problems <> '{}' ORDER BY table_name::text;

-- Fixed as the findings say; no errors left.
\set ON_ERROR_STOP 1
SELECT pg_get_expr(adbin, adrelid) AS copied_default FROM pg_attrdef
 WHERE adrelid = 'skills_archive'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'skills_archive'::regclass AND attname = 'tenant_id');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('skills_archive');
-- The copy's default named skills; enabled, it names the copy.
SELECT pg_get_expr(adbin, adrelid) AS own_default FROM pg_attrdef
 WHERE adrelid = 'skills_archive'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'skills_archive'::regclass AND attname = 'tenant_id');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('bookmarks');
ALTER VIEW all_skills SET (security_invoker = on);
REVOKE ALL ON skill_counts FROM PUBLIC;
DROP MATERIALIZED VIEW skill_counts;
ALTER TABLE ratings FORCE ROW LEVEL SECURITY;
SELECT relay_enable_tenancy('usage_events');
REVOKE TRUNCATE, TRIGGER ON skills FROM verify_app;
ALTER TABLE skills VALIDATE CONSTRAINT skills_name_present;
\set ON_ERROR_STOP 0
-- (run quietly: the statement names the dropped table's oid)
\set ECHO none
SELECT fix FROM relay_verify() WHERE object LIKE 'registry row %' \gexec
\set ECHO all
SELECT severity, count(*) FROM relay_verify() GROUP BY severity ORDER BY severity;
SELECT count(*) AS tables_with_problems FROM relay.relay_tenancy_status WHERE problems <> '{}';

-- relay_repair() re-applies every tenant-enabled table from the registry: a key to
-- tenants dropped and forced row level security switched off come back, and every
-- table in order says so.
SET relay.allow_unsafe_ddl = on;
ALTER TABLE ratings DROP CONSTRAINT ratings_tenant_id_fkey;
ALTER TABLE skills NO FORCE ROW LEVEL SECURITY;
RESET relay.allow_unsafe_ddl;
-- Before the repair, both checks report both (a key to the tenant registry gone
-- missing is what pg_restore -j leaves): relay_verify an error each, and
-- relay_security_check fails verify_errors with every error relay_verify finds.
SELECT severity, object, problem, fix FROM relay_verify() WHERE severity = 'error' ORDER BY object, problem;
SELECT check_name, ok, detail FROM relay_security_check() WHERE check_name IN ('tables_isolated', 'verify_errors') ORDER BY 1;
SELECT table_name, tenant_foreign_key, problems FROM relay_tenancy_status('ratings');
SELECT table_name, action FROM relay_repair() WHERE action NOT LIKE '%nothing to do%' ORDER BY 1, 2;
SELECT count(*) AS nothing_to_do FROM relay_repair() WHERE action LIKE '%nothing to do%';
SELECT count(*) AS tables_with_problems FROM relay.relay_tenancy_status WHERE problems <> '{}';
SELECT check_name, ok, detail FROM relay_security_check() WHERE check_name = 'verify_errors';
-- relay_tenancy_status(tbl): one table's row; none for a table that is not enabled.
SELECT table_name, tenant_foreign_key, problems FROM relay_tenancy_status('ratings');
SELECT count(*) AS rows_for_pg_class FROM relay_tenancy_status('pg_class');

\c regression
DROP DATABASE relay_verify;
DROP ROLE verify_app;
