-- relay's policy rule is recognised by the structure of the expression PostgreSQL
-- stores (pg_policy.polqual / polwithcheck), not by the text pg_get_expr prints: the
-- same rule written another way is still relay's; anything that changes what it
-- compares is not. Checked by relay_isolation_problems (relay_verify and
-- relay_security_check read the same check) and by a re-run of relay_enable_tenancy
-- (nothing to do when the rule is intact, the policy put back when it is not).
\i include/fixtures.sql
\set VERBOSITY terse
CREATE SCHEMA rule_shapes;
CREATE TABLE rule_shapes.notes (id bigint PRIMARY KEY, body text);
CREATE TABLE rule_shapes.other (id bigint PRIMARY KEY);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('rule_shapes.notes');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('rule_shapes.other');
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
-- A superuser's ALTER POLICY on relay's policy is refused unless the transaction sets
-- relay.allow_unsafe_ddl (security_owner.sql shows the refusal); set here, it draws
-- the DDL guard's warning, and the question below is whether the rule is still relay's.
SET relay.allow_unsafe_ddl = on;
-- 1. The same rule, spelled differently and under another search_path: relay's.
SET search_path = rule_shapes, public;
ALTER POLICY tenant_isolation ON notes
  USING ((tenant_id) = (select relay.relay_policy_tenant(('rule_shapes.notes')::regclass)))
  WITH CHECK (tenant_id = (SELECT relay.relay_policy_tenant('notes'::regclass)));
RESET search_path;
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) AS steps FROM relay_tenancy_plan('rule_shapes.notes');
-- 2. The form relay_distribute writes (no sub-select, the table by name): relay's.
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = relay.relay_policy_tenant('rule_shapes.notes'::text))
  WITH CHECK (tenant_id = relay.relay_policy_tenant('rule_shapes.notes'::text));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) AS steps FROM relay_tenancy_plan('rule_shapes.notes');
-- 3. Rules that are not relay's, each put back by a re-run of relay_enable_tenancy.
--    a. an OR that lets every row through
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = (SELECT relay.relay_policy_tenant('rule_shapes.notes'::regclass)) OR true);
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT action FROM relay_tenancy_plan('rule_shapes.notes') WHERE action LIKE '%polic%';
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
--    b. another table's tenant
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = (SELECT relay.relay_policy_tenant('rule_shapes.other'::regclass)));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    c. the table by name, but another table's name
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = relay.relay_policy_tenant('rule_shapes.other'::text));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    d. a function of the same name in another schema
CREATE FUNCTION rule_shapes.relay_policy_tenant(regclass) RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT NULL::text $$;
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = (SELECT rule_shapes.relay_policy_tenant('rule_shapes.notes'::regclass)));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    e. a sub-select that reads a table
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id = (SELECT relay.relay_policy_tenant('rule_shapes.notes'::regclass) FROM rule_shapes.other LIMIT 1));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    f. another operator
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (tenant_id >= (SELECT relay.relay_policy_tenant('rule_shapes.notes'::regclass)));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    g. another column
ALTER POLICY tenant_isolation ON rule_shapes.notes
  USING (body = (SELECT relay.relay_policy_tenant('rule_shapes.notes'::regclass)));
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
--    h. no WITH CHECK of relay's (the USING alone is not enough)
ALTER POLICY tenant_isolation ON rule_shapes.notes WITH CHECK (true);
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
SELECT count(*) > 0 AS restored FROM relay_enable_tenancy('rule_shapes.notes');
SELECT relay_isolation_problems('rule_shapes.notes') AS problems;
-- Clean up.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('rule_shapes.notes');
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('rule_shapes.other');
SELECT count(*) AS policies_left FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'rule_shapes';
DROP SCHEMA rule_shapes CASCADE;
