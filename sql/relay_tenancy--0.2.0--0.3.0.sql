-- relay_tenancy 0.2.0 -> 0.3.0 (ALTER EXTENSION relay_tenancy UPDATE).
-- Runs in the extension's schema, as the extension's owner, in one transaction.
-- The upgrade test (tests/pg_regress/sql/upgrade.sql) checks that the catalog
-- afterwards matches a fresh 0.3.0 install object by object.
\echo Use "ALTER EXTENSION relay_tenancy UPDATE" to load this file. \quit

-- 1. CREATE TRIGGER / CREATE RULE on a tenant-enabled table (or one of relay's) by a
-- role whose row level security applies and that does not own the table: refused.
CREATE EVENT TRIGGER relay_ddl_guard_create ON ddl_command_end
  WHEN TAG IN ('CREATE TRIGGER', 'CREATE RULE') EXECUTE FUNCTION relay_ddl_guard();
ALTER EVENT TRIGGER relay_ddl_guard_create ENABLE ALWAYS;

-- 2. The vacuum and analyze counters and times join the statistics counters taken
-- from PUBLIC (a write-activity oracle), and so do the counters PostgreSQL 16-18 added
-- (last scan time, new-page updates, total vacuum and analyze times; on 15 these names
-- match nothing).
DO $$
DECLARE
  f pg_catalog.regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
       AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY[
         'pg_stat_get_vacuum_count', 'pg_stat_get_autovacuum_count',
         'pg_stat_get_analyze_count', 'pg_stat_get_autoanalyze_count',
         'pg_stat_get_last_vacuum_time', 'pg_stat_get_last_autovacuum_time',
         'pg_stat_get_last_analyze_time', 'pg_stat_get_last_autoanalyze_time',
         'pg_stat_get_lastscan', 'pg_stat_get_tuples_newpage_updated',
         'pg_stat_get_xact_tuples_newpage_updated',
         'pg_stat_get_total_vacuum_time', 'pg_stat_get_total_autovacuum_time',
         'pg_stat_get_total_analyze_time', 'pg_stat_get_total_autoanalyze_time']::pg_catalog.name[])
  LOOP
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', f);
  END LOOP;
END $$;

-- 3. Tokens are single-use and short-lived: relay_tenant_token's default lifetime
-- goes from 5 minutes to 1 minute (a token is spent by the request it was minted for).
CREATE OR REPLACE FUNCTION "relay_tenant_token"(
	"tenant" TEXT, /* Option < String > */
	"valid_for" interval DEFAULT '1 minute' /* Option < pgrx :: datum :: Interval > */
) RETURNS TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_tenant_token_wrapper';

-- 4. Tamper evidence a superuser cannot quietly rewrite: every chained tenant is
-- registered for good (append-only), relay_audit_digest() anchors each chain outside
-- the database, and relay_audit_verify(tenant, digest) checks against it.
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
-- The chains that exist now: registered since their first entry.
INSERT INTO relay_audit_chained (tenant_id, since)
SELECT c.tenant_id, COALESCE((SELECT pg_catalog.min(a.created_at) FROM audit_logs a
                               WHERE a.tenant_id OPERATOR(pg_catalog.=) c.tenant_id AND a.chain_seq IS NOT NULL), pg_catalog.now())
  FROM relay_audit_chains c;
-- When the chain was turned on, for the check of unchained entries: now, for a chain
-- that is on (entries before the update are not judged by it).
INSERT INTO relay_audit_settings (key, value)
SELECT 'chain_since', pg_catalog.transaction_timestamp()::pg_catalog.text
 WHERE EXISTS (SELECT FROM relay_audit_settings WHERE key OPERATOR(pg_catalog.=) 'chain')
ON CONFLICT (key) DO NOTHING;

DROP FUNCTION relay_audit_verify(text);
CREATE  FUNCTION "relay_audit_verify"(
	"tenant" TEXT DEFAULT NULL, /* Option < String > */
	"digest" jsonb DEFAULT NULL /* Option < pgrx :: JsonB > */
) RETURNS TABLE (
	"tenant_id" TEXT,  /* String */
	"entries" bigint,  /* i64 */
	"status" TEXT,  /* String */
	"detail" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_audit_verify_against_wrapper';
ALTER FUNCTION relay_audit_verify(text, jsonb) SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION "relay_audit_digest"() RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_audit_digest_wrapper';
ALTER FUNCTION relay_audit_digest() SET search_path = pg_catalog, pg_temp;

-- 4b. The application's own tenant table (relay_use_tenant_registry, issue 22): at most
-- one row; relay_tenancy_status reads it for each table's key to the registry.
CREATE TABLE relay_tenant_registry (
  singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  relid         regclass NOT NULL,
  id_column     name NOT NULL,
  active_column name,
  set_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  set_by        name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE relay_tenant_registry IS 'relay_tenancy: the application''s own tenant table, if relay_use_tenant_registry named one';
SELECT pg_catalog.pg_extension_config_dump('relay_tenant_registry', '');
REVOKE ALL ON relay_tenant_registry FROM PUBLIC;
ALTER TABLE relay_tenant_registry ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- 4c. Tables with shared rows (issue 22): rows of no tenant are read by every tenant.
ALTER TABLE relay_tables ADD COLUMN shared_rows boolean NOT NULL DEFAULT false;

-- 4d. The options each schema was converted with (issue 22).
CREATE TABLE relay_schemas (
  schema_name  name PRIMARY KEY,
  options      jsonb NOT NULL,
  converted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  converted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE relay_schemas IS 'relay_tenancy: the options each schema was converted with';
SELECT pg_catalog.pg_extension_config_dump('relay_schemas', '');
REVOKE ALL ON relay_schemas FROM PUBLIC;
ALTER TABLE relay_schemas ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- 5. relay_tenancy_status.tenant_indexes lists valid indexes only (an INVALID one, left
-- by a failed concurrent build, is reported by relay_verify and relay_security_check),
-- and it finds each table's foreign keys through indexes (linear in the tables).
CREATE OR REPLACE VIEW relay_tenancy_status AS
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

-- 8. Citus placements guarded like their tables (issue 19): each node checks and
-- restores the shards it holds, and reports its own settings, for the coordinator's
-- relay_verify, relay_security_check and relay_distribute.
CREATE  FUNCTION "relay_placement_problems"("placement" regclass) RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_placement_problems_wrapper';
CREATE  FUNCTION "relay_restore_placement"("placement" regclass) RETURNS TEXT[]
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_restore_placement_wrapper';
CREATE  FUNCTION "relay_node_settings"() RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_node_settings_wrapper';
ALTER FUNCTION relay_placement_problems(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_restore_placement(regclass) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_node_settings() SET search_path = pg_catalog, pg_temp;

-- 9. The application's own tenant table as the registry (issue 22; the table is in 4b).
CREATE  FUNCTION "relay_use_tenant_registry"(
	"tbl" regclass, /* Option < RegClass > */
	"id_column" TEXT DEFAULT 'id', /* Option < String > */
	"active_column" TEXT DEFAULT NULL /* Option < String > */
) RETURNS TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_use_tenant_registry_wrapper';
ALTER FUNCTION relay_use_tenant_registry(regclass, text, text) SET search_path = pg_catalog, pg_temp;

-- 10. tenant_from and shared_rows (issue 22): relay_enable_tenancy and relay_tenancy_plan
-- take the foreign key whose parent row gives each row its tenant, and whether rows of
-- no tenant are shared. (0.2.0's eight-argument C
-- symbols stay in the library for databases not yet updated.)
DROP FUNCTION relay_enable_tenancy(regclass, text[], text, text, text, text[], text, boolean);
DROP FUNCTION relay_tenancy_plan(regclass, text[], text, text, text, text[], text, boolean);
CREATE  FUNCTION "relay_enable_tenancy"(
	"tbl" regclass, /* Option < RegClass > */
	"global_unique" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT DEFAULT NULL, /* Option < String > */
	"views" TEXT DEFAULT 'report', /* Option < String > */
	"primary_key" TEXT DEFAULT 'global', /* Option < String > */
	"keep_foreign_keys" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT DEFAULT NULL, /* Option < String > */
	"online" bool DEFAULT false, /* Option < bool > */
	"tenant_from" TEXT DEFAULT NULL, /* Option < String > */
	"shared_rows" bool DEFAULT NULL /* Option < bool > */
) RETURNS SETOF TEXT /* String */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_enable_tenancy_v3_wrapper';
CREATE  FUNCTION "relay_tenancy_plan"(
	"tbl" regclass, /* Option < RegClass > */
	"global_unique" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT DEFAULT NULL, /* Option < String > */
	"views" TEXT DEFAULT 'report', /* Option < String > */
	"primary_key" TEXT DEFAULT 'global', /* Option < String > */
	"keep_foreign_keys" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT DEFAULT NULL, /* Option < String > */
	"online" bool DEFAULT false, /* Option < bool > */
	"tenant_from" TEXT DEFAULT NULL, /* Option < String > */
	"shared_rows" bool DEFAULT NULL /* Option < bool > */
) RETURNS TABLE (
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_tenancy_plan_v3_wrapper';
ALTER FUNCTION relay_enable_tenancy(regclass, text[], text, text, text, text[], text, boolean, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_tenancy_plan(regclass, text[], text, text, text, text[], text, boolean, text, boolean) SET search_path = pg_catalog, pg_temp;

-- 11. The schema call takes tenant_from => ARRAY['table.fk', ...] (issue 22).
DROP FUNCTION relay_enable_tenancy_schema(name, regclass[], regclass[], text[], text, text, text, text[], name);
DROP FUNCTION relay_tenancy_schema_plan(name, regclass[], regclass[], text[], text, text, text, text[], name);
DROP FUNCTION relay_enable_tenancy_schema_oids(text, oid[], oid[], text[], text, text, text, text[], text);
DROP FUNCTION relay_tenancy_schema_plan_oids(text, oid[], oid[], text[], text, text, text, text[], text);
CREATE  FUNCTION "relay_enable_tenancy_schema_oids"(
	"schema" TEXT, /* Option < String > */
	"exclude" oid[], /* :: std :: option :: Option < Vec < Option < pgrx :: pg_sys :: Oid > > > */
	"shared" oid[], /* :: std :: option :: Option < Vec < Option < pgrx :: pg_sys :: Oid > > > */
	"global_unique" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT, /* Option < String > */
	"views" TEXT, /* Option < String > */
	"primary_key" TEXT, /* Option < String > */
	"keep_foreign_keys" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT, /* Option < String > */
	"tenant_from" TEXT[] /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"action" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_enable_tenancy_schema_oids_v2_wrapper';
CREATE  FUNCTION "relay_tenancy_schema_plan_oids"(
	"schema" TEXT, /* Option < String > */
	"exclude" oid[], /* :: std :: option :: Option < Vec < Option < pgrx :: pg_sys :: Oid > > > */
	"shared" oid[], /* :: std :: option :: Option < Vec < Option < pgrx :: pg_sys :: Oid > > > */
	"global_unique" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"default_tenant" TEXT, /* Option < String > */
	"views" TEXT, /* Option < String > */
	"primary_key" TEXT, /* Option < String > */
	"keep_foreign_keys" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenant_column" TEXT, /* Option < String > */
	"tenant_from" TEXT[] /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_tenancy_schema_plan_oids_v2_wrapper';
ALTER FUNCTION relay_enable_tenancy_schema_oids(text, oid[], oid[], text[], text, text, text, text[], text, text[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_tenancy_schema_plan_oids(text, oid[], oid[], text[], text, text, text, text[], text, text[]) SET search_path = pg_catalog, pg_temp;
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

-- 12. A whole schema back (issue 22): relay_disable_tenancy_schema and its dry run.
CREATE  FUNCTION "relay_disable_tenancy_schema"(
	"schema" TEXT DEFAULT 'public', /* Option < String > */
	"drop_column" bool DEFAULT false /* Option < bool > */
) RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"action" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_disable_tenancy_schema_wrapper';
CREATE  FUNCTION "relay_disable_tenancy_schema_plan"(
	"schema" TEXT DEFAULT 'public', /* Option < String > */
	"drop_column" bool DEFAULT false /* Option < bool > */
) RETURNS TABLE (
	"table_name" TEXT,  /* String */
	"step" INT,  /* i32 */
	"lock" TEXT,  /* String */
	"action" TEXT,  /* String */
	"statement" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_disable_tenancy_schema_plan_wrapper';
ALTER FUNCTION relay_disable_tenancy_schema(text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay_disable_tenancy_schema_plan(text, boolean) SET search_path = pg_catalog, pg_temp;

-- 12b. relay_security_check's first column is check_name (issue 23): "check" is a
-- reserved word, which every query had to quote.
DROP FUNCTION relay_security_check();
CREATE  FUNCTION "relay_security_check"() RETURNS TABLE (
	"check_name" TEXT,  /* String */
	"ok" bool,  /* bool */
	"detail" TEXT  /* String */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relay_security_check_wrapper';
ALTER FUNCTION relay_security_check() SET search_path = pg_catalog, pg_temp;

-- 13. relay in its own schema (issue 23): relay's tables, its view and the functions
-- its own objects call (policies, column defaults, triggers, event triggers) move to
-- schema relay, the control file's; the functions users call go to (or stay in)
-- public. Policies, defaults and triggers name functions by oid, so every enabled
-- table keeps working; pg_extension records the new schema (a non-relocatable
-- extension has no ALTER EXTENSION ... SET SCHEMA). The schema is not a member of the
-- extension, as when CREATE EXTENSION creates it: DROP EXTENSION leaves it, and
-- pg_dump dumps it before CREATE EXTENSION.
DO $$
DECLARE
  ext pg_catalog.oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'relay_tenancy');
  old_nsp pg_catalog.oid := (SELECT e.extnamespace FROM pg_catalog.pg_extension e WHERE e.oid OPERATOR(pg_catalog.=) ext);
  relay_nsp pg_catalog.oid := pg_catalog.to_regnamespace('relay');
  api pg_catalog.name[] := ARRAY[
    'relay_enable_tenancy', 'relay_tenancy_plan', 'relay_disable_tenancy', 'relay_disable_tenancy_plan',
    'relay_enable_tenancy_schema', 'relay_tenancy_schema_plan', 'relay_disable_tenancy_schema',
    'relay_disable_tenancy_schema_plan', 'relay_use_tenant_registry', 'relay_verify', 'relay_security_check',
    'relay_isolation_problems', 'relay_tenancy_status', 'relay_repair', 'relay_set_tenant', 'relay_clear_tenant', 'relay_current_tenant',
    'relay_tenant_token', 'relay_create_tenant', 'relay_suspend_tenant', 'relay_resume_tenant',
    'relay_delete_tenant', 'relay_audit', 'relay_enable_audit', 'relay_disable_audit', 'relay_append_only',
    'relay_audit_chain', 'relay_audit_verify', 'relay_audit_digest', 'relay_audit_purge', 'relay_distribute',
    'relay_distribute_plan', 'relay_placement_problems', 'relay_restore_placement', 'relay_node_settings']::pg_catalog.name[];
  obj record;
BEGIN
  IF relay_nsp IS NOT NULL AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r
                                       ON r.oid OPERATOR(pg_catalog.=) n.nspowner WHERE n.oid OPERATOR(pg_catalog.=) relay_nsp) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = 'schema relay is owned by a role that is not a superuser',
      DETAIL = 'relay_tenancy 0.3.0 moves its tables and the functions its policies call into schema relay; its owner could drop or add objects there.',
      HINT = 'ALTER SCHEMA relay OWNER TO a superuser (or rename it), then ALTER EXTENSION relay_tenancy UPDATE again.';
  END IF;
  IF relay_nsp IS NULL THEN
    CREATE SCHEMA relay;
    ALTER EXTENSION relay_tenancy DROP SCHEMA relay;
    relay_nsp := pg_catalog.to_regnamespace('relay');
  END IF;
  FOR obj IN
    SELECT c.oid::pg_catalog.regclass AS rel, c.relkind
      FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) ext AND d.deptype OPERATOR(pg_catalog.=) 'e'
       AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'v', 'p']::pg_catalog."char"[])
       AND c.relnamespace OPERATOR(pg_catalog.<>) relay_nsp
  LOOP
    EXECUTE pg_catalog.format('ALTER %s %s SET SCHEMA relay',
                              CASE obj.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, obj.rel);
  END LOOP;
  FOR obj IN
    SELECT p.oid::pg_catalog.regprocedure AS fn,
           CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY (api) THEN 'public' ELSE 'relay' END AS target
      FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.refobjid OPERATOR(pg_catalog.=) ext AND d.deptype OPERATOR(pg_catalog.=) 'e'
  LOOP
    IF pg_catalog.to_regnamespace(obj.target) OPERATOR(pg_catalog.<>)
       (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) obj.fn) THEN
      EXECUTE pg_catalog.format('ALTER FUNCTION %s SET SCHEMA %I', obj.fn, obj.target);
    END IF;
  END LOOP;
  UPDATE pg_catalog.pg_extension SET extnamespace = relay_nsp WHERE oid OPERATOR(pg_catalog.=) ext;
END $$;
-- Every role may look things up in relay (each object sets what it allows). The
-- grant also tells every backend that a schema changed, so each finds relay's
-- tables in their new place.
GRANT USAGE ON SCHEMA relay TO PUBLIC;

-- Function bodies are text: the two schema wrappers and the default tenant's merge
-- name relay's objects in their new schema, as in a fresh install.
CREATE OR REPLACE FUNCTION public.relay_enable_tenancy_schema(schema name DEFAULT 'public', exclude regclass[] DEFAULT NULL,
                                            shared regclass[] DEFAULT NULL, global_unique text[] DEFAULT NULL,
                                            default_tenant text DEFAULT NULL, views text DEFAULT NULL,
                                            primary_key text DEFAULT NULL, keep_foreign_keys text[] DEFAULT NULL,
                                            tenant_column name DEFAULT NULL, tenant_from text[] DEFAULT NULL)
  RETURNS TABLE(table_name text, action text) LANGUAGE sql VOLATILE
  AS $$ SELECT * FROM relay.relay_enable_tenancy_schema_oids($1::pg_catalog.text, $2::pg_catalog.oid[],
                                                                   $3::pg_catalog.oid[], $4, $5, $6, $7, $8, $9::pg_catalog.text, $10) $$;
CREATE OR REPLACE FUNCTION public.relay_tenancy_schema_plan(schema name DEFAULT 'public', exclude regclass[] DEFAULT NULL,
                                          shared regclass[] DEFAULT NULL, global_unique text[] DEFAULT NULL,
                                          default_tenant text DEFAULT NULL, views text DEFAULT NULL,
                                          primary_key text DEFAULT NULL, keep_foreign_keys text[] DEFAULT NULL,
                                          tenant_column name DEFAULT NULL, tenant_from text[] DEFAULT NULL)
  RETURNS TABLE(table_name text, step integer, lock text, action text, statement text) LANGUAGE sql VOLATILE
  AS $$ SELECT * FROM relay.relay_tenancy_schema_plan_oids($1::pg_catalog.text, $2::pg_catalog.oid[],
                                                                 $3::pg_catalog.oid[], $4, $5, $6, $7, $8, $9::pg_catalog.text, $10) $$;
CREATE OR REPLACE FUNCTION relay.relay_default_tenant_merge() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE relay.tenants
     SET name = NEW.name, slug = NEW.slug, domain = NEW.domain, logo = NEW.logo,
         is_active = NEW.is_active, plan = NEW.plan, created_at = NEW.created_at, updated_at = NEW.updated_at
   WHERE id OPERATOR(pg_catalog.=) NEW.id;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;

-- 14. relay_tenancy_status(tbl): the status view's row for one table (issue 23).
CREATE FUNCTION public.relay_tenancy_status(tbl regclass) RETURNS SETOF relay.relay_tenancy_status
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM relay.relay_tenancy_status s WHERE s.table_name OPERATOR(pg_catalog.=) $1 $$;

-- 15. Online conversion from a migration tool (issue 23): relay_enable_tenancy_background
-- queues the online path for a background worker and returns at once;
-- CALL relay_online_wait(tbl) waits; relay.online_conversions reports.
CREATE FUNCTION public.relay_enable_tenancy_background(
	"tbl" regclass,
	"global_unique" TEXT[] DEFAULT NULL,
	"default_tenant" TEXT DEFAULT NULL,
	"views" TEXT DEFAULT 'report',
	"primary_key" TEXT DEFAULT 'global',
	"keep_foreign_keys" TEXT[] DEFAULT NULL,
	"tenant_column" TEXT DEFAULT NULL,
	"tenant_from" TEXT DEFAULT NULL,
	"shared_rows" bool DEFAULT NULL
) RETURNS SETOF TEXT
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'relay_enable_tenancy_background_wrapper';
CREATE FUNCTION relay.relay_online_wait_poll(
	"tbl" regclass,
	"wait_ms" INT DEFAULT 100
) RETURNS TABLE (
	"state" TEXT,
	"lines" TEXT[],
	"sqlstate" TEXT,
	"message" TEXT,
	"detail" TEXT,
	"hint" TEXT
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'relay_online_wait_poll_wrapper';
ALTER FUNCTION public.relay_enable_tenancy_background(regclass, text[], text, text, text, text[], text, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION relay.relay_online_wait_poll(regclass, integer) SET search_path = pg_catalog, pg_temp;

-- Online conversions queued for a background worker (relay_enable_tenancy_background;
-- issue 23). One row per job; the worker that runs a job holds a session advisory
-- lock (classid 1380732746, objid = id), so a job marked running whose lock nobody
-- holds was cut off (a restart) and is resumed by the next worker. Written only by
-- relay (as the extension's owner); not dumped: a job names a table by oid, which a
-- restore changes (queue it again after a restore).
CREATE TABLE relay.online_jobs (
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
CREATE INDEX online_jobs_relid ON relay.online_jobs (relid, id);
REVOKE ALL ON relay.online_jobs FROM PUBLIC;
-- As relay's other tables: row level security with no policy (a sloppy GRANT gives no
-- row), the TRUNCATE guard; relay_security_check reports grants on it.
ALTER TABLE relay.online_jobs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON relay.online_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION relay.relay_tenant_truncate_guard();
ALTER TABLE relay.online_jobs ENABLE ALWAYS TRIGGER relay_tenant_truncate_guard;
COMMENT ON TABLE relay.online_jobs IS 'relay_tenancy: online conversions queued for a background worker (read relay.online_conversions)';

-- What a role may see of the queue: its own jobs (those of roles it has the
-- privileges of; a superuser sees all). "worker" is true while a worker holds the job.
CREATE VIEW relay.online_conversions AS
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
    FROM relay.online_jobs j
   -- (a job of a role dropped since: only in relay.online_jobs, which superusers read)
   WHERE CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) j.run_as)
              THEN pg_catalog.pg_has_role(j.run_as, 'USAGE') ELSE false END;
COMMENT ON VIEW relay.online_conversions IS 'relay_tenancy: background online conversions of the roles you have the privileges of';
GRANT SELECT ON relay.online_conversions TO PUBLIC;

-- CALL relay_online_wait('big'): waits until the newest background conversion of the
-- table is done (its lines come back) or failed (its error is raised, with its
-- SQLSTATE). A procedure that commits between polls: a transaction that held a
-- snapshot while it waited would make the worker's concurrent index builds wait for
-- it. Hence also no SET clause (a procedure with one cannot commit): every name is
-- qualified.
CREATE PROCEDURE public.relay_online_wait(tbl regclass, timeout interval DEFAULT NULL, INOUT lines text[] DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  started timestamptz := pg_catalog.clock_timestamp();
BEGIN
  LOOP
    SELECT * INTO s FROM relay.relay_online_wait_poll(tbl, 100);
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
