-- relay_tenancy bootstrap: runs first in CREATE EXTENSION, in the extension's schema.

-- The schema (relay, the control file's) is created by CREATE EXTENSION when missing,
-- as the installing superuser. One that already exists must belong to a superuser
-- too: its owner could drop or add objects among relay's tables and the functions
-- its policies call.
DO $$
DECLARE
  owner pg_catalog.name;
BEGIN
  SELECT r.rolname INTO owner
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
   WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND NOT r.rolsuper;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = pg_catalog.format('schema %s is owned by role %I, which is not a superuser', '@extschema@', owner),
      DETAIL = 'relay_tenancy keeps its tables and the functions its policies call in this schema; its owner could drop or add objects there.',
      HINT = 'ALTER SCHEMA @extschema@ OWNER TO a superuser, or drop the schema and let CREATE EXTENSION create it.';
  END IF;
END $$;

-- Tenants, as in the reference migration 0002.
CREATE TABLE tenants (
  id         text PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid()::text,
  name       text NOT NULL,
  slug       text NOT NULL UNIQUE,
  domain     text,
  logo       text,
  is_active  boolean NOT NULL DEFAULT true,
  plan       text NOT NULL DEFAULT 'freemium',
  created_at timestamp NOT NULL DEFAULT pg_catalog.now(),
  updated_at timestamp NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE tenants IS 'relay_tenancy: one row per tenant; tenant_id columns reference tenants.id';

-- The tenant every pre-existing row belongs to.
INSERT INTO tenants (id, name, slug)
VALUES ('default-tenant-000-0000-000000000000', 'Default', 'default');

-- The registry: one row per tenant-enabled table. history holds one entry per call
-- that changed the table: the catalog state before it and every step taken, with
-- what each step replaced, so relay can report and undo exactly.
CREATE TABLE relay_tables (
  relid          regclass PRIMARY KEY,
  default_tenant text NOT NULL,
  global_unique  text[] NOT NULL DEFAULT '{}',
  -- foreign keys (constraint names) between tenant tables kept single-column on request
  keep_foreign_keys text[] NOT NULL DEFAULT '{}',
  -- the column that holds the tenant (tenant_id, or one the table already had)
  tenant_column  name NOT NULL DEFAULT 'tenant_id',
  enabled_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  enabled_by     name NOT NULL DEFAULT CURRENT_USER,
  updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  history        jsonb NOT NULL DEFAULT '[]',
  -- rows of no tenant (NULL) are shared: every tenant reads them (shared_rows => true)
  shared_rows    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE relay_tables IS 'relay_tenancy: tenant-enabled tables and what relay changed on each';

-- Tables whose changes relay_audit_capture records: relay_enable_audit adds them,
-- relay_disable_audit removes them. The capture trigger writes nothing for any other
-- table, however it was attached.
CREATE TABLE relay_audit_tables (
  relid      regclass PRIMARY KEY,
  enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  enabled_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE relay_audit_tables IS 'relay_tenancy: tables whose row changes are recorded in audit_logs';

-- The application's own tenant table, when relay_use_tenant_registry named one (at
-- most one row): relay's tenant checks, the foreign keys of tenant columns,
-- relay_set_tenant, suspension and relay_delete_tenant then use that table instead of
-- tenants.
CREATE TABLE relay_tenant_registry (
  singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  relid         regclass NOT NULL,
  id_column     name NOT NULL,
  active_column name,
  set_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
  set_by        name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE relay_tenant_registry IS 'relay_tenancy: the application''s own tenant table, if relay_use_tenant_registry named one';

-- The options each schema call was made with (relay_enable_tenancy_schema): a later
-- call, and relay.auto_enable at CREATE TABLE, use them for what it does not give.
CREATE TABLE relay_schemas (
  schema_name  name PRIMARY KEY,
  options      jsonb NOT NULL,
  converted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  converted_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE relay_schemas IS 'relay_tenancy: the options each schema was converted with';

-- pg_dump keeps the rows. The default tenant is created by CREATE EXTENSION on
-- restore, so it is left out of the dump unless it was edited; an edited one is
-- merged into the recreated row on restore (relay_default_tenant_merge, finalize.sql).
SELECT pg_catalog.pg_extension_config_dump('tenants',
  $$WHERE id <> 'default-tenant-000-0000-000000000000'
       OR (name, slug, domain, logo, is_active, plan)
          IS DISTINCT FROM ('Default'::text, 'default'::text, NULL::text, NULL::text, true, 'freemium'::text)$$);
SELECT pg_catalog.pg_extension_config_dump('relay_tables', '');
SELECT pg_catalog.pg_extension_config_dump('relay_audit_tables', '');
SELECT pg_catalog.pg_extension_config_dump('relay_tenant_registry', '');
SELECT pg_catalog.pg_extension_config_dump('relay_schemas', '');

-- Nothing for PUBLIC, and nothing for a role granted privileges by accident
-- (GRANT ALL ON ALL TABLES IN SCHEMA ...): row level security with no policy hides
-- every row from roles that do not bypass it and refuses their writes. relay reads
-- these tables by index probes or as the extension's owner; tenant lifecycle
-- functions are for superusers and BYPASSRLS roles. TRUNCATE is guarded in
-- finalize.sql, once the guard function exists.
REVOKE ALL ON tenants, relay_tables, relay_audit_tables, relay_tenant_registry, relay_schemas FROM PUBLIC;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE relay_tables ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE relay_audit_tables ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE relay_tenant_registry ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE relay_schemas ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
