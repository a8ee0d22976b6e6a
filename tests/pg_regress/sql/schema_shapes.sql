-- Shapes of real schemas that tripped the schema call (issue 22), each reproduced in a
-- small schema of its own.
\i include/fixtures.sql
\set VERBOSITY verbose

-- 1. A unique key another table references, with primary keys kept global (the
-- default). By name login_sessions comes first, but its key on login_id can be made
-- per tenant only together with user_events' foreign key into it, which needs
-- user_events enabled: the call takes user_events first. Its dry run shows the same
-- order and every key it rewrites.
CREATE SCHEMA shapes_order;
CREATE TABLE shapes_order.login_sessions (id bigint PRIMARY KEY, login_id bigint NOT NULL);
CREATE UNIQUE INDEX index_login_sessions_on_login_id ON shapes_order.login_sessions (login_id);
CREATE TABLE shapes_order.user_events (id bigint PRIMARY KEY,
  login_id bigint REFERENCES shapes_order.login_sessions (login_id));
INSERT INTO shapes_order.login_sessions VALUES (1, 100);
INSERT INTO shapes_order.user_events VALUES (1, 100);
SELECT table_name, step, action
  FROM relay_tenancy_schema_plan('shapes_order') WITH ORDINALITY p(table_name, step, lock, action, statement, n)
 WHERE action LIKE '%login_id%' OR action LIKE '%foreign key%' OR step = 1
 ORDER BY n;
SELECT table_name, count(*) > 0 AS enabled FROM relay_enable_tenancy_schema('shapes_order') GROUP BY 1 ORDER BY 1;
SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'shapes_order'::regnamespace AND contype IN ('u', 'f') ORDER BY 1, 2;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'shapes_order.login_sessions'::regclass AND NOT indisprimary;

-- 2. A unique index made ON ONLY a partitioned table and attached to each partition's
-- (how pg_dump restores one; pg_get_indexdef prints ON ONLY for every index of a
-- partitioned table): relay reads its definition and makes it per tenant, partitions
-- included. (Before: "could not read the definition of index ...", XX000.)
CREATE SCHEMA shapes_parts;
CREATE TABLE shapes_parts.enriched_events (id bigint NOT NULL, at date NOT NULL, body text)
  PARTITION BY RANGE (at);
CREATE TABLE shapes_parts.enriched_events_2024 PARTITION OF shapes_parts.enriched_events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE UNIQUE INDEX idx_unique_on_enriched_events ON ONLY shapes_parts.enriched_events (id, at);
CREATE UNIQUE INDEX enriched_events_2024_id_at ON shapes_parts.enriched_events_2024 (id, at);
ALTER INDEX shapes_parts.idx_unique_on_enriched_events ATTACH PARTITION shapes_parts.enriched_events_2024_id_at;
INSERT INTO shapes_parts.enriched_events VALUES (1, '2024-05-01', 'x');
SELECT table_name, count(*) > 0 AS enabled FROM relay_enable_tenancy_schema('shapes_parts') GROUP BY 1 ORDER BY 1;
SELECT i.indrelid::regclass AS tbl, pg_get_indexdef(i.indexrelid) FROM pg_index i
 WHERE i.indrelid IN ('shapes_parts.enriched_events'::regclass, 'shapes_parts.enriched_events_2024'::regclass)
   AND i.indisunique ORDER BY 1, 2;
SELECT relay_isolation_problems('shapes_parts.enriched_events') AS problems;
-- and back: the index as it was.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_parts.enriched_events', drop_column => true);
SELECT i.indrelid::regclass AS tbl, pg_get_indexdef(i.indexrelid) FROM pg_index i
 WHERE i.indrelid IN ('shapes_parts.enriched_events'::regclass, 'shapes_parts.enriched_events_2024'::regclass)
   AND i.indisunique ORDER BY 1, 2;

-- 3. A whole schema back: the parent's keys relay built or rewrote for the child's
-- foreign keys, and the child's keys, end as they were (indexes and constraints
-- compared with the state before the conversion).
CREATE SCHEMA shapes_undo;
CREATE TABLE shapes_undo.accounts (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE shapes_undo.invoices (id bigint PRIMARY KEY,
  account_id bigint REFERENCES shapes_undo.accounts (id),
  account_code text REFERENCES shapes_undo.accounts (code));
INSERT INTO shapes_undo.accounts VALUES (1, 'a1');
INSERT INTO shapes_undo.invoices VALUES (1, 1, 'a1');
CREATE TEMP VIEW shapes_undo_shape AS
SELECT 'index ' || pg_get_indexdef(i.indexrelid) AS object FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'shapes_undo'::regnamespace
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'shapes_undo'::regnamespace AND contype <> 'n';
CREATE TEMP TABLE shapes_undo_before AS SELECT * FROM shapes_undo_shape;
SELECT table_name, count(*) > 0 AS enabled FROM relay_enable_tenancy_schema('shapes_undo') GROUP BY 1 ORDER BY 1;
SELECT * FROM shapes_undo_shape EXCEPT SELECT * FROM shapes_undo_before ORDER BY 1;
-- Children first is refused here, before anything changes: invoices' key into
-- accounts.code would go back to REFERENCES accounts (code), and accounts' key on code
-- is per tenant while accounts is enabled (before: a raw 42830 halfway through).
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.invoices', drop_column => true);
SELECT count(*) AS steps_shown FROM relay_disable_tenancy_plan('shapes_undo.invoices', drop_column => true);
-- The parent first: its keys go back, invoices' foreign keys with them.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.accounts', drop_column => true);
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.invoices', drop_column => true);
-- Left over, and missing:
(SELECT 'left over: ' || object FROM shapes_undo_shape EXCEPT SELECT 'left over: ' || object FROM shapes_undo_before)
UNION ALL
(SELECT 'missing: ' || object FROM shapes_undo_before EXCEPT SELECT 'missing: ' || object FROM shapes_undo_shape)
ORDER BY 1;

-- 4. Children first where they may go first (foreign keys into primary keys, which stay
-- global): the parent's (tenant_id, id) key relay built for the children's composite
-- foreign keys (two of them: the first child's call built it, the second uses it)
-- goes too.
CREATE TABLE shapes_undo.plans (id bigint PRIMARY KEY, name text);
CREATE TABLE shapes_undo.subscriptions (id bigint PRIMARY KEY, plan_id bigint REFERENCES shapes_undo.plans (id));
CREATE TABLE shapes_undo.upgrades (id bigint PRIMARY KEY, plan_id bigint REFERENCES shapes_undo.plans (id));
INSERT INTO shapes_undo.plans VALUES (1, 'basic');
INSERT INTO shapes_undo.subscriptions VALUES (1, 1);
INSERT INTO shapes_undo.upgrades VALUES (1, 1);
DROP TABLE shapes_undo_before;
CREATE TEMP TABLE shapes_undo_before AS SELECT * FROM shapes_undo_shape;
SELECT table_name, count(*) > 0 AS enabled FROM relay_enable_tenancy_schema('shapes_undo',
  exclude => ARRAY['shapes_undo.accounts', 'shapes_undo.invoices']::regclass[]) GROUP BY 1 ORDER BY 1;
SELECT * FROM shapes_undo_shape EXCEPT SELECT * FROM shapes_undo_before ORDER BY 1;
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.subscriptions', drop_column => true);
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.upgrades', drop_column => true);
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.plans', drop_column => true);
(SELECT 'left over: ' || object FROM shapes_undo_shape EXCEPT SELECT 'left over: ' || object FROM shapes_undo_before)
UNION ALL
(SELECT 'missing: ' || object FROM shapes_undo_before EXCEPT SELECT 'missing: ' || object FROM shapes_undo_shape)
ORDER BY 1;

-- 5. A unique index over an expression that goes back to global while two tenants share
-- a value under it: refused before anything changes, naming the value and the tenants
-- (before: a raw 23505 from the index build).
CREATE TABLE shapes_undo.tags (id bigint PRIMARY KEY, name text NOT NULL);
CREATE UNIQUE INDEX tags_lower_name ON shapes_undo.tags (lower(name));
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shapes_undo.tags');
INSERT INTO shapes_undo.tags (id, name, tenant_id) VALUES (1, 'Red', 'acme'), (2, 'RED', 'globex');
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.tags');
DELETE FROM shapes_undo.tags WHERE id = 2;
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('shapes_undo.tags', drop_column => true);
SELECT pg_get_indexdef('shapes_undo.tags_lower_name'::regclass);

-- 6. A schema call adopting a tenant column some of its tables lack: one refusal that
-- lists them all and says how to leave them out (before: 42703 for the first one).
CREATE SCHEMA shapes_adopt;
CREATE TABLE shapes_adopt.projects (id bigint PRIMARY KEY, organization_id text NOT NULL);
CREATE TABLE shapes_adopt.countries (code text PRIMARY KEY);
CREATE TABLE shapes_adopt.plans (id int PRIMARY KEY);
SELECT * FROM relay_enable_tenancy_schema('shapes_adopt', tenant_column => 'organization_id');
SELECT table_name, count(*) > 0 AS done
  FROM relay_enable_tenancy_schema('shapes_adopt', tenant_column => 'organization_id',
                                   shared => ARRAY['shapes_adopt.countries', 'shapes_adopt.plans']::regclass[])
 GROUP BY 1 ORDER BY 1;
-- A table added later that references one of them: relay_verify's fix names the tenant
-- column the schema adopted (before: relay_enable_tenancy('...') alone, which would
-- add a second, text tenant_id).
CREATE TABLE shapes_adopt.notes (id bigint PRIMARY KEY, organization_id text,
  project_id bigint REFERENCES shapes_adopt.projects (id));
CREATE TABLE shapes_adopt.labels (id bigint PRIMARY KEY,
  project_id bigint REFERENCES shapes_adopt.projects (id));
-- (notes also has the schema's tenant column: a warning of its own, a table added
-- later that may belong to tenants.)
SELECT severity, object, fix FROM relay_verify() WHERE object LIKE 'table shapes_adopt.%' ORDER BY 2, 1;

-- 7. A migration role without REFERENCES on tenants: the dry run says the call would
-- be refused, and the call is, before anything changes.
CREATE ROLE shapes_migrator;
CREATE SCHEMA shapes_refs AUTHORIZATION shapes_migrator;
SET ROLE shapes_migrator;
CREATE TABLE shapes_refs.items (id int PRIMARY KEY);
SELECT step, action FROM relay_tenancy_plan('shapes_refs.items') WHERE step = 0;
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy('shapes_refs.items') $$);
RESET ROLE;
DROP SCHEMA shapes_refs CASCADE;
DROP ROLE shapes_migrator;

-- 8. A materialized view over a tenant table holds every tenant's rows: relay_verify
-- reports an error while a role subject to row level security may read it, naming the
-- roles, and a warning once none may (before: an error nothing could clear).
CREATE MATERIALIZED VIEW shapes_adopt.project_counts AS
  SELECT organization_id, count(*) FROM shapes_adopt.projects GROUP BY 1;
CREATE ROLE shapes_reader;
GRANT SELECT ON shapes_adopt.project_counts TO shapes_reader;
SELECT severity, problem, fix FROM relay_verify() WHERE object = 'materialized view shapes_adopt.project_counts';
REVOKE SELECT ON shapes_adopt.project_counts FROM shapes_reader;
SELECT severity, problem, fix FROM relay_verify() WHERE object = 'materialized view shapes_adopt.project_counts';
DROP MATERIALIZED VIEW shapes_adopt.project_counts;
DROP ROLE shapes_reader;

-- 9. A parent's (tenant_id, id) key that relay built for its children's composite
-- foreign keys, with the children disabled first and the parent last: a child's undo
-- hands the keys its calls built over to the parent's record, and the parent's undo
-- drops them (before: they survived the full disable; 11 leftovers in the billing
-- schema).
\set ECHO none
\i include/shape.sql
\set ECHO all
CREATE SCHEMA shapes_keys;
CREATE TABLE shapes_keys.accounts (id bigint PRIMARY KEY, tenant_id text NOT NULL);
CREATE TABLE shapes_keys.invoices (id bigint PRIMARY KEY, tenant_id text NOT NULL, account_id bigint REFERENCES shapes_keys.accounts (id));
CREATE TABLE shapes_keys.payments (id bigint PRIMARY KEY, tenant_id text NOT NULL, account_id bigint REFERENCES shapes_keys.accounts (id));
CREATE TEMP TABLE shapes_keys_before AS SELECT * FROM pg_temp.shape('shapes_keys');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shapes_keys.accounts');
SELECT action FROM relay_enable_tenancy('shapes_keys.invoices') a(action) WHERE action LIKE 'built unique index%';
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('shapes_keys.payments');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('shapes_keys.invoices');
SELECT count(*) > 0 AS undone FROM relay_disable_tenancy('shapes_keys.payments');
SELECT action FROM relay_disable_tenancy('shapes_keys.accounts') a(action) WHERE action LIKE 'dropped index%';
SELECT * FROM pg_temp.shape('shapes_keys') EXCEPT SELECT * FROM shapes_keys_before;
DROP SCHEMA shapes_keys CASCADE;
