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

-- relay's own SQLSTATEs: each condition an application branches on has a code of its
-- own, in the class it had before (55, 22, 28), and a PL/pgSQL handler catches it by
-- that code. The HINT is addressed to whoever can act, and fits the context mode.
CREATE FUNCTION pg_temp.caught(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION
  WHEN SQLSTATE '55R01' THEN RETURN '55R01 no tenant';
  WHEN SQLSTATE '22R02' THEN RETURN '22R02 unknown tenant';
  WHEN SQLSTATE '55R03' THEN RETURN '55R03 suspended tenant';
  WHEN SQLSTATE '55R04' THEN RETURN '55R04 no token key';
  WHEN SQLSTATE '28R05' THEN RETURN '28R05 token rejected';
  WHEN OTHERS THEN RETURN 'another code: ' || SQLSTATE;
END $$;
CREATE TABLE codes_notes (id int PRIMARY KEY, body text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('codes_notes');
SELECT relay_create_tenant('Codes Paused', 'codes-paused', id => 'codes-paused');
SELECT relay_suspend_tenant('codes-paused');
SELECT pg_temp.caught($$ INSERT INTO codes_notes VALUES (1, 'x') $$) AS insert_without_tenant;
GRANT SELECT ON codes_notes TO relay_app;
BEGIN;
SET LOCAL ROLE relay_app;  -- (row level security applies to it, not to a superuser)
SET LOCAL relay.require_tenant = on;
SELECT pg_temp.caught($$ SELECT count(*) FROM codes_notes $$) AS query_without_tenant;
COMMIT;
SELECT pg_temp.caught($$ SELECT relay_audit('codes.checked') $$) AS audit_without_tenant;
SELECT pg_temp.caught($$ SELECT relay_set_tenant('no-such-tenant') $$) AS unknown;
SELECT pg_temp.caught($$ SELECT relay_set_tenant('codes-paused') $$) AS suspended;
BEGIN;
\set key_file `echo "$PWD/relay_token.key"`
SELECT set_config('relay.token_key_file', :'key_file', true) <> '' AS key_file_set;
SELECT pg_temp.caught($$ SELECT relay_set_tenant('default-tenant-000-0000-000000000000', 'not-a-token') $$) AS bad_token;
ROLLBACK;
BEGIN;
SET LOCAL relay.token_key_file = '';
SELECT pg_temp.caught($$ SELECT relay_tenant_token('default-tenant-000-0000-000000000000') $$) AS no_key;
ROLLBACK;
-- As the client sees them (code, message, DETAIL, HINT): open mode first...
\x off
\set VERBOSITY verbose
INSERT INTO codes_notes VALUES (1, 'x');
SELECT relay_set_tenant('codes-paused');
-- ...then signed mode, where the no-tenant HINT asks for a token (SET
-- app.current_tenant_id is refused there).
BEGIN;
SET LOCAL relay.context_mode = signed;
INSERT INTO codes_notes VALUES (1, 'x');
ROLLBACK;
\set VERBOSITY default
SELECT relay_resume_tenant('codes-paused');
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('codes_notes', drop_column => true);
DROP TABLE codes_notes;
