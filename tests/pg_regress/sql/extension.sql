-- CREATE EXTENSION relay_tenancy: the tenants table and the registry of
-- tenant-enabled tables.
CREATE EXTENSION relay_tenancy;

-- tenants has the reference migration 0002's columns...
\d relay.tenants
-- ...and is seeded with the default tenant, which owns every pre-existing row.
SELECT id, name, slug, is_active, plan FROM relay.tenants ORDER BY id;

-- The registry: one row per tenant-enabled table, with the history of what relay
-- changed on it.
\d relay.relay_tables

-- Both are extension configuration tables, so pg_dump keeps their rows. The
-- default tenant is left out: CREATE EXTENSION recreates it on restore.
SELECT c.relname, f.filter
  FROM pg_extension e,
       unnest(e.extconfig, e.extcondition) AS f(reloid, filter)
  JOIN pg_class c ON c.oid = f.reloid
 WHERE e.extname = 'relay_tenancy'
 ORDER BY c.relname;

-- Application roles get nothing on them by default.
-- (PostgreSQL 17 and later give the owner MAINTAIN too, 'm': expected-pg18/.)
SELECT relname, relacl FROM pg_class WHERE relname IN ('tenants', 'relay_tables') ORDER BY relname;

-- The SQL functions.
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.provolatile
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'relay_tenancy'
 ORDER BY p.proname, arguments;

-- A helper the later tests use to show an error as data: its SQLSTATE (code), message,
-- DETAIL and HINT. (The exception block also rolls back whatever the statement did.)
\i include/expect_error.sql

-- Every function of relay's that runs SQL does so under a pinned search_path
-- (pg_catalog, pg_temp), so no schema of the caller's can put an object in its way.
-- The ones left unpinned are on hot paths and resolve no name through the
-- search_path: the policy and default functions (a setting read, SQL-free index
-- probes, or fully qualified SQL), relay_current_tenant, relay_uuid7, relay_tenant_token
-- (a setting and a probe), the trigger functions (relation ids from the trigger), and
-- the two SQL wrappers, which call relay's functions schema-qualified, and
-- relay_online_wait, a procedure that commits between polls (a SET clause would forbid
-- its COMMIT) and names everything qualified. A function added unpinned shows up here.
SELECT p.oid::regprocedure AS unpinned, l.lanname
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'relay_tenancy'
  JOIN pg_language l ON l.oid = p.prolang
 WHERE NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY p.oid::regprocedure::text;
