-- Progress of long steps. relay.progress (milliseconds, default 1000) reports a step
-- that took at least that long when it ends; on tables of 64 MB or more, steps that
-- read the table are also announced when they start. 0 reports every step that
-- reads the table, before and after; -1 nothing. Each NOTICE names the step, the
-- table and its size, and (in DETAIL, hidden here because it varies) how long the
-- step took.
-- The test configuration (postgresql.conf) sets -1, so no other test reports a step
-- that happens to be slow on a busy machine. That it shows here also checks that
-- relay's settings take their postgresql.conf values when the library is preloaded
-- (relay reserves the relay.* prefix only after defining every setting: reserving
-- first dropped the file's values, relay.context_mode and relay.token_key included).
\i include/fixtures.sql
SHOW relay.progress;
CREATE TABLE progress_demo (id int PRIMARY KEY, tenant_id text, body text) WITH (autovacuum_enabled = off);
INSERT INTO progress_demo SELECT g, CASE WHEN g % 2 = 0 THEN 'default-tenant-000-0000-000000000000' END, 'row ' || g
  FROM generate_series(1, 20) g;
SET relay.progress = 0;
\set VERBOSITY terse
SELECT count(*) AS steps FROM relay_enable_tenancy('progress_demo');
\set VERBOSITY verbose
-- A value below -1 is refused by PostgreSQL; units work.
-- (PostgreSQL 18 prints the range with its unit, (-1 ms .. 2147483647 ms): expected-pg18/.)
SET relay.progress = -2;
SET relay.progress = '2s';
SHOW relay.progress;
RESET relay.progress;
DROP TABLE progress_demo;
