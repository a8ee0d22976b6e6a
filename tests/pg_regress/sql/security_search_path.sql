-- Security (how these tests run: include/security_setup.sql): search_path attacks on
-- relay's functions, as the application and as a superuser running a migration.
\i include/fixtures.sql
\i include/security_setup.sql

-- 1. search_path attacks. sec_app owns a schema and defines operators there that
-- log who called them (include/security_evil.sql). Put first in search_path, they
-- would win over pg_catalog's for any unqualified comparison relay parsed; relay's SQL
-- functions pin their search_path and its tenant lookup parses no SQL at all, so none
-- is ever called, whoever runs relay's functions (the application, or a superuser in
-- a migration).
\i include/security_evil.sql
SET ROLE sec_app;
SET search_path = sec_evil, pg_catalog, public;
-- the operators work, so an unpinned relay would have called them:
SELECT 'x'::text = 'x'::text AS evil_operator_works;
SELECT count(*) AS calls_so_far FROM sec_evil.calls;
TRUNCATE sec_evil.calls;
-- as the application role:
BEGIN;
SELECT relay_set_tenant('sec_a');
SELECT count(*) AS sec_a_docs FROM public.sec_docs;
SELECT relay_audit('sec.read', 'doc', 'a1') IS NOT NULL AS audited;
COMMIT;
RESET ROLE;
-- as a superuser running a migration with the same search_path:
SET search_path = sec_evil, pg_catalog, public;
CREATE TABLE public.sec_notes (id int PRIMARY KEY, body text UNIQUE);
SELECT count(*) AS plan_steps FROM relay_tenancy_plan('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_tenancy('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_tenancy('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_audit('public.sec_notes');
SELECT relay_create_tenant('Sec C', 'sec-c', 'sec_c');
SELECT relay_suspend_tenant('sec_c');
SELECT relay_resume_tenant('sec_c');
SELECT bool_and(l LIKE 'deleted %') AS every_line_a_deletion FROM relay_delete_tenant('sec_c') l;
SELECT count(*) AS checks FROM relay_security_check();
CREATE SCHEMA sec_schema;
CREATE TABLE sec_schema.items (id int PRIMARY KEY, code text UNIQUE);
SELECT count(*) > 0 AS planned FROM relay_tenancy_schema_plan('sec_schema');
SELECT count(*) > 0 AS converted FROM relay_enable_tenancy_schema('sec_schema');
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (1, 'captured');
COMMIT;
-- The capture trigger runs as whoever made the change; what it does with raised
-- rights (the SQL writer, the hash chain) runs as the extension's owner with the
-- search_path pinned. sec_app, its operators first in search_path, changes an
-- audited table: through the native writer with the chain on, and through the SQL
-- writer (a CHECK constraint on audit_logs sends entries there):
GRANT INSERT ON public.sec_notes TO sec_app;
SELECT relay_audit_chain(true) IS NOT NULL AS chain_on;
SET ROLE sec_app;
SHOW search_path;
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (2, 'native, chained');
COMMIT;
RESET ROLE;
SELECT relay_audit_chain(false) IS NOT NULL AS chain_off;
ALTER TABLE relay.audit_logs ADD CONSTRAINT sec_sql_path CHECK (true);
SET ROLE sec_app;
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (3, 'through SQL');
COMMIT;
RESET ROLE;
ALTER TABLE relay.audit_logs DROP CONSTRAINT sec_sql_path;
SELECT count(*) AS steps FROM relay_disable_audit('public.sec_notes');
SELECT count(*) AS steps FROM relay_append_only('public.sec_notes');
-- the DDL guard (an event trigger) runs on every ALTER TABLE and DROP POLICY:
ALTER TABLE public.sec_notes ADD COLUMN extra int;
CREATE POLICY sec_tmp ON public.sec_notes USING (true);
DROP POLICY sec_tmp ON public.sec_notes;
-- the entry points added in 0.3.0, under the same search_path: digests and verifying
-- against one, relay_verify, the CREATE TRIGGER guard, capture switched off by hand
-- (recorded with raised rights) and relay_disable_audit's own record:
SELECT jsonb_typeof(relay_audit_digest()) AS digest;
SELECT count(*) >= 0 AS verified FROM relay_audit_verify(NULL, relay_audit_digest());
SELECT count(*) >= 0 AS findings FROM relay_verify();
-- and those added for Citus placements, cursors and SET (here without Citus: a table
-- that is no placement is refused, the checks of every node have none to run, a
-- DECLARE and a set_config pass the hooks that watch them):
SELECT relay_placement_problems('public.sec_notes') IS NULL AS isolated;
SELECT code FROM expect_error($$ SELECT relay_restore_placement('public.sec_notes') $$);
SELECT relay_node_settings() LIKE 'preloaded=true, context_mode=%' AS node_settings;
-- and those added for the application stack: one table's status, the drop_column plan
-- (it counts the table's tenants as the extension's owner), the check of a renamed
-- tenant column, relay_security_check's verify_errors (relay_verify as the owner):
SELECT count(*) AS status_rows FROM relay_tenancy_status('public.sec_notes');
SELECT count(*) > 0 AS planned FROM relay_disable_tenancy_plan('public.sec_notes', drop_column => true);
BEGIN;
SET LOCAL relay.allow_unsafe_ddl = on;
SET LOCAL client_min_messages = error;
ALTER TABLE public.sec_notes RENAME COLUMN tenant_id TO org_id;
SELECT code FROM expect_error($$ SELECT relay_enable_tenancy('public.sec_notes') $$);
ROLLBACK;
-- (the test's own comparison names pg_catalog's operator: sec_evil's would log it)
SELECT check_name FROM relay_security_check() WHERE check_name OPERATOR(pg_catalog.=) 'verify_errors';
BEGIN;
DECLARE sec_cursor CURSOR FOR SELECT 1;
SELECT set_config('app.current_tenant_id', 'sec_a', true) AS set_by_set_config;
CLOSE sec_cursor;
ROLLBACK;
CREATE FUNCTION public.sec_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER sec_noop BEFORE INSERT ON public.sec_notes FOR EACH ROW EXECUTE FUNCTION public.sec_noop();
DROP TRIGGER sec_noop ON public.sec_notes;
DROP FUNCTION public.sec_noop();
SELECT count(*) AS steps FROM relay_enable_audit('public.sec_notes');
ALTER TABLE public.sec_notes DISABLE TRIGGER relay_audit_delete;
ALTER TABLE public.sec_notes ENABLE TRIGGER relay_audit_delete;
SELECT count(*) AS steps FROM relay_disable_audit('public.sec_notes');
-- The background conversion: the call that queues it (as the extension's owner), the
-- worker (a session of its own, as this role), the wait and the view.
CREATE TABLE public.sec_bg (id int PRIMARY KEY, code text UNIQUE);
INSERT INTO public.sec_bg VALUES (1, 'a'), (2, 'b');
SELECT count(*) AS lines FROM relay_enable_tenancy_background('public.sec_bg');
CALL relay_online_wait('public.sec_bg') \gset
SELECT state, error_sqlstate, worker FROM relay.online_conversions WHERE "table" OPERATOR(pg_catalog.=) 'public.sec_bg';
RESET search_path;
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('public.sec_bg');
DROP TABLE public.sec_bg;
DELETE FROM relay.online_jobs;
-- sec_app's two changes were recorded, chained and not:
SELECT resource_id, tenant_id, chain_seq IS NOT NULL AS chained FROM relay.audit_logs
 WHERE resource_type = 'public.sec_notes' AND resource_id IN ('2', '3') ORDER BY resource_id;
-- no relay function called sec_app's operators, as sec_app or as the superuser:
SELECT who, at FROM sec_evil.calls ORDER BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_app';

\i include/security_teardown.sql
