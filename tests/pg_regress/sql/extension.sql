-- CREATE EXTENSION relay_tenancy: the tenants table and the registry of
-- tenant-enabled tables.
CREATE EXTENSION relay_tenancy;

-- tenants has the reference migration 0002's columns...
\d tenants
-- ...and is seeded with the default tenant, which owns every pre-existing row.
SELECT id, name, slug, is_active, plan FROM tenants ORDER BY id;

-- The registry: one row per tenant-enabled table, with the history of what relay
-- changed on it.
\d relay_tables

-- Both are extension configuration tables, so pg_dump keeps their rows. The
-- default tenant is left out: CREATE EXTENSION recreates it on restore.
SELECT c.relname, f.filter
  FROM pg_extension e,
       unnest(e.extconfig, e.extcondition) AS f(reloid, filter)
  JOIN pg_class c ON c.oid = f.reloid
 WHERE e.extname = 'relay_tenancy'
 ORDER BY c.relname;

-- Application roles get nothing on them by default.
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
