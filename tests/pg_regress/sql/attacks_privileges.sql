-- Row level security attacks (include/attacks_setup.sql says how they are run): ways
-- out of row level security that need more than DML. row_security, replication role,
-- DDL, LOCK TABLE, TRUNCATE, becoming the table's owner or the superuser.
\i include/fixtures.sql
\i include/attacks_setup.sql

-- 11. Turning row level security off for the session: the setting is allowed, but
-- every query the policies would affect then fails with 42501 instead of returning
-- every row.
SET row_security = off;
SELECT code, message FROM expect_error($$ SELECT count(*) FROM atk_docs $$);
SELECT code, message FROM expect_error($$ UPDATE atk_docs SET title = title $$);
RESET row_security;

-- 12. Skipping triggers (foreign-key checks and relay's guards among them) with
-- session_replication_role: superuser only, 42501; the setting stays origin.
SELECT code, message FROM expect_error($$ SET session_replication_role = replica $$);
SHOW session_replication_role;

-- Other ways out that need more than DML: each refused with 42501 (must be owner,
-- permission denied, or superuser only). Run in a transaction rolled back at the end,
-- so that nothing could stay behind even if one got through. (PostgreSQL 16 and later
-- word 9's message "permission denied to alter role": expected-pg18/.)
BEGIN;
SELECT s.n, s.attempt, e.code, e.message
  FROM (VALUES
    (1, 'disable RLS', $$ ALTER TABLE atk_docs DISABLE ROW LEVEL SECURITY $$),
    (2, 'unforce RLS', $$ ALTER TABLE atk_docs NO FORCE ROW LEVEL SECURITY $$),
    (3, 'drop policy', $$ DROP POLICY tenant_isolation ON atk_docs $$),
    (4, 'open policy', $$ CREATE POLICY atk_open ON atk_docs USING (true) $$),
    (5, 'alter policy', $$ ALTER POLICY tenant_isolation ON atk_docs USING (true) $$),
    (6, 'truncate', $$ TRUNCATE atk_docs $$),
    (7, 'inherit', $$ CREATE TEMP TABLE atk_child () INHERITS (atk_docs) $$),
    (8, 'drop default', $$ ALTER TABLE atk_docs ALTER tenant_id DROP DEFAULT $$),
    (9, 'bypassrls', $$ ALTER ROLE atk_app BYPASSRLS $$),
    (10, 'read tenants', $$ SELECT count(*) FROM relay.tenants $$),
    (11, 'read relay_tables', $$ SELECT count(*) FROM relay.relay_tables $$),
    (12, 'read pg_statistic', $$ SELECT count(*) FROM pg_statistic $$),
    (13, 'create table', $$ CREATE TABLE atk_mine (id int) $$),
    (14, 'trigger', $$ CREATE TRIGGER atk_trg BEFORE INSERT ON atk_docs FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger() $$),
    (15, 'rule', $$ CREATE RULE atk_rule AS ON INSERT TO atk_docs DO INSTEAD NOTHING $$),
    (16, 'load auto_explain', $$ LOAD 'auto_explain' $$)
  ) s(n, attempt, stmt), LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
ROLLBACK;
-- Documented PostgreSQL behavior, not an isolation breach: UPDATE or DELETE privilege
-- is enough to LOCK TABLE in any mode, so one tenant's session can block every
-- tenant's queries on the table until its transaction ends (availability, not
-- confidentiality; statement_timeout / lock_timeout bound it).
BEGIN;
LOCK TABLE atk_docs IN ACCESS EXCLUSIVE MODE;
SELECT mode, granted FROM pg_locks WHERE relation = 'atk_docs'::regclass AND pid = pg_backend_pid() ORDER BY mode;
ROLLBACK;
-- If TRUNCATE (which ignores row level security) is granted by mistake, relay's
-- TRUNCATE guard refuses it to every role row level security applies to: 42501.
-- (atk_contacts: no foreign key points at it, which would refuse TRUNCATE first.)
RESET ROLE;
GRANT TRUNCATE ON atk_contacts TO atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';
BEGIN;
\x on
SELECT * FROM expect_error($$ TRUNCATE atk_contacts $$);
\x off
ROLLBACK;
RESET ROLE;
REVOKE TRUNCATE ON atk_contacts FROM atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

-- 13. Becoming the table's owner, or the superuser. SET ROLE checks the session user,
-- so the application role is made the session user here, as a real login would be:
-- it is a member of neither role, so 42501 for both.
RESET ROLE;
SET SESSION AUTHORIZATION atk_app;
SET app.current_tenant_id = 't_a';
SELECT session_user, current_user;
SELECT code, message FROM expect_error($$ SET ROLE atk_owner $$);
SELECT code, message FROM expect_error($$ SET ROLE postgres $$);
SELECT current_user;
RESET SESSION AUTHORIZATION;
-- Even a member of the owner role is isolated as the owner (FORCE ROW LEVEL
-- SECURITY): t_a's rows only, t_b's rows not updatable...
GRANT atk_owner TO atk_app;
SET SESSION AUTHORIZATION atk_app;
SET app.current_tenant_id = 't_a';
SET ROLE atk_owner;
SELECT current_user, string_agg(id || ':' || secret, ',' ORDER BY id) AS visible FROM atk_docs;
UPDATE atk_docs SET title = 'hijacked' WHERE id = 'b1' RETURNING id;
-- ...and relay's TRUNCATE guard refuses TRUNCATE to the owner as well (42501).
BEGIN;
SELECT code, message FROM expect_error($$ TRUNCATE atk_contacts $$);
ROLLBACK;
-- The owner may ALTER its table, but relay's DDL guard refuses a non-superuser DDL
-- that switches isolation off (NO FORCE or DISABLE ROW LEVEL SECURITY, dropping
-- relay's policy or its TRUNCATE guard): 42501, and the owner still sees t_a's rows
-- only. (Each in a transaction rolled back, in case one got through.)
BEGIN;
SELECT code, message FROM expect_error($$ ALTER TABLE atk_docs NO FORCE ROW LEVEL SECURITY $$);
SELECT current_user, string_agg(id || ':' || secret, ',' ORDER BY id) AS visible FROM atk_docs;
ROLLBACK;
BEGIN;
SELECT s.attempt, e.code, e.message
  FROM (VALUES
    (1, 'disable RLS', $$ ALTER TABLE atk_docs DISABLE ROW LEVEL SECURITY $$),
    (2, 'drop policy', $$ DROP POLICY tenant_isolation ON atk_docs $$),
    (3, 'drop truncate guard', $$ DROP TRIGGER relay_tenant_truncate_guard ON atk_docs $$)
  ) s(n, attempt, stmt), LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
ROLLBACK;
RESET ROLE;
RESET SESSION AUTHORIZATION;
REVOKE atk_owner FROM atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

\i include/attacks_teardown.sql
