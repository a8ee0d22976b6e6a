-- relay_tenancy 0.1.0 -> 0.2.0 (ALTER EXTENSION relay_tenancy UPDATE).
-- Runs in the extension's schema, as the extension's owner, in one transaction.
-- The upgrade test (tests/upgrade) checks that the catalog afterwards matches a
-- fresh 0.2.0 install object by object.
\echo Use "ALTER EXTENSION relay_tenancy UPDATE" to load this file. \quit

-- 1. Undo: relay_disable_tenancy and its dry run.
-- relay_tenancy::disable::relay_disable_tenancy
CREATE  FUNCTION "relay_disable_tenancy"(
	"tbl" regclass, /* Option < RegClass > */
	"drop_column" bool DEFAULT false /* Option < bool > */
) RETURNS SETOF TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_disable_tenancy_wrapper';

-- relay_tenancy::disable::relay_disable_tenancy_plan
CREATE  FUNCTION "relay_disable_tenancy_plan"(
	"tbl" regclass, /* Option < RegClass > */
	"drop_column" bool DEFAULT false /* Option < bool > */
) RETURNS TABLE (
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_disable_tenancy_plan_wrapper';

ALTER FUNCTION relay_disable_tenancy(regclass, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy_plan(regclass, boolean) SET search_path = pg_catalog, pg_temp;

-- 2. Status and verify.
-- relay_tenancy::verify::relay_isolation_problems
CREATE  FUNCTION "relay_isolation_problems"(
	"tbl" regclass /* crate :: regclass :: RegClass */
) RETURNS TEXT[] /* Vec < String > */
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_isolation_problems_wrapper';

-- relay_tenancy::verify::relay_verify
CREATE  FUNCTION "relay_verify"() RETURNS TABLE (
	"severity" TEXT,  /* String */
	"object" TEXT,  /* String */
	"problem" TEXT,  /* String */
	"fix" TEXT  /* String */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_verify_wrapper';

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
           AND k.confrelid OPERATOR(pg_catalog.=) 'tenants'::pg_catalog.regclass) AS tenant_foreign_key,
       (SELECT pg_catalog.array_agg(ic.relname::pg_catalog.text ORDER BY ic.relname)
          FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
         WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum) AS tenant_indexes,
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
               AND (f.conrelid OPERATOR(pg_catalog.=) c.oid OR f.confrelid OPERATOR(pg_catalog.=) c.oid)) k) fks;
COMMENT ON VIEW relay_tenancy_status IS 'relay_tenancy: one row per tenant-enabled table, and whether it is isolated';
REVOKE ALL ON relay_tenancy_status FROM PUBLIC;
ALTER FUNCTION relay_isolation_problems(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_verify() SET search_path = pg_catalog, pg_temp;

-- 3. Partitions follow their parent; the DROP EXTENSION guard and registry cleanup.
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

-- 4. Dump, restore and retention: relay_repair, relay_audit_purge, the default
--    tenant's edits kept by pg_dump and merged on restore.
-- relay_tenancy::repair::relay_repair
CREATE  FUNCTION "relay_repair"() RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"action" TEXT  /* String */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_repair_wrapper';

-- relay_tenancy::audit::purge::relay_audit_purge
CREATE  FUNCTION "relay_audit_purge"(
	"before" timestamp with time zone /* Option < TimestampWithTimeZone > */
) RETURNS bigint /* i64 */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_audit_purge_wrapper';

ALTER FUNCTION relay_repair() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_audit_purge(timestamptz) SET search_path = pg_catalog, pg_temp;
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
SELECT pg_catalog.pg_extension_config_dump('tenants',
  $$WHERE id <> 'default-tenant-000-0000-000000000000'
       OR (name, slug, domain, logo, is_active, plan)
          IS DISTINCT FROM ('Default'::text, 'default'::text, NULL::text, NULL::text, true, 'freemium'::text)$$);

-- 5. Online conversion: relay_enable_tenancy and relay_tenancy_plan take online.
--    The seven-argument functions are replaced (their C symbols stay in the library
--    for databases not yet updated).
DROP FUNCTION relay_enable_tenancy(regclass, text[], text, text, text, text[], text);
DROP FUNCTION relay_tenancy_plan(regclass, text[], text, text, text, text[], text);
CREATE  FUNCTION "relay_enable_tenancy"(
	"tbl" regclass, /* Option < RegClass > */
	"global_unique" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT DEFAULT NULL, /* Option < String > */
	"views" TEXT DEFAULT 'report', /* Option < String > */
	"primary_key" TEXT DEFAULT 'global', /* Option < String > */
	"keep_foreign_keys" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT DEFAULT NULL, /* Option < String > */
	"online" bool DEFAULT false /* Option < bool > */
) RETURNS SETOF TEXT /* String */
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_enable_tenancy_v2_wrapper';

CREATE  FUNCTION "relay_tenancy_plan"(
	"tbl" regclass, /* Option < RegClass > */
	"global_unique" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT DEFAULT NULL, /* Option < String > */
	"views" TEXT DEFAULT 'report', /* Option < String > */
	"primary_key" TEXT DEFAULT 'global', /* Option < String > */
	"keep_foreign_keys" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT DEFAULT NULL, /* Option < String > */
	"online" bool DEFAULT false /* Option < bool > */
) RETURNS TABLE (
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_tenancy_plan_v2_wrapper';

ALTER FUNCTION relay_enable_tenancy(regclass, text[], text, text, text, text[], text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_tenancy_plan(regclass, text[], text, text, text, text[], text, boolean) SET search_path = pg_catalog, pg_temp;

-- 6. The audit hash chain (opt-in): two columns on audit_logs (catalog only), the
--    chain heads and settings, relay_audit_chain and relay_audit_verify.
ALTER TABLE audit_logs ADD COLUMN chain_seq bigint, ADD COLUMN chain_hash bytea;
CREATE  FUNCTION "relay_audit_chain"(
	"enable" bool /* Option < bool > */
) RETURNS TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_audit_chain_wrapper';

CREATE  FUNCTION "relay_audit_verify"(
	"tenant" TEXT DEFAULT NULL /* Option < String > */
) RETURNS TABLE (
	"tenant_id" TEXT,  /* String */
	"entries" bigint,  /* i64 */
	"status" TEXT,  /* String */
	"detail" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_audit_verify_wrapper';

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
ALTER FUNCTION relay_audit_chain(boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_audit_verify(text) SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_audit_chains
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay_audit_settings
  FOR EACH STATEMENT EXECUTE FUNCTION relay_tenant_truncate_guard();
ALTER TABLE relay_audit_chains ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
ALTER TABLE relay_audit_settings ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;

-- 7. The capture trigger function runs as the caller and raises its privileges only
-- around the SQL writer and the hash chain (pinned search_path there): a one-row
-- statement no longer pays for a function-level identity and search_path switch.
ALTER FUNCTION relay_audit_capture() SECURITY INVOKER RESET search_path;

-- 8. Scale out with Citus: relay_distribute and its dry run.
-- relay_tenancy::distribute::relay_distribute
CREATE  FUNCTION "relay_distribute"(
	"schema" TEXT DEFAULT 'public', /* Option < String > */
	"shard_count" INT DEFAULT NULL /* Option < i32 > */
) RETURNS SETOF TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_distribute_wrapper';

-- relay_tenancy::distribute::relay_distribute_plan
CREATE  FUNCTION "relay_distribute_plan"(
	"schema" TEXT DEFAULT 'public', /* Option < String > */
	"shard_count" INT DEFAULT NULL /* Option < i32 > */
) RETURNS TABLE (
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_distribute_plan_wrapper';

ALTER FUNCTION relay_distribute(text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_distribute_plan(text, integer) SET search_path = pg_catalog, pg_temp;

-- 9. The by-name forms of the policy and default functions, which relay_distribute
--    writes for Citus (a worker cannot resolve a regclass constant while it creates
--    a shard).
CREATE FUNCTION "relay_insert_tenant"("tbl" TEXT) RETURNS TEXT
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_insert_tenant_named_wrapper';
CREATE FUNCTION "relay_insert_tenant_uuid"("tbl" TEXT) RETURNS uuid
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_insert_tenant_uuid_named_wrapper';
CREATE FUNCTION "relay_insert_tenant_bigint"("tbl" TEXT) RETURNS bigint
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_insert_tenant_bigint_named_wrapper';
CREATE FUNCTION "relay_policy_tenant"("tbl" TEXT) RETURNS TEXT
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_policy_tenant_named_wrapper';
CREATE FUNCTION "relay_policy_tenant_uuid"("tbl" TEXT) RETURNS uuid
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_policy_tenant_uuid_named_wrapper';
CREATE FUNCTION "relay_policy_tenant_bigint"("tbl" TEXT) RETURNS bigint
STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'relay_policy_tenant_bigint_named_wrapper';
