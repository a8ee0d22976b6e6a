-- Security (how these tests run: include/security_setup.sql): the table's owner:
-- policy composition, and switching isolation off.
\i include/fixtures.sql
\i include/security_setup.sql

-- 5. Policy composition does not depend on creation order: tenant_isolation is
-- RESTRICTIVE, so the owner's permissive USING (true), created after enabling, is
-- ANDed with it and opens nothing.
SET ROLE sec_owner;
CREATE POLICY open_to_all ON sec_docs USING (true) WITH CHECK (true);
RESET ROLE;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT id, tenant_id FROM sec_docs ORDER BY id;
SELECT code, message FROM expect_error($$ INSERT INTO sec_docs (id, title, tenant_id) VALUES ('x', 'x', 'sec_b') $$);
RESET ROLE;
SET ROLE sec_owner;
DROP POLICY open_to_all ON sec_docs;

-- 6. The owner cannot switch isolation off: each of these is refused (42501) and
-- changes nothing.
SELECT * FROM expect_error($$ ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE ROW LEVEL SECURITY $$);
SELECT code, message FROM expect_error($$ DROP POLICY tenant_isolation ON sec_docs $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_isolation ON sec_docs USING (true) $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_isolation ON sec_docs RENAME TO was_isolation $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_access ON sec_docs TO sec_app $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE TRIGGER relay_tenant_truncate_guard $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE TRIGGER USER $$);
SELECT code, message FROM expect_error($$ DROP TRIGGER relay_tenant_truncate_guard ON sec_docs $$);
-- Harmless changes go through: another policy, other columns.
CREATE POLICY titled ON sec_docs AS RESTRICTIVE USING (title IS NOT NULL);
ALTER TABLE sec_docs ADD COLUMN note text;
RESET ROLE;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'sec_docs'::regclass;
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'sec_docs'::regclass ORDER BY 1;
-- A superuser is refused too, unless the transaction says it means it
-- (relay.allow_unsafe_ddl; a tool that plans schema changes, such as drizzle-kit push,
-- would otherwise switch isolation off without a word): then it is warned, and
-- relay_enable_tenancy restores the table.
SELECT * FROM expect_error($$ ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY $$);
SELECT * FROM expect_error($$ ALTER TABLE sec_docs DROP COLUMN tenant_id CASCADE $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs RENAME COLUMN tenant_id TO org_id $$);
-- Renamed all the same (a superuser who allowed it), the column is recognised by its
-- default and key: relay_enable_tenancy names it and asks for it back instead of
-- adding a second, empty tenant column.
BEGIN;
SET LOCAL relay.allow_unsafe_ddl = on;
ALTER TABLE sec_docs RENAME COLUMN tenant_id TO org_id;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('sec_docs') $$);
ROLLBACK;
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs ENABLE REPLICA TRIGGER relay_tenant_truncate_guard $$);
SELECT code, message FROM expect_error($$ DROP POLICY tenant_isolation ON sec_docs $$);
-- What drizzle-kit push plans after a conversion, as a superuser: the first statement
-- fails, so the transaction changes nothing.
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE ROW LEVEL SECURITY; ALTER TABLE sec_docs DROP COLUMN tenant_id $$);
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'sec_docs'::regclass;
-- DISABLE TRIGGER ALL, which pg_dump --disable-triggers writes around each table's
-- rows (ENABLE TRIGGER ALL after it puts relay's guards back), is warned, not refused.
BEGIN;
ALTER TABLE sec_docs DISABLE TRIGGER ALL;
ROLLBACK;
BEGIN;
SET LOCAL relay.allow_unsafe_ddl = on;
ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY;
COMMIT;
-- The guard judges the statement, not the table: on a table already broken, a
-- statement that switches nothing off passes without a word (as a restore's post-data
-- does before it has created relay's policies); relay_security_check reports the table.
ALTER TABLE sec_docs ADD COLUMN memo text;
ALTER TABLE sec_docs ENABLE ROW LEVEL SECURITY;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'tables_isolated';
SELECT * FROM relay_enable_tenancy('sec_docs');
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'tables_isolated';

-- Code that runs during relay_enable_tenancy's steps cannot leave the table it enables
-- unisolated: the end state is checked before the call returns, on a table enabled for
-- the first time too. Here a superuser's event trigger switches FORCE off right after
-- relay creates its policies: the call fails (42501) and changes nothing.
CREATE TABLE sec_sneaky (id int PRIMARY KEY, body text);
CREATE FUNCTION sec_sneaky_no_force() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  -- (qualified: relay's steps run under a search_path of its own)
  IF EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = 'public.sec_sneaky'::regclass) THEN
    ALTER TABLE public.sec_sneaky NO FORCE ROW LEVEL SECURITY;
  END IF;
END $$;
CREATE EVENT TRIGGER sec_sneaky ON ddl_command_end WHEN TAG IN ('CREATE POLICY')
  EXECUTE FUNCTION sec_sneaky_no_force();
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('sec_sneaky') $$);
\x off
SELECT relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM relay.relay_tables WHERE relid = 'sec_sneaky'::regclass) AS registered
  FROM pg_class WHERE oid = 'sec_sneaky'::regclass;
DROP EVENT TRIGGER sec_sneaky;
DROP FUNCTION sec_sneaky_no_force();
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('sec_sneaky');
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'sec_sneaky'::regclass;
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('sec_sneaky');
DROP TABLE sec_sneaky;

\i include/security_teardown.sql
