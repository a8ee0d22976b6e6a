-- Whole schemas in one call: relay_enable_tenancy_schema converts every ordinary
-- table of a schema, in the caller's transaction, skipping excluded and shared tables
-- and the bookkeeping tables of migration frameworks; relay_tenancy_schema_plan is its
-- dry run.
\i include/fixtures.sql
\i include/reference_app.sql

-- The reference application loaded a second time, into schema ref2, converted in one
-- call: it must reach exactly the state the nine per-table calls reached in public
-- (enable_reference), composite foreign keys included.
CREATE SCHEMA ref2;
SET search_path = ref2, public;
\set ECHO none
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\set ECHO all
CREATE TABLE ref2.schema_migrations (version text PRIMARY KEY);
RESET search_path;
SELECT table_name, count(*) AS steps, bool_or(step = 0) AS skipped
  FROM relay_tenancy_schema_plan('ref2', global_unique => ARRAY['users.email', 'api_keys.key_hash'])
 GROUP BY table_name ORDER BY table_name;
SELECT table_name, count(*) AS lines
  FROM relay_enable_tenancy_schema('ref2', global_unique => ARRAY['users.email', 'api_keys.key_hash'])
 GROUP BY table_name ORDER BY table_name;

-- Constraint by constraint, index by index and policy by policy, ref2 is public
-- (schema names aside), but for one index fewer: in one call users is enabled after
-- the tables that reference it, so the (tenant_id, id) key their composite foreign
-- keys need also serves its tenant lookups, and no plain (tenant_id) index is built.
CREATE TEMP VIEW converted AS
SELECT n.nspname AS schema, c.relname AS tbl, 'constraint' AS kind, con.conname::text AS name,
       pg_get_constraintdef(con.oid) AS definition
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype <> 'n'  -- NOT NULL constraints: PostgreSQL 18 lists them here; relay leaves them
UNION ALL
SELECT n.nspname, c.relname, 'index', ic.relname::text, replace(pg_get_indexdef(i.indexrelid), n.nspname || '.', '')
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
UNION ALL
SELECT n.nspname, c.relname, 'policy', p.polname::text, pg_get_expr(p.polqual, p.polrelid)
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace;
SELECT count(*) AS ref2_objects FROM converted WHERE schema = 'ref2';
(SELECT tbl, kind, name, replace(definition, 'ref2.', '') FROM converted WHERE schema = 'ref2'
   AND tbl IN ('users', 'skills', 'ratings', 'usage_events', 'skill_versions', 'skill_embeddings',
               'skill_reviews', 'api_keys', 'site_settings')
 EXCEPT
 SELECT tbl, kind, name, replace(definition, 'public.', '') FROM converted WHERE schema = 'public')
UNION ALL
(SELECT tbl, kind, name, replace(definition, 'public.', '') FROM converted WHERE schema = 'public'
   AND tbl IN ('users', 'skills', 'ratings', 'usage_events', 'skill_versions', 'skill_embeddings',
               'skill_reviews', 'api_keys', 'site_settings')
 EXCEPT
 SELECT tbl, kind, name, replace(definition, 'ref2.', '') FROM converted WHERE schema = 'ref2')
ORDER BY 1, 2, 3;
-- Running it again changes nothing.
SELECT DISTINCT action FROM relay_enable_tenancy_schema('ref2') ORDER BY 1;

-- Excluded and shared tables stay as they are; a tenant table may reference a shared
-- one (reference data: every tenant reads it).
CREATE SCHEMA shop;
CREATE TABLE shop.countries (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.customers (id int PRIMARY KEY, country text REFERENCES shop.countries (code), email text UNIQUE);
CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES shop.customers (id) ON DELETE CASCADE);
CREATE TABLE shop.import_log (line text);
SELECT * FROM relay_enable_tenancy_schema('shop', exclude => ARRAY['shop.import_log'::regclass],
                                          shared => ARRAY['shop.countries'::regclass])
 WHERE action LIKE 'skipped%' OR action LIKE 'replaced foreign key%' ORDER BY 1, 2;
SELECT c.relname, c.relrowsecurity FROM pg_class c WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind = 'r' ORDER BY 1;

-- Refusals (nothing is changed): an unknown schema, a global_unique entry that names
-- no table being converted, a shared table that references a tenant table.
CREATE SCHEMA shop2;
CREATE TABLE shop2.accounts (id int PRIMARY KEY);
CREATE TABLE shop2.plans (id int PRIMARY KEY, account_id int REFERENCES shop2.accounts (id));
\x on
SELECT * FROM expect_error($$ SELECT * FROM relay_enable_tenancy_schema('no_such_schema') $$);
SELECT * FROM expect_error($$ SELECT * FROM relay_enable_tenancy_schema('shop2', global_unique => ARRAY['email']) $$);
SELECT * FROM expect_error($$ SELECT * FROM relay_enable_tenancy_schema('shop2', shared => ARRAY['shop2.plans'::regclass]) $$);
\x off
SELECT count(*) AS enabled_in_shop2 FROM relay.relay_tables WHERE relid::text LIKE 'shop2.%';

-- With primary_key => 'tenant', a key can become per tenant only together with the
-- foreign keys into it: the schema call enables the referencing tables first
-- (lines, then orders, then customers here, whatever their names say).
CREATE SCHEMA shop4;
CREATE TABLE shop4.customers (id int PRIMARY KEY, name text);
CREATE TABLE shop4.orders (id int PRIMARY KEY, customer_id int REFERENCES shop4.customers (id));
CREATE TABLE shop4.lines (id int PRIMARY KEY, order_id int REFERENCES shop4.orders (id));
SELECT e.table_name, count(*) AS lines
  FROM relay_enable_tenancy_schema('shop4', primary_key => 'tenant') WITH ORDINALITY AS e(table_name, action, n)
 GROUP BY e.table_name ORDER BY min(e.n);
SELECT conrelid::regclass, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE connamespace = 'shop4'::regnamespace AND contype IN ('p', 'f') ORDER BY 1, 2;
DROP SCHEMA shop4 CASCADE;
