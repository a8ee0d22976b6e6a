-- Retention, and relay's own entries. relay_audit_purge(before) deletes the audit entries older than
-- `before` in the caller's transaction, for superusers and BYPASSRLS roles, and
-- leaves one relay.audit_purged entry per tenant that lost entries. The
-- append-only guard still refuses every other DELETE, every UPDATE and TRUNCATE.
-- In a database of its own, so the entries of other tests stay.
CREATE DATABASE relay_purge;
\c relay_purge
\set VERBOSITY verbose
CREATE EXTENSION relay_tenancy;
SELECT relay_create_tenant('Purge A', 'purge-a', id => 'purge-a');
SELECT relay_create_tenant('Purge B', 'purge-b', id => 'purge-b');
BEGIN;
SELECT relay_set_tenant('purge-a', true);
SELECT count(relay_audit('invoice.sent', 'invoice', i::text)) FROM generate_series(1, 3) i;
COMMIT;
BEGIN;
SELECT relay_set_tenant('purge-b', true);
SELECT count(relay_audit('invoice.sent', 'invoice', i::text)) FROM generate_series(1, 2) i;
COMMIT;
SELECT tenant_id, count(*) FROM relay.audit_logs GROUP BY 1 ORDER BY 1;

-- Refused: NULL, a cut-off in the future, a role row level security applies to.
SELECT relay_audit_purge(NULL);
SELECT relay_audit_purge('2999-01-01');
CREATE ROLE purge_app;
SET ROLE purge_app;
SELECT relay_audit_purge(now());
RESET ROLE;

-- Everything written before this statement's transaction began goes.
SELECT relay_audit_purge(now()) AS deleted;
SELECT tenant_id, action, resource_type, metadata->'deleted' AS deleted, metadata->>'by' AS by
  FROM relay.audit_logs ORDER BY tenant_id;

-- Outside relay_audit_purge the log stays append-only.
DELETE FROM relay.audit_logs;
UPDATE relay.audit_logs SET action = 'forged';
TRUNCATE relay.audit_logs;
-- A logical-replication subscriber applies the publisher's purge in replica mode,
-- so there a DELETE goes through (tests/scripts/replication.sh shows the
-- subscriber carries on); only superusers can set replica mode. UPDATE stays
-- refused there too.
SET session_replication_role = replica;
UPDATE relay.audit_logs SET action = 'forged';
DELETE FROM relay.audit_logs WHERE tenant_id = 'purge-b';
RESET session_replication_role;
SELECT tenant_id, action FROM relay.audit_logs ORDER BY tenant_id;

-- A guard demoted to ORIGIN (ALTER TABLE ... ENABLE TRIGGER, as pg_restore
-- --disable-triggers leaves it) fires ALWAYS again at once.
ALTER TABLE relay.audit_logs ENABLE TRIGGER relay_append_only_row;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'relay.audit_logs'::regclass ORDER BY tgname;

-- relay audits itself: enabling and disabling a table (in the default tenant's log,
-- the installation's own), suspending, resuming and deleting a tenant (in that
-- tenant's log, which keeps them), and purges (above). Each says who ran it and what
-- it did.
CREATE TABLE invoices (id int PRIMARY KEY, total numeric);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('invoices');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('invoices');
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('invoices', drop_column => true);
SELECT relay_suspend_tenant('purge-b');
SELECT relay_resume_tenant('purge-b');
SELECT relay_resume_tenant('purge-b');
SELECT count(*) > 0 AS deleted FROM relay_delete_tenant('purge-b');
SELECT tenant_id, action, resource_type, resource_id, metadata->>'by' AS by,
       jsonb_array_length(metadata->'actions') > 0 AS says_what
  FROM relay.audit_logs WHERE action LIKE 'relay.%' AND action <> 'relay.audit_purged'
 ORDER BY created_at, id;

\c regression
DROP DATABASE relay_purge;
DROP ROLE purge_app;
