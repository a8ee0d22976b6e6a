-- Tenant context: relay_set_tenant, relay_current_tenant, relay_clear_tenant, and
-- fail-loud mode (relay.require_tenant). Uses the tables and tenants set up by the
-- earlier tests (acme has one skill, acme-1).
\i include/fixtures.sql
\i include/reference_app.sql
-- acme's skill acme-1, as isolation.sql leaves it (added here when this file runs
-- alone).
INSERT INTO skills (id, name, slug, tenant_id) VALUES ('acme-1', 'Acme skill', 'skill-1', 'acme')
  ON CONFLICT DO NOTHING;

SET ROLE relay_app;
SELECT relay_current_tenant() IS NULL AS no_tenant;

-- relay_set_tenant checks the tenant and sets it for the transaction only (SET
-- LOCAL), so a pooled connection never carries it into the next transaction.
BEGIN;
SELECT relay_set_tenant('acme');
SELECT relay_current_tenant(), current_setting('app.current_tenant_id') AS setting;
SELECT id, tenant_id FROM skills ORDER BY id;
COMMIT;
SELECT relay_current_tenant() IS NULL AS gone_after_commit;

-- is_local => false sets it for the session.
SELECT relay_set_tenant('globex', is_local => false);
BEGIN;
COMMIT;
SELECT relay_current_tenant() AS still_set;
SELECT relay_clear_tenant();
SELECT relay_current_tenant() IS NULL AS cleared;

-- Applications that set the setting themselves keep working.
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SELECT relay_current_tenant(), count(*) AS skills FROM skills;
COMMIT;

-- Unknown, suspended and NULL tenants are refused, and the context is left as it was.
\x on
SELECT * FROM expect_error($$ SELECT relay_set_tenant('nobody') $$);
SELECT * FROM expect_error($$ SELECT relay_set_tenant(NULL) $$);
RESET ROLE;
SELECT relay_suspend_tenant('globex');
SET ROLE relay_app;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('globex') $$);
\x off
SELECT relay_current_tenant() IS NULL AS unchanged;
RESET ROLE;
SELECT relay_resume_tenant('globex');
SET ROLE relay_app;
SELECT relay_set_tenant('globex', false);
SELECT relay_clear_tenant();

-- Fail-loud mode. Off (the default): with no tenant set a query sees no rows.
SHOW relay.require_tenant;
SELECT count(*) FROM skills;
-- On: reading or writing a tenant-enabled table with no tenant set is an error that
-- names the table. The policy evaluates the check once per query, not per row.
SET relay.require_tenant = on;
\x on
SELECT * FROM expect_error($$ SELECT count(*) FROM skills $$);
SELECT * FROM expect_error($$ UPDATE ratings SET rating = 5 $$);
SELECT * FROM expect_error($$ DELETE FROM skills WHERE id = 's1' $$);
SELECT * FROM expect_error($$ SELECT count(*) FROM relay.audit_logs $$);
\x off
-- With a tenant set, everything works as before.
BEGIN;
SELECT relay_set_tenant('acme');
SELECT count(*) AS acme_skills FROM skills;
COMMIT;
RESET relay.require_tenant;
-- The setting's name is reserved: a typo is an error, not a silent no-op.
SELECT code, message FROM expect_error($$ SET relay.require_tenants = on $$);
RESET ROLE;

-- It can be set per role or per database, like any setting.
ALTER ROLE relay_app SET relay.require_tenant = on;
SELECT unnest(setconfig) AS role_setting FROM pg_db_role_setting WHERE setrole = 'relay_app'::regrole;
ALTER ROLE relay_app RESET relay.require_tenant;
-- Superusers and BYPASSRLS roles are not subject to RLS, so not to the check either.
SET relay.require_tenant = on;
SELECT count(*) > 0 AS superuser_reads FROM skills;
RESET relay.require_tenant;
