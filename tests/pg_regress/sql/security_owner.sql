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
-- A superuser can, and is warned; relay_enable_tenancy restores the table.
ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY;
SELECT "check", ok FROM relay_security_check() WHERE "check" = 'tables_isolated';
SELECT * FROM relay_enable_tenancy('sec_docs');
SELECT "check", ok FROM relay_security_check() WHERE "check" = 'tables_isolated';

\i include/security_teardown.sql
