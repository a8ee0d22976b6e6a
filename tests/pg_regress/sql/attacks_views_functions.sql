-- Row level security attacks (include/attacks_setup.sql says how they are run): code
-- that runs with other rights or before the policy. Views, SECURITY DEFINER functions,
-- leaky functions and operators.
\i include/fixtures.sql
\i include/attacks_setup.sql

-- 7. Views.
RESET ROLE;
CREATE VIEW atk_v_definer AS SELECT id, secret, tenant_id FROM atk_docs;
CREATE VIEW atk_v_invoker WITH (security_invoker = on) AS SELECT id, secret, tenant_id FROM atk_docs;
CREATE VIEW atk_v_owned AS SELECT id, secret, tenant_id FROM atk_docs;
ALTER VIEW atk_v_owned OWNER TO atk_owner;
GRANT SELECT ON atk_v_definer, atk_v_invoker, atk_v_owned TO atk_app;
SET ROLE atk_app;
-- A view owned by the superuser, without security_invoker, reads the table with its
-- owner's rights, and the superuser bypasses row level security: t_a sees t_b's rows
-- through it. Documented deployment rule (README "Limits"): views over tenant tables
-- need security_invoker = on, or an owner that does not bypass row level security.
SELECT id, secret, tenant_id FROM atk_v_definer ORDER BY id;
-- The same view with security_invoker = on: t_a's rows only.
SELECT id, secret, tenant_id FROM atk_v_invoker ORDER BY id;
-- The same view owned by the table's (non-superuser) owner: t_a's rows only, because
-- FORCE ROW LEVEL SECURITY applies to the owner too.
SELECT id, secret, tenant_id FROM atk_v_owned ORDER BY id;

-- 8. SECURITY DEFINER functions.
RESET ROLE;
CREATE FUNCTION atk_ids_as_owner() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT string_agg(id || ':' || secret, ',' ORDER BY id) FROM atk_docs $$;
ALTER FUNCTION atk_ids_as_owner() OWNER TO atk_owner;
CREATE FUNCTION atk_ids_as_superuser() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT string_agg(id || ':' || secret, ',' ORDER BY id) FROM atk_docs $$;
SET ROLE atk_app;
-- Owned by the table's owner: runs as atk_owner, which FORCE ROW LEVEL SECURITY
-- isolates: t_a's rows only.
SELECT atk_ids_as_owner();
-- Owned by the superuser: bypasses row level security and returns t_b's rows too.
-- The deployment rule for views holds here as well: SECURITY DEFINER code that reads
-- tenant tables must be owned by a role that does not bypass row level security.
SELECT atk_ids_as_superuser();

-- 9. Leaky functions and operators, written by the application role itself in its
-- temporary schema (every role may create temporary objects by default). The policy
-- is applied before any function that is not LEAKPROOF, however cheap it claims to
-- be, so only t_a's secrets reach the notices (t_b's rows come first in the heap).
CREATE FUNCTION pg_temp.atk_leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leaked: %', $1;
  RETURN true;
END $$;
SELECT id FROM atk_docs WHERE pg_temp.atk_leak(secret) ORDER BY id;
SELECT id FROM atk_docs WHERE pg_temp.atk_leak(secret) AND id = 'b1';
SELECT id FROM atk_v_invoker WHERE pg_temp.atk_leak(secret) ORDER BY id;
SELECT n.id FROM atk_notes n JOIN atk_docs d ON d.id = n.doc_id
 WHERE pg_temp.atk_leak(d.secret || ' / ' || n.body) ORDER BY n.id;
-- The same as an operator.
CREATE FUNCTION pg_temp.atk_leak_op(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leaked by operator: %', $1;
  RETURN $1 <> $2;
END $$;
CREATE OPERATOR pg_temp.<<>> (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_temp.atk_leak_op);
SELECT id FROM atk_docs WHERE secret OPERATOR(pg_temp.<<>>) 'nothing' ORDER BY id;
-- Only a superuser may mark a function LEAKPROOF (which would let it run first): 42501.
SELECT code, message FROM expect_error($$
  CREATE FUNCTION pg_temp.atk_leakproof(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true' $$);
-- Errors as a side channel: a cast that fails shows the value it failed on; that
-- value can only be one of t_a's secrets.
SELECT code, message FROM expect_error($$ SELECT count(*) FROM atk_docs WHERE secret::int > 0 $$);
-- A division by zero that would happen only on t_b's secret never happens...
SELECT count(*) FROM atk_docs WHERE 1 / (CASE WHEN secret = 'b-secret-1' THEN 0 ELSE 1 END) = 1;
-- ...while the same probe on t_a's own secret does fail: the probe works, on t_a's
-- rows only.
SELECT code, message FROM expect_error($$
  SELECT count(*) FROM atk_docs WHERE 1 / (CASE WHEN secret = 'a-secret-1' THEN 0 ELSE 1 END) = 1 $$);

-- The views and the function the superuser owns go first (the rest:
-- include/attacks_teardown.sql).
RESET ROLE;
DROP VIEW atk_v_definer, atk_v_invoker;
DROP FUNCTION atk_ids_as_superuser();
\i include/attacks_teardown.sql
