-- relay_tenancy: runs last in CREATE EXTENSION, once the Rust functions exist.
-- 1. The append-only, tenant-scoped audit log.
-- 2. Privileges: what PUBLIC may execute, pinned search_paths, guards on relay's
--    own tables, and the DDL guard (an event trigger).

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
  created_at    timestamptz DEFAULT pg_catalog.now() NOT NULL,
  -- the hash chain (relay_audit_chain(true)): the entry's position in its tenant's
  -- chain and SHA-256 of the previous entry's hash and this entry
  chain_seq     bigint,
  chain_hash    bytea
);
-- New entries take the session's tenant (set after CREATE TABLE: the regclass
-- literal needs the table to exist); with no tenant set an insert fails.
ALTER TABLE audit_logs ALTER COLUMN tenant_id SET DEFAULT relay_insert_tenant('audit_logs'::regclass);
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
CREATE POLICY tenant_isolation ON audit_logs AS RESTRICTIVE FOR ALL
  USING (tenant_id = (SELECT relay_policy_tenant('audit_logs'::regclass)))
  WITH CHECK (tenant_id = (SELECT relay_policy_tenant('audit_logs'::regclass)));
COMMENT ON POLICY tenant_isolation ON audit_logs IS 'relay_tenancy: rows of the tenant in app.current_tenant_id only';
CREATE POLICY tenant_access ON audit_logs AS PERMISSIVE FOR ALL
  USING (tenant_id = (SELECT relay_policy_tenant('audit_logs'::regclass)))
  WITH CHECK (tenant_id = (SELECT relay_policy_tenant('audit_logs'::regclass)));
COMMENT ON POLICY tenant_access ON audit_logs IS 'relay_tenancy: grants what tenant_isolation allows (the table had no permissive policy of its own)';
-- Entries are appended by relay_audit() and the capture trigger only (they run as
-- the extension's owner, which bypasses row level security): a role granted INSERT
-- by accident still cannot write, backdate or forge an entry.
CREATE POLICY relay_writes_only ON audit_logs AS RESTRICTIVE FOR INSERT WITH CHECK (false);
COMMENT ON POLICY relay_writes_only ON audit_logs IS 'relay_tenancy: only relay_audit() and the capture trigger append entries';

-- Application roles read their tenant's entries and append through relay_audit()
-- and the capture trigger, which set the tenant, time and id themselves; nobody but
-- the owner may do more.
REVOKE ALL ON audit_logs FROM PUBLIC;
GRANT SELECT ON audit_logs TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('audit_logs', '');

-- The hash chain: one head per tenant (last position and hash, and the checkpoint a
-- purge leaves), and relay's audit settings (chain = on).
CREATE TABLE relay_audit_chains (
  tenant_id       text PRIMARY KEY,
  last_seq        bigint NOT NULL,
  last_hash       bytea NOT NULL,
  checkpoint_seq  bigint,
  checkpoint_hash bytea
);
COMMENT ON TABLE relay_audit_chains IS 'relay_tenancy: the head of each tenant''s audit hash chain';
CREATE TABLE relay_audit_settings (key text PRIMARY KEY, value text NOT NULL);
COMMENT ON TABLE relay_audit_settings IS 'relay_tenancy: audit settings (chain = on: entries are hash-chained)';
REVOKE ALL ON relay_audit_chains, relay_audit_settings FROM PUBLIC;
ALTER TABLE relay_audit_chains ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE relay_audit_settings ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('relay_audit_chains', '');
SELECT pg_catalog.pg_extension_config_dump('relay_audit_settings', '');
-- Every tenant whose entries were ever chained, with when its chain began: a chain
-- deleted together with its head is still missed by relay_audit_verify. Append-only.
CREATE TABLE relay_audit_chained (
  tenant_id text PRIMARY KEY,
  since     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE relay_audit_chained IS 'relay_tenancy: every tenant whose audit entries were ever hash-chained (append-only)';
REVOKE ALL ON relay_audit_chained FROM PUBLIC;
ALTER TABLE relay_audit_chained ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('relay_audit_chained', '');
CREATE TRIGGER relay_append_only_row BEFORE UPDATE OR DELETE ON relay_audit_chained
  FOR EACH ROW EXECUTE FUNCTION relay_append_only_guard();
CREATE TRIGGER relay_append_only_truncate BEFORE TRUNCATE ON relay_audit_chained
  FOR EACH STATEMENT EXECUTE FUNCTION relay_append_only_guard();
ALTER TABLE relay_audit_chained ENABLE ALWAYS TRIGGER relay_append_only_row,
                                ENABLE ALWAYS TRIGGER relay_append_only_truncate;
ALTER FUNCTION relay_audit_chain(boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_audit_verify(text, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_audit_digest() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_placement_problems(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_restore_placement(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_node_settings() SET search_path = pg_catalog, pg_temp;

-- Captured changes are written with the extension owner's rights, so application
-- roles need no privilege on audit_logs for capture, and a captured change is never
-- refused for the tenant rule. relay_audit_capture itself runs as the caller (it is
-- called once per statement, and a function-level identity switch with a pinned
-- search_path would cost a one-row statement more than its entry): it raises its
-- privileges only around what needs them, the SQL writer and the hash chain, which
-- switch to the owner with the search_path pinned (ext::as_extension_owner).
ALTER FUNCTION relay_audit(text, text, text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- 2. Privileges.
-- relay's tables, its view and the functions its own objects call (policies, column
-- defaults, triggers, event triggers) live in this schema (`relay`, the control
-- file's); the functions users call live in public, where the calls documented and
-- written in migrations find them with the default search_path. A GRANT ... ON ALL
-- TABLES IN SCHEMA public no longer reaches relay's tables. Every role may look
-- things up here (reading relay.audit_logs, calling relay.relay_uuid7()); what each
-- object allows is set on the object. Nobody but the owner creates objects here.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
-- Trigger and event trigger functions: nobody attaches them by hand. relay attaches
-- them as the extension's owner after checking the caller owns the table.
REVOKE EXECUTE ON FUNCTION relay_audit_capture(), relay_append_only_guard(),
                           relay_tenant_truncate_guard(), relay_tenant_exists_guard() FROM PUBLIC;
-- Minting tokens is as good as knowing relay.token_key (it also checks the caller).
REVOKE EXECUTE ON FUNCTION relay_tenant_token(text, interval) FROM PUBLIC;

-- Every function that runs SQL does so with the search_path pinned, so no operator,
-- function or cast a caller put in a schema of its own can stand in for
-- pg_catalog's, in a migration run by a superuser least of all. (The hot per-row and
-- per-query functions, relay_insert_tenant and relay_policy_tenant, run no SQL.)
ALTER FUNCTION relay_enable_tenancy(regclass, text[], text, text, text, text[], text, boolean, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_tenancy_plan(regclass, text[], text, text, text, text[], text, boolean, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy(regclass, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy_plan(regclass, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy_schema(text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy_schema_plan(text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_use_tenant_registry(regclass, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_append_only(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_enable_audit(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_audit(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_create_tenant(text, text, text, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_suspend_tenant(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_resume_tenant(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_delete_tenant(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_set_tenant(text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_set_tenant(text, text, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_clear_tenant() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_security_check() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_enable_tenancy_schema_oids(text, oid[], oid[], text[], text, text, text, text[], text, text[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_tenancy_schema_plan_oids(text, oid[], oid[], text[], text, text, text, text[], text, text[]) SET search_path = pg_catalog, pg_temp;

-- Whole schemas: the SQL signatures (regclass[] lists), over the Rust functions.
CREATE FUNCTION relay_enable_tenancy_schema(schema name DEFAULT 'public', exclude regclass[] DEFAULT NULL,
                                            shared regclass[] DEFAULT NULL, global_unique text[] DEFAULT NULL,
                                            default_tenant text DEFAULT NULL, views text DEFAULT NULL,
                                            primary_key text DEFAULT NULL, keep_foreign_keys text[] DEFAULT NULL,
                                            tenant_column name DEFAULT NULL, tenant_from text[] DEFAULT NULL)
  RETURNS TABLE(table_name text, action text) LANGUAGE sql VOLATILE
  AS $$ SELECT * FROM @extschema@.relay_enable_tenancy_schema_oids($1::pg_catalog.text, $2::pg_catalog.oid[],
                                                                   $3::pg_catalog.oid[], $4, $5, $6, $7, $8, $9::pg_catalog.text, $10) $$;
CREATE FUNCTION relay_tenancy_schema_plan(schema name DEFAULT 'public', exclude regclass[] DEFAULT NULL,
                                          shared regclass[] DEFAULT NULL, global_unique text[] DEFAULT NULL,
                                          default_tenant text DEFAULT NULL, views text DEFAULT NULL,
                                          primary_key text DEFAULT NULL, keep_foreign_keys text[] DEFAULT NULL,
                                          tenant_column name DEFAULT NULL, tenant_from text[] DEFAULT NULL)
  RETURNS TABLE(table_name text, step integer, lock text, action text, statement text) LANGUAGE sql VOLATILE
  AS $$ SELECT * FROM @extschema@.relay_tenancy_schema_plan_oids($1::pg_catalog.text, $2::pg_catalog.oid[],
                                                                 $3::pg_catalog.oid[], $4, $5, $6, $7, $8, $9::pg_catalog.text, $10) $$;

-- One row per tenant-enabled table: its tenant column, the objects relay keeps on it,
-- and whether it is isolated (relay_isolation_problems: row level security flags,
-- relay's policies and their rule, the TRUNCATE guard). Owned by the extension's
-- owner, so it reads the registry; granted to nobody (GRANT SELECT to a monitoring
-- role). relay_verify() looks around the tables for what leaks.
CREATE VIEW relay_tenancy_status AS
SELECT r.relid AS table_name,
       r.tenant_column,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS column_type,
       a.attnotnull AS not_null,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS column_default,
       (SELECT pg_catalog.array_agg(k.conname::pg_catalog.text ORDER BY k.conname)
          FROM pg_catalog.pg_constraint k
         WHERE k.conrelid OPERATOR(pg_catalog.=) c.oid AND k.contype OPERATOR(pg_catalog.=) 'f'
           -- relay's tenants, or the application's own registry (relay_use_tenant_registry)
           AND k.confrelid OPERATOR(pg_catalog.=) COALESCE((SELECT g.relid FROM relay_tenant_registry g), 'tenants'::pg_catalog.regclass)) AS tenant_foreign_key,
       (SELECT pg_catalog.array_agg(ic.relname::pg_catalog.text ORDER BY ic.relname)
          FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
         WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
           AND i.indisvalid) AS tenant_indexes,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       (SELECT pg_catalog.array_agg(pg_catalog.format('%I %s', p.polname, CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END)
                                    ORDER BY p.polname)
          FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid) AS policies,
       relay_isolation_problems(r.relid) AS problems,
       fks.composite AS composite_foreign_keys,
       fks.single AS single_column_foreign_keys,
       (SELECT pg_catalog.array_agg(k.conname::pg_catalog.text ORDER BY k.conname)
          FROM pg_catalog.pg_constraint k
         WHERE k.conrelid OPERATOR(pg_catalog.=) c.oid AND NOT k.convalidated) AS not_valid_constraints,
       r.global_unique,
       r.keep_foreign_keys,
       r.default_tenant,
       EXISTS (SELECT FROM relay_audit_tables x WHERE x.relid OPERATOR(pg_catalog.=) r.relid) AS audited,
       r.enabled_at,
       r.enabled_by,
       r.updated_at
  FROM relay_tables r
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
  LEFT JOIN pg_catalog.pg_attribute a
         ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) r.tenant_column AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) c.oid AND d.adnum OPERATOR(pg_catalog.=) a.attnum
  -- foreign keys to and from other tenant-enabled tables, with the tenant column or without
  CROSS JOIN LATERAL (
    SELECT pg_catalog.array_agg(k.fk ORDER BY k.child, k.conname) FILTER (WHERE k.composite) AS composite,
           pg_catalog.array_agg(k.fk ORDER BY k.child, k.conname) FILTER (WHERE NOT k.composite) AS single
      FROM (SELECT pg_catalog.format('%I on %s', f.conname, f.conrelid::pg_catalog.regclass) AS fk, f.conname,
                   f.conrelid::pg_catalog.regclass::pg_catalog.text AS child,
                   EXISTS (SELECT FROM pg_catalog.pg_attribute x
                            WHERE x.attrelid OPERATOR(pg_catalog.=) f.conrelid AND x.attnum OPERATOR(pg_catalog.=) ANY (f.conkey)
                              AND x.attname OPERATOR(pg_catalog.=) r.tenant_column) AS composite
              FROM pg_catalog.pg_constraint f
              JOIN relay_tables o ON o.relid::pg_catalog.oid OPERATOR(pg_catalog.=)
                   CASE WHEN f.conrelid OPERATOR(pg_catalog.=) c.oid THEN f.confrelid ELSE f.conrelid END
             WHERE f.contype OPERATOR(pg_catalog.=) 'f'
               -- found through indexes (pg_constraint has none on confrelid): the
               -- table's own constraints, and those that depend on it
               AND f.oid OPERATOR(pg_catalog.=) ANY (ARRAY(
                     SELECT o.oid FROM pg_catalog.pg_constraint o WHERE o.conrelid OPERATOR(pg_catalog.=) c.oid
                     UNION ALL
                     SELECT dp.objid FROM pg_catalog.pg_depend dp
                      WHERE dp.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                        AND dp.refobjid OPERATOR(pg_catalog.=) c.oid
                        AND dp.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass))
               AND (f.conrelid OPERATOR(pg_catalog.=) c.oid OR f.confrelid OPERATOR(pg_catalog.=) c.oid)) k) fks;
COMMENT ON VIEW relay_tenancy_status IS 'relay_tenancy: one row per tenant-enabled table, and whether it is isolated';
REVOKE ALL ON relay_tenancy_status FROM PUBLIC;
-- The same row for one table: SELECT * FROM relay_tenancy_status('skills'). Runs as
-- the caller (who needs SELECT on the view); no row for a table that is not enabled.
CREATE FUNCTION relay_tenancy_status(tbl regclass) RETURNS SETOF @extschema@.relay_tenancy_status
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM @extschema@.relay_tenancy_status s WHERE s.table_name OPERATOR(pg_catalog.=) $1 $$;
ALTER FUNCTION relay_isolation_problems(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_verify() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_distribute(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_distribute_plan(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_repair() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_enable_tenancy_background(regclass, text[], text, text, text, text[], text, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_online_wait_poll(regclass, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_audit_purge(timestamptz) SET search_path = pg_catalog, pg_temp;

-- relay's own tables refuse TRUNCATE to every role their row level security applies
-- to (all but superusers and BYPASSRLS roles), even after a sloppy GRANT ALL.
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON tenants
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_tables
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_audit_tables
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
ALTER TABLE tenants ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
ALTER TABLE relay_tables ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
ALTER TABLE relay_audit_tables ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_audit_chains
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_audit_settings
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
ALTER TABLE relay_audit_chains ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
ALTER TABLE relay_audit_settings ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;

-- The default tenant's row is created by CREATE EXTENSION, and pg_dump keeps it only
-- when it was edited: on restore, the dumped row is merged into the recreated one
-- instead of colliding with it. (relay's DDL guard re-enables this trigger after
-- ALTER TABLE tenants DISABLE TRIGGER ALL, so a data-only restore merges too.)
CREATE FUNCTION relay_default_tenant_merge() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE @extschema@.tenants
     SET name = NEW.name, slug = NEW.slug, domain = NEW.domain, logo = NEW.logo,
         is_active = NEW.is_active, plan = NEW.plan, created_at = NEW.created_at, updated_at = NEW.updated_at
   WHERE id OPERATOR(pg_catalog.=) NEW.id;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION relay_default_tenant_merge() FROM PUBLIC;
CREATE TRIGGER relay_default_tenant_merge BEFORE INSERT ON tenants FOR EACH ROW
  WHEN (NEW.id OPERATOR(pg_catalog.=) 'default-tenant-000-0000-000000000000')
  EXECUTE FUNCTION relay_default_tenant_merge();
ALTER TABLE tenants ENABLE ALWAYS TRIGGER relay_default_tenant_merge;

-- The DDL guard: a non-superuser cannot switch isolation off on a tenant-enabled
-- table (NO FORCE / DISABLE ROW LEVEL SECURITY, altering or dropping relay's
-- policies, dropping or disabling the TRUNCATE guard); a superuser gets a WARNING.
CREATE FUNCTION relay_ddl_guard() RETURNS event_trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_ddl_guard';
REVOKE EXECUTE ON FUNCTION relay_ddl_guard() FROM PUBLIC;
CREATE EVENT TRIGGER relay_ddl_guard_alter ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'ALTER POLICY') EXECUTE FUNCTION relay_ddl_guard();
CREATE EVENT TRIGGER relay_ddl_guard_drop ON sql_drop
  WHEN TAG IN ('DROP POLICY', 'DROP TRIGGER') EXECUTE FUNCTION relay_ddl_guard();
ALTER EVENT TRIGGER relay_ddl_guard_alter ENABLE ALWAYS;
ALTER EVENT TRIGGER relay_ddl_guard_drop ENABLE ALWAYS;
-- A trigger or rule on a tenant-enabled table (or one of relay's) sees every row any
-- tenant writes: refused to roles whose row level security applies and that do not
-- own the table (TRIGGER granted by a sloppy GRANT ALL).
CREATE EVENT TRIGGER relay_ddl_guard_create ON ddl_command_end
  WHEN TAG IN ('CREATE TRIGGER', 'CREATE RULE') EXECUTE FUNCTION relay_ddl_guard();
ALTER EVENT TRIGGER relay_ddl_guard_create ENABLE ALWAYS;

-- Partitions follow their tenant-enabled parent (created or attached later, by hand
-- or by pg_partman), and a tenant-enabled table is never attached or made to inherit
-- under a parent that is not tenant-enabled.
CREATE FUNCTION relay_partition_guard() RETURNS event_trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_partition_guard';
REVOKE EXECUTE ON FUNCTION relay_partition_guard() FROM PUBLIC;
CREATE EVENT TRIGGER relay_partition_guard ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION relay_partition_guard();
ALTER EVENT TRIGGER relay_partition_guard ENABLE ALWAYS;
-- Event trigger functions run SQL (and enabling a partition records catalog text in
-- the registry): under the same pinned search_path as every other relay function.
ALTER FUNCTION relay_partition_guard() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_ddl_guard() SET search_path = pg_catalog, pg_temp;

-- The DROP guard: DROP EXTENSION relay_tenancy (or DROP SCHEMA ... CASCADE of its
-- schema, DROP OWNED BY its owner) is refused while tables are tenant-enabled or
-- audit_logs holds entries (relay.drop_audit_log = on lets the entries go).
CREATE FUNCTION relay_drop_guard() RETURNS event_trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_drop_guard';
REVOKE EXECUTE ON FUNCTION relay_drop_guard() FROM PUBLIC;
CREATE EVENT TRIGGER relay_drop_guard ON ddl_command_start
  WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED') EXECUTE FUNCTION relay_drop_guard();
ALTER EVENT TRIGGER relay_drop_guard ENABLE ALWAYS;
-- The registry follows dropped tables (a rename needs nothing: it holds oids).
CREATE EVENT TRIGGER relay_registry_cleanup ON sql_drop
  WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED') EXECUTE FUNCTION relay_drop_guard();
ALTER EVENT TRIGGER relay_registry_cleanup ENABLE ALWAYS;
ALTER FUNCTION relay_drop_guard() SET search_path = pg_catalog, pg_temp;

-- Per-relation statistics counters count the rows row level security hides: a role
-- could read another tenant's indexed values by range probes, watching how many index
-- entries its own query returned (pg_stat_get_xact_tuples_returned on an index that
-- does not lead with tenant_id), the same oracle as EXPLAIN ANALYZE; the database-wide
-- counters do the same, more slowly. They are taken
-- from PUBLIC in this database and given to pg_read_all_stats (pg_monitor is a
-- member), so monitoring roles keep pg_stat_user_tables and pg_stat_user_indexes.
-- README "Security model" says how to undo it.
DO $$
DECLARE
  f pg_catalog.regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
       AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY[
         'pg_stat_get_numscans', 'pg_stat_get_tuples_returned', 'pg_stat_get_tuples_fetched',
         'pg_stat_get_tuples_inserted', 'pg_stat_get_tuples_updated', 'pg_stat_get_tuples_deleted',
         'pg_stat_get_tuples_hot_updated', 'pg_stat_get_live_tuples', 'pg_stat_get_dead_tuples',
         'pg_stat_get_mod_since_analyze', 'pg_stat_get_ins_since_vacuum',
         'pg_stat_get_blocks_fetched', 'pg_stat_get_blocks_hit',
         'pg_stat_get_xact_numscans', 'pg_stat_get_xact_tuples_returned', 'pg_stat_get_xact_tuples_fetched',
         'pg_stat_get_xact_tuples_inserted', 'pg_stat_get_xact_tuples_updated', 'pg_stat_get_xact_tuples_deleted',
         'pg_stat_get_xact_tuples_hot_updated', 'pg_stat_get_xact_blocks_fetched', 'pg_stat_get_xact_blocks_hit',
         'pg_stat_get_db_tuples_returned', 'pg_stat_get_db_tuples_fetched', 'pg_stat_get_db_tuples_inserted',
         'pg_stat_get_db_tuples_updated', 'pg_stat_get_db_tuples_deleted',
         'pg_stat_get_db_blocks_fetched', 'pg_stat_get_db_blocks_hit',
         -- when a table was last vacuumed or analyzed, and how often: a write-activity
         -- oracle (autovacuum runs after enough rows of any tenant changed)
         'pg_stat_get_vacuum_count', 'pg_stat_get_autovacuum_count',
         'pg_stat_get_analyze_count', 'pg_stat_get_autoanalyze_count',
         'pg_stat_get_last_vacuum_time', 'pg_stat_get_last_autovacuum_time',
         'pg_stat_get_last_analyze_time', 'pg_stat_get_last_autoanalyze_time',
         -- added by PostgreSQL 16-18 (no such functions on 15): when a relation was
         -- last scanned, updates that moved a row to a new page, total vacuum and
         -- analyze times
         'pg_stat_get_lastscan', 'pg_stat_get_tuples_newpage_updated',
         'pg_stat_get_xact_tuples_newpage_updated',
         'pg_stat_get_total_vacuum_time', 'pg_stat_get_total_autovacuum_time',
         'pg_stat_get_total_analyze_time', 'pg_stat_get_total_autoanalyze_time']::pg_catalog.name[])
  LOOP
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', f);
  END LOOP;
END $$;

-- Online conversions queued for a background worker (relay_enable_tenancy_background;
-- issue 23). One row per job; the worker that runs a job holds a session advisory
-- lock (classid 1380732746, objid = id), so a job marked running whose lock nobody
-- holds was cut off (a restart) and is resumed by the next worker. Written only by
-- relay (as the extension's owner); not dumped: a job names a table by oid, which a
-- restore changes (queue it again after a restore).
CREATE TABLE @extschema@.online_jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  relid oid NOT NULL,
  table_name text NOT NULL,
  options jsonb NOT NULL,
  run_as oid NOT NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
  step integer NOT NULL DEFAULT 0,
  steps integer,
  action text,
  lines text[],
  error_sqlstate text,
  error_message text,
  error_detail text,
  error_hint text,
  attempts integer NOT NULL DEFAULT 0,
  -- every try of a catalog run: {at: when it started (epoch s), ms: from its transaction's
  -- start to its end, held_ms: from the first lock it took to its commit releasing them (how long the
  -- application can have queued behind it, the lock wait aside), ok}
  lock_windows jsonb,
  worker_pid integer,
  queued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX online_jobs_relid ON @extschema@.online_jobs (relid, id);
REVOKE ALL ON @extschema@.online_jobs FROM PUBLIC;
-- As relay's other tables: row level security with no policy (a sloppy GRANT gives no
-- row), the TRUNCATE guard; relay_security_check reports grants on it.
ALTER TABLE @extschema@.online_jobs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON @extschema@.online_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.relay_tenant_truncate_guard();
ALTER TABLE @extschema@.online_jobs ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
COMMENT ON TABLE @extschema@.online_jobs IS 'relay_tenancy: online conversions queued for a background worker (read relay.online_conversions)';

-- What a role may see of the queue: its own jobs (those of roles it has the
-- privileges of; a superuser sees all). "worker" is true while a worker holds the job.
CREATE VIEW @extschema@.online_conversions AS
  SELECT j.id, j.table_name AS "table", j.state, j.step, j.steps, j.action, j.lines,
         j.error_sqlstate, j.error_message, j.attempts,
         (SELECT pg_catalog.max((w OPERATOR(pg_catalog.->>) 'held_ms')::pg_catalog.float8)
            FROM pg_catalog.jsonb_array_elements(j.lock_windows) w) AS longest_lock_ms,
         EXISTS (SELECT FROM pg_catalog.pg_locks l
                  WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                    AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                    AND l.classid OPERATOR(pg_catalog.=) 1380732746::pg_catalog.oid
                    AND l.objid OPERATOR(pg_catalog.=) j.id::pg_catalog.oid AND l.objsubid OPERATOR(pg_catalog.=) 2) AS worker,
         j.run_as::pg_catalog.regrole AS queued_by, j.queued_at, j.started_at, j.finished_at
    FROM @extschema@.online_jobs j
   -- (a job of a role dropped since: only in relay.online_jobs, which superusers read)
   WHERE CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) j.run_as)
              THEN pg_catalog.pg_has_role(j.run_as, 'USAGE') ELSE false END;
COMMENT ON VIEW @extschema@.online_conversions IS 'relay_tenancy: background online conversions of the roles you have the privileges of';
GRANT SELECT ON @extschema@.online_conversions TO PUBLIC;

-- CALL relay_online_wait('big'): waits until the newest background conversion of the
-- table is done (its lines come back) or failed (its error is raised, with its
-- SQLSTATE). A procedure that commits between polls: a transaction that held a
-- snapshot while it waited would make the worker's concurrent index builds wait for
-- it. Hence also no SET clause (a procedure with one cannot commit): every name is
-- qualified.
CREATE PROCEDURE @extschema@.relay_online_wait(tbl regclass, timeout interval DEFAULT NULL, INOUT lines text[] DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  started timestamptz := pg_catalog.clock_timestamp();
BEGIN
  LOOP
    SELECT * INTO s FROM @extschema@.relay_online_wait_poll(tbl, 100);
    IF s.state OPERATOR(pg_catalog.=) 'done' THEN
      lines := s.lines;
      RETURN;
    ELSIF s.state OPERATOR(pg_catalog.=) 'failed' THEN
      RAISE EXCEPTION USING ERRCODE = s.sqlstate, MESSAGE = s.message,
        DETAIL = COALESCE(s.detail, ''), HINT = COALESCE(s.hint, '');
    ELSIF timeout IS NOT NULL
          AND pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>) (started OPERATOR(pg_catalog.+) timeout) THEN
      RAISE EXCEPTION USING ERRCODE = 'query_canceled',
        MESSAGE = pg_catalog.format('relay_online_wait: the online conversion of %s is still %s after %s', tbl, s.state, timeout),
        DETAIL = 'The background worker goes on; relay.online_conversions shows its progress.',
        HINT = 'CALL relay_online_wait again to wait longer.';
    END IF;
    COMMIT;
  END LOOP;
END $$;

-- 3. The functions users call move to public (everything above was created in
-- relay's schema): `SELECT relay_enable_tenancy('skills')`, `relay_set_tenant(...)`
-- and the rest are found with the default search_path, as before 0.3.0, with no
-- wrapper in between. What relay's own objects call stays here. (The 0.2.0 -> 0.3.0
-- update script moves an installed 0.2.0 the same way, from the same list.)
DO $$
DECLARE
  api pg_catalog.name[] := ARRAY[
    'relay_enable_tenancy', 'relay_tenancy_plan', 'relay_disable_tenancy', 'relay_disable_tenancy_plan',
    'relay_enable_tenancy_schema', 'relay_tenancy_schema_plan', 'relay_disable_tenancy_schema',
    'relay_disable_tenancy_schema_plan', 'relay_use_tenant_registry', 'relay_verify', 'relay_security_check',
    'relay_isolation_problems', 'relay_tenancy_status', 'relay_repair', 'relay_set_tenant', 'relay_clear_tenant', 'relay_current_tenant',
    'relay_tenant_token', 'relay_create_tenant', 'relay_suspend_tenant', 'relay_resume_tenant',
    'relay_delete_tenant', 'relay_audit', 'relay_enable_audit', 'relay_disable_audit', 'relay_append_only',
    'relay_audit_chain', 'relay_audit_verify', 'relay_audit_digest', 'relay_audit_purge', 'relay_distribute',
    'relay_distribute_plan', 'relay_placement_problems', 'relay_restore_placement', 'relay_node_settings',
    'relay_enable_tenancy_background', 'relay_online_wait']::pg_catalog.name[];
  fn pg_catalog.regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
       AND p.proname OPERATOR(pg_catalog.=) ANY (api)
  LOOP
    EXECUTE pg_catalog.format('ALTER ROUTINE %s SET SCHEMA public', fn);
  END LOOP;
END $$;
