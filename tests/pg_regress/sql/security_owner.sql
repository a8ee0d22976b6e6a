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

\i include/security_teardown.sql
