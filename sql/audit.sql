-- relay_tenancy: the append-only, tenant-scoped audit log (runs last in CREATE
-- EXTENSION, once the Rust functions exist).

-- The reference migration 0006's table, with the session's tenant as default and
-- time-ordered ids (UUIDv7: the primary key grows at its right edge, like the log).
CREATE TABLE audit_logs (
  id            uuid PRIMARY KEY DEFAULT relay_uuid7(),
  actor_id      text,
  tenant_id     text,
  action        text NOT NULL,
  resource_type text,
  resource_id   text,
  ip_address    text,
  metadata      jsonb,
  created_at    timestamptz DEFAULT pg_catalog.now() NOT NULL
);
-- New entries take the session's tenant (set after CREATE TABLE: the regclass
-- literal needs the table to exist); with no tenant set an insert fails.
ALTER TABLE audit_logs ALTER COLUMN tenant_id SET DEFAULT relay_insert_tenant('audit_logs');
COMMENT ON TABLE audit_logs IS 'relay_tenancy: append-only audit log, one tenant''s entries visible at a time';
CREATE INDEX audit_logs_tenant_created_idx ON audit_logs (tenant_id, created_at DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);

-- Append-only for every role, also in replica mode.
CREATE TRIGGER relay_append_only_row BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION relay_append_only_guard();
CREATE TRIGGER relay_append_only_truncate BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION relay_append_only_guard();
ALTER TABLE audit_logs ENABLE ALWAYS TRIGGER relay_append_only_row,
                       ENABLE ALWAYS TRIGGER relay_append_only_truncate;

-- Tenant-scoped with the same rule as tenant-enabled tables (plan.rs,
-- session_tenant_expr; the audit test checks the two stay identical).
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_logs AS PERMISSIVE FOR ALL
  USING (tenant_id = (SELECT relay_policy_tenant('audit_logs')))
  WITH CHECK (tenant_id = (SELECT relay_policy_tenant('audit_logs')));
COMMENT ON POLICY tenant_isolation ON audit_logs IS 'relay_tenancy: rows of the tenant in app.current_tenant_id only';

-- Application roles append and read; nobody but the owner may do more.
REVOKE ALL ON audit_logs FROM PUBLIC;
GRANT SELECT, INSERT ON audit_logs TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('audit_logs', '');

-- Captured changes are written as the extension's owner, so application roles need
-- no privilege on audit_logs for capture, and a captured change is never refused
-- for the tenant rule. The search_path is pinned: every name inside is qualified.
ALTER FUNCTION relay_audit_capture() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
