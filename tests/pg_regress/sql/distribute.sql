-- relay_distribute_plan: what relay_distribute would do to scale a schema out with
-- Citus, checked without Citus (this cluster has none): every tenant table's primary,
-- unique, exclusion and foreign keys must include the tenant column; the plan then
-- rewrites relay's policies without their sub-select, makes tenants (and shared
-- tables) reference tables and distributes the tenant tables co-located, parents first.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA store;
CREATE TABLE store.countries (code text PRIMARY KEY);
CREATE TABLE store.customers (id int PRIMARY KEY, name text NOT NULL, country text REFERENCES store.countries);
CREATE TABLE store.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES store.customers, total numeric);
-- Citus needs the tenant column in every key: primary keys per tenant (the
-- referencing table first, so the key and the foreign key into it change together).
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('store.orders', primary_key => 'tenant');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('store.customers', primary_key => 'tenant');
SELECT relid::regclass, tenant_column FROM relay.relay_tables WHERE relid::regclass::text LIKE 'store.%' ORDER BY 1;

-- The dry run, in order (shard_count on the first table only: the others are
-- co-located with it; countries, referenced by a tenant table, becomes a reference table):
SELECT step, lock, action FROM relay_distribute_plan('store', shard_count => 8);
SELECT statement FROM relay_distribute_plan('store', shard_count => 8) ORDER BY step;

-- relay_distribute itself needs Citus, on the coordinator:
SELECT * FROM relay_distribute('store');

-- What Citus cannot distribute is refused, naming the constraint and the fix.
-- A primary key kept global (relay's default):
-- (schema.sql leaves a schema shop2; made here when missing, so that this file runs
-- alone.)
DO $$ BEGIN IF to_regnamespace('shop2') IS NULL THEN CREATE SCHEMA shop2; END IF; END $$;
CREATE TABLE shop2.items (id int PRIMARY KEY, sku text UNIQUE);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shop2.items');
SELECT * FROM relay_distribute_plan('shop2');
-- a unique key kept global across tenants:
CREATE SCHEMA shop3;
CREATE TABLE shop3.items (id int PRIMARY KEY, sku text UNIQUE);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shop3.items', primary_key => 'tenant', global_unique => ARRAY['sku']);
SELECT * FROM relay_distribute_plan('shop3');
-- a foreign key between tenant tables kept single-column (keep_foreign_keys):
CREATE TABLE shop3.a_lines (id int PRIMARY KEY, sku text REFERENCES shop3.items (sku));
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shop3.a_lines', primary_key => 'tenant', keep_foreign_keys => ARRAY['a_lines_sku_fkey']);
SELECT * FROM relay_distribute_plan('shop3');
-- a table whose changes are captured:
SELECT count(*) AS steps FROM relay_enable_audit('store.orders');
SELECT * FROM relay_distribute_plan('store');
SELECT count(*) AS steps FROM relay_disable_audit('store.orders');
SELECT count(*) AS planned FROM relay_distribute_plan('store');
-- a schema with nothing tenant-enabled, and bad arguments:
CREATE SCHEMA empty_schema;
SELECT * FROM relay_distribute_plan('empty_schema');
SELECT * FROM relay_distribute_plan(NULL);
SELECT * FROM relay_distribute_plan('store', shard_count => 0);
-- The dry run changed nothing:
SELECT tablename, policyname, qual FROM pg_policies WHERE schemaname = 'store' ORDER BY 1, 2;
-- Either form of the rule is relay's: with the policies and the column default
-- rewritten as relay_distribute writes them (by name, no sub-select), the tables are
-- still isolated and a re-run of relay_enable_tenancy leaves them as they are. (Run
-- by hand, each policy rewrite draws the DDL guard's warning, as any change of relay's
-- policies by a superuser who set relay.allow_unsafe_ddl does; relay_distribute's own
-- rewrite is relay's step and passes quietly.)
BEGIN;
SET LOCAL relay.allow_unsafe_ddl = on;
SELECT statement FROM relay_distribute_plan('store') WHERE statement LIKE 'ALTER POLICY%' OR statement LIKE '%SET DEFAULT%' ORDER BY step \gexec
SELECT tablename, policyname, qual FROM pg_policies WHERE schemaname = 'store' ORDER BY 1, 2;
SELECT * FROM relay_isolation_problems('store.orders');
SELECT * FROM relay_enable_tenancy('store.orders', primary_key => 'tenant');
SELECT column_default FROM information_schema.columns WHERE table_schema = 'store' AND table_name = 'orders' AND column_name = 'tenant_id';
-- ... and the by-name default and policy work as the regclass ones do (tenant acme
-- comes from the fixtures):
SET app.current_tenant_id = 'acme';
INSERT INTO store.countries VALUES ('NZ');
INSERT INTO store.customers (id, name, country) VALUES (1, 'Kiri', 'NZ') RETURNING tenant_id, id;
RESET app.current_tenant_id;
INSERT INTO store.customers (id, name, country) VALUES (2, 'Nobody', 'NZ');
ROLLBACK;
