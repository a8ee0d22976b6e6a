-- The reference application: nine single-tenant tables (tests/reference/app-schema.sql)
-- with data, converted with one relay_enable_tenancy call per table. The end state is
-- the reference migrations' (0003-0005) without their defects (reference NOTES.md).
\i include/fixtures.sql
\set ECHO none
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\set ECHO all

-- Remember each table's data file and size: enabling must not rewrite any of them.
CREATE TEMP TABLE before AS
SELECT c.relname, c.relfilenode, pg_relation_size(c.oid) AS bytes
  FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e');

-- The dry run prints the plan: each step, the lock it takes, and its SQL.
SELECT step, lock, statement FROM relay_tenancy_plan('skills') ORDER BY step;

-- users.email is a login identity and api_keys.key_hash is looked up before the
-- tenant is known: both stay globally unique, as in the reference.
SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']);
SELECT relay_enable_tenancy('skills');
SELECT relay_enable_tenancy('ratings');
SELECT relay_enable_tenancy('usage_events');
SELECT relay_enable_tenancy('skill_versions');
SELECT relay_enable_tenancy('skill_embeddings');
SELECT relay_enable_tenancy('skill_reviews');
SELECT relay_enable_tenancy('api_keys', global_unique => ARRAY['key_hash']);
SELECT relay_enable_tenancy('site_settings');

-- skills as \d shows it: tenant_id with the session-tenant default, the foreign key
-- to tenants, slug unique per tenant under its old name, the forced policy.
\d skills
\d users

-- All nine: tenant_id NOT NULL with relay's default, a foreign key to tenants, an
-- index leading with tenant_id (no plain (tenant_id) index where a composite one
-- already leads with it when the table is enabled; users, enabled first, gets its
-- (tenant_id, id) later, when skills' composite foreign key needs it), RLS enabled
-- and forced, the RESTRICTIVE tenant rule and its PERMISSIVE companion.
SELECT c.relname,
       a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS tenant_default,
       (SELECT string_agg(conname, ', ') FROM pg_constraint
         WHERE conrelid = c.oid AND contype = 'f' AND confrelid = 'relay.tenants'::regclass) AS tenant_fk,
       (SELECT string_agg(i.indexrelid::regclass::text, ', ' ORDER BY i.indexrelid::regclass::text)
          FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum) AS leading_tenant_id,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(polname || CASE WHEN polpermissive THEN ' (permissive)' ELSE ' (restrictive)' END, ', ' ORDER BY polpermissive, polname)
          FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relname IN (SELECT relname FROM before)
 ORDER BY c.relname;

-- Unique keys: every one without tenant_id now leads with it, except the two kept
-- global on purpose. Primary keys are left as they were.
SELECT conrelid::regclass AS table_name, conname, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE contype IN ('u', 'p') AND conrelid IN (SELECT relname::regclass FROM before)
 ORDER BY 1, 2;

-- No table was rewritten: same data file, same size. (The reference's full-table
-- UPDATE writes every row again and doubles the table.)
SELECT b.relname, c.relfilenode = b.relfilenode AS same_file,
       pg_relation_size(c.oid) = b.bytes AS same_size
  FROM before b JOIN pg_class c ON c.oid = b.relname::regclass
 ORDER BY b.relname;

-- Every existing row belongs to the default tenant (read from the catalog's
-- missing-value default, not written into each row). Superusers bypass RLS.
SELECT tenant_id, count(*) FROM skills GROUP BY tenant_id;
SELECT tenant_id, count(*) FROM usage_events GROUP BY tenant_id;

-- A second call changes nothing and says so.
SELECT relay_enable_tenancy('skills');
SELECT step, action FROM relay_tenancy_plan('skills');

-- The registry: one row per table, one history entry per changing call, each with
-- the catalog state before it and the steps taken.
SELECT relid, default_tenant, global_unique, jsonb_array_length(history) AS calls,
       jsonb_array_length(history -> 0 -> 'steps') AS steps
  FROM relay.relay_tables ORDER BY relid::text;
-- What the skills call replaced, kept so it can be undone exactly.
SELECT s ->> 'kind' AS kind, s -> 'replaces' AS replaced
  FROM relay.relay_tables, jsonb_array_elements(history -> 0 -> 'steps') s
 WHERE relid = 'skills'::regclass AND s ? 'replaces';
