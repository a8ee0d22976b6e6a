-- Security (how these tests run: include/security_setup.sql): bad input.
\i include/fixtures.sql
\i include/security_setup.sql

-- 11. Bad input gets a documented SQLSTATE, not an internal error.
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', is_local => NULL) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy(0::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT * FROM relay_tenancy_plan(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_audit(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_append_only(0::regclass) $$);
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
SELECT relay_audit('deep', metadata => (repeat('[', 3000) || repeat(']', 3000))::jsonb) IS NOT NULL AS deep_metadata_stored;
SELECT jsonb_typeof(metadata) FROM relay.audit_logs WHERE action = 'deep';
COMMIT;
-- the verbs match what was asked; relay_append_only re-promotes audit_logs' own guard
-- (the DDL guard puts a demoted guard back at once; with relay's event triggers
-- switched off, relay_append_only does it)
SELECT code, message FROM expect_error($$ SELECT relay_append_only('relay.tenants') $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_audit('relay.relay_tables') $$);
ALTER TABLE relay.audit_logs ENABLE TRIGGER relay_append_only_row;
SELECT tgenabled FROM pg_trigger WHERE tgname = 'relay_append_only_row' AND tgrelid = 'relay.audit_logs'::regclass;
ALTER EVENT TRIGGER relay_ddl_guard_alter DISABLE;
ALTER TABLE relay.audit_logs ENABLE TRIGGER relay_append_only_row;
ALTER EVENT TRIGGER relay_ddl_guard_alter ENABLE ALWAYS;
SELECT * FROM relay_append_only('relay.audit_logs');

\i include/security_teardown.sql
