-- What a restore must give back, one line each: every tenant-enabled table's rows
-- per tenant, the tenants (edits of the default one included), the registry, the
-- audit log, isolation problems, relay_verify's errors, the guards' firing mode.
CREATE FUNCTION pg_temp.row_count(t regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
  RETURN n;
END $$;
SELECT 'rows ' || r.relid::text || ': ' || pg_temp.row_count(r.relid) FROM relay.relay_tables r ORDER BY 1;
SELECT 'tenant ' || id || ' ' || name || ' ' || plan || ' ' || is_active FROM relay.tenants ORDER BY 1;
SELECT 'registry ' || relid::text || ' ' || global_unique::text || ' ' || tenant_column
  FROM relay.relay_tables ORDER BY 1;
SELECT 'audited ' || relid::text FROM relay.relay_audit_tables ORDER BY 1;
-- (relay's own entries aside: relay_repair records the tables it had to repair)
SELECT 'audit entries ' || count(*) || ' ' || count(DISTINCT tenant_id) FROM relay.audit_logs WHERE action NOT LIKE 'relay.%';
SELECT 'problems ' || table_name::text || ' ' || problems::text FROM relay.relay_tenancy_status WHERE problems <> '{}' ORDER BY 1;
SELECT 'verify errors ' || count(*) FROM relay_verify() WHERE severity = 'error';
SELECT 'guard ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger
 WHERE tgname IN ('relay_tenant_truncate_guard', 'relay_append_only_row', 'relay_append_only_truncate') ORDER BY 1;
SELECT 'foreign keys ' || count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace;
