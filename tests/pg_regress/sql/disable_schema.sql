-- relay_disable_tenancy_schema (issue 22, item 5): a whole schema back in one call,
-- parents first (a parent's undo restores the keys into it, so no child's key has to
-- go back to a key the parent still has per tenant), identical to what it was before
-- the schema call, relay's own objects aside. The shapes the schema call met in real
-- schemas: a unique key another table references (login_sessions / user_events), a
-- per-tenant key a child references (accounts / invoices), a partitioned table with
-- an ON ONLY unique index, a join table that takes its tenant from its parent.
\i include/fixtures.sql
\i include/shape.sql
\set VERBOSITY verbose
CREATE SCHEMA ds;
CREATE TABLE ds.login_sessions (id bigint PRIMARY KEY, login_id bigint NOT NULL);
CREATE UNIQUE INDEX login_sessions_login_id ON ds.login_sessions (login_id);
CREATE TABLE ds.user_events (id bigint PRIMARY KEY, login_id bigint REFERENCES ds.login_sessions (login_id));
CREATE TABLE ds.accounts (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE ds.invoices (id bigint PRIMARY KEY, account_code text REFERENCES ds.accounts (code), total numeric);
CREATE TABLE ds.events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ds.events_2024 PARTITION OF ds.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE UNIQUE INDEX events_id_at ON ONLY ds.events (id, at);
CREATE UNIQUE INDEX events_2024_id_at ON ds.events_2024 (id, at);
ALTER INDEX ds.events_id_at ATTACH PARTITION ds.events_2024_id_at;
CREATE TABLE ds.invoice_lines (invoice_id bigint NOT NULL REFERENCES ds.invoices (id), n int NOT NULL,
  PRIMARY KEY (invoice_id, n));
INSERT INTO ds.login_sessions VALUES (1, 100);
INSERT INTO ds.user_events VALUES (1, 100);
INSERT INTO ds.accounts VALUES (1, 'A-1');
INSERT INTO ds.invoices VALUES (1, 'A-1', 10);
INSERT INTO ds.events VALUES (1, '2024-05-01');
INSERT INTO ds.invoice_lines VALUES (1, 1);
CREATE TEMP TABLE ds_before AS SELECT * FROM pg_temp.shape('ds');

-- Nothing enabled yet: nothing to do.
SELECT * FROM relay_disable_tenancy_schema('ds');
SELECT table_name, count(*) > 0 AS enabled
  FROM relay_enable_tenancy_schema('ds', tenant_from => ARRAY['invoice_lines.invoice_lines_invoice_id_fkey'])
 GROUP BY 1 ORDER BY 1;

-- The dry run: the tables parents first, each with its steps; a key between two
-- tables is restored once, by the first.
SELECT table_name, count(*) AS steps, min(n) AS first_row
  FROM relay_disable_tenancy_schema_plan('ds', drop_column => true) WITH ORDINALITY p(table_name, step, lock, action, statement, n)
 GROUP BY table_name ORDER BY min(n);
SELECT table_name, action FROM relay_disable_tenancy_schema_plan('ds', drop_column => true) WITH ORDINALITY p(table_name, step, lock, action, statement, n)
 WHERE action LIKE 'restored foreign key%' OR step = 1 ORDER BY n;
-- Children first, one by one, is refused where it cannot work (2BP01, defect 7);
-- the schema call orders the tables itself.
SELECT * FROM expect_error($$SELECT * FROM relay_disable_tenancy('ds.invoices')$$);

-- The call: every table back, the columns relay added dropped; the schema is as it was.
SELECT table_name, count(*) > 0 AS undone FROM relay_disable_tenancy_schema('ds', drop_column => true)
 GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.shape('ds') EXCEPT SELECT * FROM ds_before;
SELECT * FROM ds_before EXCEPT SELECT * FROM pg_temp.shape('ds');
SELECT count(*) AS still_enabled FROM relay.relay_tenancy_status WHERE table_name::text LIKE 'ds.%';

-- Refusals: an unknown schema (3F000), NULL arguments (22004).
SELECT * FROM expect_error($$SELECT * FROM relay_disable_tenancy_schema('nope')$$);
SELECT * FROM expect_error($$SELECT * FROM relay_disable_tenancy_schema('ds', NULL)$$);
DROP SCHEMA ds CASCADE;
