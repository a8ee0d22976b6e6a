-- Hostile input: every relay function called with NULLs, empty and huge strings,
-- quotes, odd oids, relay's own tables, system catalogs and other kinds of relation.
-- Each must either work or fail with a specific SQLSTATE: never an internal error
-- (XX000) and never a crashed backend. Everything runs in one transaction that is
-- rolled back, so nothing here changes the database.
\i include/fixtures.sql
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL app.current_tenant_id = 'sec_a';
CREATE TEMP TABLE hostile_temp (id int);
CREATE TABLE hostile_part (id int) PARTITION BY RANGE (id);
CREATE TABLE hostile_part_1 PARTITION OF hostile_part FOR VALUES FROM (0) TO (10);
CREATE VIEW hostile_view AS SELECT 1 AS x;
CREATE MATERIALIZED VIEW hostile_matview AS SELECT 1 AS x;
CREATE SEQUENCE hostile_seq;
CREATE TYPE hostile_type AS (a int);
CREATE TABLE hostile_typed (tenant_id int);
CREATE TABLE hostile_plain (id int PRIMARY KEY, email text UNIQUE);

CREATE TEMP TABLE relations (r text);
INSERT INTO relations VALUES (NULL), ('0'), ('1'), ('1259'), ('4294967295'), ('999999'),
  ('pg_class'), ('pg_toast.pg_toast_2619'), ('information_schema.sql_features'),
  ('relay.tenants'), ('relay.relay_tables'), ('relay.relay_audit_tables'), ('relay.audit_logs'),
  ('hostile_temp'), ('hostile_part'), ('hostile_part_1'), ('hostile_view'),
  ('hostile_matview'), ('hostile_seq'), ('hostile_type'), ('hostile_plain_pkey'),
  ('hostile_typed');
CREATE TEMP TABLE relation_functions (f text);
INSERT INTO relation_functions VALUES ('relay_enable_tenancy'), ('relay_tenancy_plan'),
  ('relay_enable_audit'), ('relay_disable_audit'), ('relay_append_only'),
  ('relay.relay_insert_tenant'), ('relay.relay_policy_tenant');
CREATE TEMP TABLE texts (t text);
INSERT INTO texts VALUES (NULL), (''), (' '), (repeat('x', 100000)), (E'\\'), ($$'; DROP TABLE relay.tenants; --$$),
  ('"'), ('🦀 ünïcode'), ('default-tenant-000-0000-000000000000'), ('sec_a'), ('no-such-tenant'), (E'a\nb');

CREATE TEMP TABLE attempts (stmt text);
-- every relation function on every relation (22 x 7 = 154 calls)
INSERT INTO attempts
SELECT CASE WHEN r IS NULL THEN format('SELECT %s(NULL)', f)
            WHEN r ~ '^[0-9]+$' THEN format('SELECT %s(%s::oid::regclass)', f, r)
            ELSE format('SELECT %s(%L)', f, r) END
  FROM relation_functions, relations;
-- text arguments (12 each)
INSERT INTO attempts SELECT format('SELECT relay_set_tenant(%L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_set_tenant(%L, %L)', t, t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_set_tenant(''sec_a'', %L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_tenant_token(%L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_suspend_tenant(%L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_resume_tenant(%L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_delete_tenant(%L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_create_tenant(%L, %L, %L)', t, t, t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_audit(%L, %L, %L)', t, t, t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_enable_tenancy(''hostile_plain'', default_tenant => %L)', t) FROM texts;
INSERT INTO attempts SELECT format('SELECT relay_enable_tenancy(''hostile_plain'', global_unique => ARRAY[%L])', t) FROM texts;
-- odd shapes
INSERT INTO attempts VALUES
  ($$SELECT relay_enable_tenancy('hostile_plain', global_unique => '{NULL}')$$),
  ($$SELECT relay_enable_tenancy('hostile_plain', global_unique => '{",",",,",""}')$$),
  ($$SELECT relay_enable_tenancy('hostile_plain', global_unique => ARRAY(SELECT 'k' || g FROM generate_series(1, 10000) g))$$),
  ($$SELECT relay_set_tenant('sec_a', is_local => NULL)$$),
  ($$SELECT relay_tenant_token('sec_a', NULL)$$),
  ($$SELECT relay_tenant_token('sec_a', '0')$$),
  ($$SELECT relay_tenant_token('sec_a', '-1 day')$$),
  ($$SELECT relay_tenant_token('sec_a', '100000000 years')$$),
  ($$SELECT relay_set_tenant('sec_a', '99999999999999999999.' || repeat('a', 64))$$),
  ($$SELECT relay_set_tenant('sec_a', '1.' || repeat('g', 64))$$),
  ($$SELECT relay_set_tenant('sec_a', '.')$$),
  ($$SELECT relay_audit('a', metadata => (repeat('[', 5000) || repeat(']', 5000))::jsonb)$$),
  ($$SELECT relay_audit('a', metadata => jsonb_build_object('k', repeat('v', 1000000)))$$),
  ($$SELECT relay_audit('a', metadata => 'null'::jsonb)$$),
  ($$SELECT relay.relay_uuid7()$$),
  ($$SELECT relay_current_tenant()$$),
  ($$SELECT relay_clear_tenant()$$),
  ($$SELECT * FROM relay_security_check()$$),
  ($$SELECT relay.relay_audit_capture()$$),
  ($$SELECT relay.relay_append_only_guard()$$),
  ($$SELECT relay.relay_tenant_truncate_guard()$$),
  ($$SELECT relay.relay_ddl_guard()$$);

CREATE TEMP TABLE outcomes AS
SELECT a.stmt, e.code, e.message FROM attempts a, LATERAL expect_error(a.stmt) e;
SELECT count(*) AS attempts FROM outcomes;
-- no internal error, ever
SELECT left(stmt, 80) AS stmt, code, message FROM outcomes WHERE code LIKE 'XX%' OR code IS NULL;
-- how they ended, by SQLSTATE ('none': it worked)
SELECT code, count(*) FROM outcomes GROUP BY code ORDER BY code;
ROLLBACK;
