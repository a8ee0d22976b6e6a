-- Row level security attacks (include/attacks_setup.sql says how they are run): the
-- tenant context. Cursors and prepared statements across tenant switches, no tenant
-- or a forged one, search_path tricks, and the open context mode.
\i include/fixtures.sql
\i include/attacks_setup.sql

-- 5. Cursors across tenant switches.
-- A cursor declared under t_a and first fetched after SET LOCAL to t_b: the query
-- starts at the first FETCH, so it shows t_b's rows, as any query run under t_b would;
-- it never mixes tenants.
BEGIN;
SET LOCAL app.current_tenant_id = 't_a';
DECLARE atk_c1 CURSOR FOR SELECT id, tenant_id FROM atk_docs ORDER BY id;
SET LOCAL app.current_tenant_id = 't_b';
FETCH ALL FROM atk_c1;
COMMIT;
-- A cursor fetched once under t_a keeps t_a's tenant for the rest of its rows after
-- the switch (the policy reads the tenant once, when the query starts): it never
-- mixes tenants.
BEGIN;
SET LOCAL app.current_tenant_id = 't_a';
DECLARE atk_c2 CURSOR FOR SELECT id, tenant_id FROM atk_docs ORDER BY id;
FETCH 1 FROM atk_c2;
SET LOCAL app.current_tenant_id = 't_b';
FETCH ALL FROM atk_c2;
COMMIT;
-- A WITH HOLD cursor declared under t_a is filled with t_a's rows when its transaction
-- commits; fetched after a plain SET to t_b, it still returns t_a's rows (and only
-- them). This is why such cursors must be closed (or DISCARD ALL run) before a
-- connection is handed to another tenant.
SET app.current_tenant_id = 't_a';
DECLARE atk_h1 CURSOR WITH HOLD FOR SELECT id, secret, tenant_id FROM atk_docs ORDER BY id;
SET app.current_tenant_id = 't_b';
FETCH ALL FROM atk_h1;
-- relay_set_tenant refuses to set any tenant but the one a still-open cursor was
-- declared under (55000): here t_b, although a plain SET made it current already.
\x on
SELECT * FROM expect_error($$ SELECT relay_set_tenant('t_b', false) $$);
\x off
CLOSE atk_h1;
-- After DISCARD ALL (which also ends SET ROLE), the holdable cursor is gone: 34000.
SET app.current_tenant_id = 't_a';
DECLARE atk_h2 CURSOR WITH HOLD FOR SELECT id, secret FROM atk_docs ORDER BY id;
DISCARD ALL;
SET ROLE atk_app;
SET app.current_tenant_id = 't_b';
SELECT code, message FROM expect_error($$ FETCH ALL FROM atk_h2 $$);

-- 6. Prepared statements across tenant switches: every EXECUTE sees only the tenant
-- current at that EXECUTE, although the plan is built once and cached (a statement
-- without parameters always runs its generic plan; force_generic_plan makes one with
-- parameters do the same), also with SET LOCAL switches inside one transaction.
PREPARE atk_p1 AS
  SELECT current_setting('app.current_tenant_id') AS tenant, string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET plan_cache_mode = force_generic_plan;
PREPARE atk_p2(text) AS
  SELECT current_setting('app.current_tenant_id') AS tenant, $1 AS asked,
         string_agg(id || ':' || secret, ',' ORDER BY id) AS found FROM atk_docs WHERE id = $1;
EXECUTE atk_p2('b1');
EXECUTE atk_p2('a1');
SET app.current_tenant_id = 't_b';
EXECUTE atk_p2('b1');
EXECUTE atk_p2('a1');
SET app.current_tenant_id = 't_a';
EXECUTE atk_p2('b1');
BEGIN;
SET LOCAL app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET LOCAL app.current_tenant_id = 't_a';
EXECUTE atk_p1;
COMMIT;
-- Both ran on generic plans, built once and reused for both tenants.
SELECT name, generic_plans > 0 AS generic, custom_plans FROM pg_prepared_statements
 WHERE name IN ('atk_p1', 'atk_p2') ORDER BY name;
RESET plan_cache_mode;
DEALLOCATE atk_p1;
DEALLOCATE atk_p2;

-- 16. No tenant set: nothing visible, nothing changed, and an INSERT fails (55000).
RESET app.current_tenant_id;
SELECT count(*) AS docs, (SELECT count(*) FROM atk_notes) AS notes FROM atk_docs;
UPDATE atk_docs SET title = 'hijacked' RETURNING id;
DELETE FROM atk_docs RETURNING id;
SELECT code, message FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
-- An empty tenant counts as none.
SET app.current_tenant_id = '';
SELECT count(*) AS docs FROM atk_docs;
SELECT code FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
-- A tenant value that tries SQL injection, or differs from t_b only in case or
-- spacing, matches nothing (the policy compares with =); an insert under it is
-- refused by the foreign key to tenants (23503).
SET app.current_tenant_id = $$t_a' OR '1' = '1$$;
SELECT count(*) AS docs FROM atk_docs;
SELECT code FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
SET app.current_tenant_id = 'T_B';
SELECT count(*) AS docs FROM atk_docs;
SET app.current_tenant_id = ' t_b';
SELECT count(*) AS docs FROM atk_docs;
SET app.current_tenant_id = 't_a';

-- 20. search_path tricks: a temporary relay_policy_tenant that returns t_b, and a
-- temporary table named tenants with a tenant of the attacker's own, change nothing:
-- the policy refers to relay's function by oid, and relay reads its own tables
-- without the caller's search_path (unknown tenant: 22023).
CREATE FUNCTION pg_temp.relay_policy_tenant(regclass) RETURNS text LANGUAGE sql AS $$ SELECT 't_b' $$;
CREATE TEMP TABLE tenants (id text, is_active boolean);
INSERT INTO pg_temp.tenants VALUES ('t_evil', true);
SET search_path = pg_temp, public;
SELECT string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
BEGIN;
SELECT code FROM expect_error($$ SELECT relay_set_tenant('t_evil') $$);
COMMIT;
RESET search_path;
DROP TABLE pg_temp.tenants;
DROP FUNCTION pg_temp.relay_policy_tenant(regclass);

-- 24. The tenant setting itself is not protected in the default (open) context mode
-- (README "Limits", reference NOTES 6): a role that can run SET can name any tenant
-- and then sees its rows. The tenant must come from a trusted layer (the application
-- server or the pooler), never from the end user.
SET app.current_tenant_id = 't_b';
SELECT string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
SET app.current_tenant_id = 't_a';

\i include/attacks_teardown.sql
