-- Security (how these tests run: include/security_setup.sql): audit forgery.
\i include/fixtures.sql
\i include/security_setup.sql

-- (an entry in sec_a's log, for the UPDATE and DELETE below to reach; in the schedule
-- block 1, in security_search_path, has written one already)
SET ROLE sec_app;
DO $$ BEGIN
  PERFORM set_config('app.current_tenant_id', 'sec_a', true);
  PERFORM relay_audit('sec.read', 'doc', 'a1');
END $$;
RESET ROLE;
-- 2. Audit forgery. No trigger or event trigger function of relay's is executable
-- by PUBLIC:
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'relay_tenancy'
 WHERE p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype) ORDER BY 1;
-- The capture trigger function in particular: sec_app cannot attach it to a table of
-- its own...
SET ROLE sec_app;
CREATE TEMP TABLE forged (tenant_id text, note text);
SELECT code, message FROM expect_error($$
  CREATE TRIGGER f AFTER INSERT ON forged REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION relay.relay_audit_capture() $$);
-- ...nor have relay attach it to a temporary table...
SELECT code, regexp_replace(message, 'pg_temp_[0-9]+', 'pg_temp_N') AS message
  FROM expect_error($$ SELECT relay_enable_audit('forged') $$);
-- ...nor write audit_logs directly, even with INSERT granted by accident (the
-- relay_writes_only policy); UPDATE and DELETE are refused by the guard.
RESET ROLE;
GRANT INSERT, UPDATE, DELETE ON relay.audit_logs TO sec_app;
SET ROLE sec_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
SELECT code, message FROM expect_error($$ INSERT INTO relay.audit_logs (action, created_at) VALUES ('backdated', '2001-01-01') $$);
SELECT code, message FROM expect_error($$ UPDATE relay.audit_logs SET action = 'rewritten' $$);
SELECT code, message FROM expect_error($$ DELETE FROM relay.audit_logs $$);
COMMIT;
RESET ROLE;
REVOKE INSERT, UPDATE, DELETE ON relay.audit_logs FROM sec_app;
-- A table that is not tenant-enabled but has a column called tenant_id: its rows are
-- recorded in the session's tenant, never in the tenant the column names.
CREATE TABLE sec_inbox (id int PRIMARY KEY, tenant_id text, note text);
SELECT count(*) AS steps FROM relay_enable_audit('sec_inbox');
GRANT INSERT ON sec_inbox TO sec_app;
SET ROLE sec_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
INSERT INTO sec_inbox VALUES (1, 'sec_b', 'planted for sec_b');
COMMIT;
RESET ROLE;
SELECT tenant_id, resource_id FROM relay.audit_logs WHERE resource_type = 'public.sec_inbox';
-- Attached by hand (a superuser can), the trigger writes nothing for an unregistered table.
CREATE TABLE sec_unregistered (id int);
CREATE TRIGGER by_hand AFTER INSERT ON sec_unregistered REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION relay.relay_audit_capture();
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ INSERT INTO sec_unregistered VALUES (1) $$);
-- No entry for a tenant that does not exist, or for none.
SET app.current_tenant_id = 'no-such-tenant';
SELECT code, message FROM expect_error($$ INSERT INTO sec_inbox VALUES (2, NULL, 'x') $$);
SELECT code, message FROM expect_error($$ SELECT relay_audit('x') $$);
RESET app.current_tenant_id;
SELECT code, message FROM expect_error($$ SELECT relay_audit('x') $$);
DROP TABLE sec_unregistered;
-- Called directly, a trigger function says so (and is not executable by PUBLIC).
SELECT code, message FROM expect_error($$ SELECT relay.relay_audit_capture() $$);
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ SELECT relay.relay_tenant_truncate_guard() $$);
RESET ROLE;

\i include/security_teardown.sql
