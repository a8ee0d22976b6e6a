-- Bad input gets a specific SQLSTATE, a message naming the object, DETAIL and
-- HINT, and changes nothing. expect_error (from the extension test) shows each
-- error as a row.
\i include/fixtures.sql
\i include/reference_app.sql
\x on

-- A table that does not exist: the regclass argument itself refuses it.
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('no_such_table') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy(NULL) $$);

-- Things that are not ordinary tables.
CREATE VIEW skill_names AS SELECT id, name FROM skills;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('skill_names') $$);
CREATE MATERIALIZED VIEW skill_counts AS SELECT category, count(*) FROM skills GROUP BY category;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('skill_counts') $$);
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE remote_skills (id text) SERVER dummy_server;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('remote_skills') $$);
CREATE SEQUENCE ticket_seq;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('ticket_seq') $$);

-- A partition is never enabled on its own: its partitioned table is, and the
-- partitions follow it (partitions.sql).
CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('events_2026') $$);

-- System catalogs and relay's own tables.
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('pg_class') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('information_schema.sql_features') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('relay.tenants') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('relay.relay_tables') $$);

-- An existing tenant_id of a type that cannot hold a tenant.
CREATE TABLE numeric_tenants (id int PRIMARY KEY, tenant_id numeric);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('numeric_tenants') $$);
-- A uuid tenant_id is adopted as it is (adopt.sql), but its NULL rows would be given
-- the default tenant, whose id is not a uuid.
CREATE TABLE uuid_tenants (id int PRIMARY KEY, tenant_id uuid);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('uuid_tenants') $$);

-- An unknown default tenant.
CREATE TABLE plain (id int PRIMARY KEY, code text UNIQUE);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('plain', default_tenant => 'nobody') $$);

-- A global_unique entry that names nothing on the table.
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('plain', global_unique => ARRAY['email']) $$);
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('plain', global_unique => ARRAY[NULL]) $$);

-- A unique key another table's foreign key depends on is not silently dropped.
CREATE TABLE coupons (code text PRIMARY KEY, plain_code text REFERENCES plain (code));
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('plain') $$);

-- Only the owner may enable a table.
SET ROLE relay_app;
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('usage_events') $$);
RESET ROLE;
\x off

-- Nothing was changed by any of the failed calls.
SELECT count(*) AS tenant_id_columns FROM pg_attribute
 WHERE attname = 'tenant_id' AND attrelid IN ('plain'::regclass, 'coupons'::regclass, 'events'::regclass);
SELECT relid FROM relay.relay_tables WHERE relid::text IN ('plain', 'events', 'uuid_tenants', 'numeric_tenants');

-- Keeping the referenced key global is one way out of the foreign-key refusal.
SELECT relay_enable_tenancy('plain', global_unique => ARRAY['code']);
