-- Partitioned tables. Enabling a partitioned table covers the parent and every
-- partition at every level: the column, its default and the foreign key to tenants
-- come from the parent; unique keys are rewritten on the parent; row level security
-- is forced and relay's policies and TRUNCATE guard are put on each partition too,
-- because PostgreSQL applies a table's policies only to queries that name it.
-- Partitions created or attached later follow (an event trigger), also when
-- pg_partman makes them; a tenant-enabled table is never put under a parent that is
-- not tenant-enabled.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA part;
SET search_path = part, public;
CREATE ROLE part_app;
GRANT USAGE ON SCHEMA part TO part_app;
SELECT relay_create_tenant('Part A', 'part-a', id => 'part-a');
SELECT relay_create_tenant('Part B', 'part-b', id => 'part-b');

CREATE TABLE events (id int, at date, kind text, ref text, PRIMARY KEY (id, at), UNIQUE (ref, at))
  PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
  PARTITION BY RANGE (at);
CREATE TABLE events_2026_h1 PARTITION OF events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE events_2026_h2 PARTITION OF events_2026 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
INSERT INTO events VALUES (1, '2025-03-01', 'signup', 'r1'), (2, '2026-03-01', 'login', 'r2'), (3, '2026-09-01', 'login', 'r3');
-- A table whose rows point at events.
CREATE TABLE event_notes (id int PRIMARY KEY, event_id int, event_at date, body text,
                          FOREIGN KEY (event_id, event_at) REFERENCES events (id, at));
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA part TO part_app;

-- Everything the round trip must give back (see disable.sql).
\i include/shape.sql
CREATE TEMP TABLE original AS SELECT * FROM pg_temp.shape('part');

-- A partition alone cannot be enabled while its parent is not: the hint points at
-- the parent, which now can be.
SELECT relay_enable_tenancy('events_2025');

-- The dry run of the parent: its steps, and which partitions follow.
SELECT step, lock, action FROM relay_tenancy_plan('events') ORDER BY step;
SELECT relay_enable_tenancy('events');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('event_notes');
-- A leaf partition: the column, default and keys from the parent, and its own
-- policies, forced row level security and TRUNCATE guard.
\d events_2026_h1
SELECT table_name, problems FROM relay.relay_tenancy_status
 WHERE table_name::text LIKE 'part.%' OR table_name::text LIKE 'event%' ORDER BY table_name::text;

-- Isolation, through the parent and through each partition directly.
SET ROLE part_app;
BEGIN;
SELECT relay_set_tenant('part-a', true);
INSERT INTO events (id, at, kind, ref) VALUES (10, '2025-05-01', 'a', 'shared'), (11, '2026-08-01', 'a', 'a2');
INSERT INTO event_notes (id, event_id, event_at, body) VALUES (100, 10, '2025-05-01', 'note of A');
COMMIT;
BEGIN;
SELECT relay_set_tenant('part-b', true);
-- the same ref in another tenant: unique per tenant
INSERT INTO events (id, at, kind, ref) VALUES (20, '2025-06-01', 'b', 'shared');
SELECT id, kind FROM events ORDER BY id;
SELECT id, kind FROM events_2025 ORDER BY id;
SELECT id, kind FROM events_2026_h2 ORDER BY id;
-- a note of B cannot point at A's event (composite foreign key)
INSERT INTO event_notes (id, event_id, event_at, body) VALUES (200, 10, '2025-05-01', 'B points at A');
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('part-a', true);
SELECT id, kind FROM events_2026_h2 ORDER BY id;
-- TRUNCATE of one partition is refused too.
TRUNCATE events_2026_h2, event_notes;
ROLLBACK;
RESET ROLE;

-- A partition created later follows its tenant-enabled parent on the spot...
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- ...and so does a table attached later.
CREATE TABLE events_2028 (LIKE events INCLUDING DEFAULTS);
ALTER TABLE events ATTACH PARTITION events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SELECT relname, relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE relname IN ('events_2027', 'events_2028') ORDER BY relname;
SELECT count(*) AS registered FROM relay.relay_tables WHERE relid IN ('events_2027'::regclass, 'events_2028'::regclass);

-- A tenant-enabled table under a parent that is not: every tenant's rows would be
-- readable through that parent (measured before this release). Refused, whether by
-- ATTACH PARTITION or by INHERIT; nothing changes.
CREATE TABLE open_events (id int, at date, kind text, ref text, tenant_id text NOT NULL) PARTITION BY RANGE (at);
ALTER TABLE events DETACH PARTITION events_2028;
ALTER TABLE open_events ATTACH PARTITION events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
CREATE TABLE legacy_parent (id int);
ALTER TABLE events_2028 INHERIT legacy_parent;
-- Detached, it stays tenant-enabled on its own; attached back, it follows again.
SELECT table_name, problems FROM relay.relay_tenancy_status WHERE table_name = 'events_2028'::regclass;
ALTER TABLE events ATTACH PARTITION events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
DROP TABLE open_events, legacy_parent;

-- pg_partman creates partitions ahead of time, and in maintenance: each follows.
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
CREATE TABLE metrics (id bigint, at timestamptz NOT NULL, value numeric) PARTITION BY RANGE (at);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('metrics');
-- (one NOTICE per partition, quieted here: how many depends on today's date)
SET client_min_messages = warning;
SELECT partman.create_parent('part.metrics', 'at', 'native', 'daily', p_premake => 2,
                             p_start_partition => to_char(now() - interval '1 day', 'YYYY-MM-DD')) AS created;
RESET client_min_messages;
SELECT count(*) >= 4 AS several, count(*) FILTER (WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity
                          AND EXISTS (SELECT FROM relay.relay_tables r WHERE r.relid = c.oid))) AS not_isolated
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'metrics'::regclass;

-- One partition cannot leave its tenant-enabled parent's isolation alone.
SELECT relay_disable_tenancy('events_2025');
-- Deleting a tenant deletes its rows through the parents.
SELECT line FROM relay_delete_tenant('part-a') line WHERE line LIKE '%part.%' OR line LIKE 'deleted tenant%';

-- Disabling the parent takes the partitions with it, deepest first, and gives the
-- schema back as it was.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('metrics', drop_column => true);
DROP TABLE metrics;
DROP SCHEMA partman CASCADE;
-- The partitions added since go first (a dropped table leaves the registry by
-- itself); a partition referenced by a foreign key is detached before it is dropped.
ALTER TABLE events DETACH PARTITION events_2027;
ALTER TABLE events DETACH PARTITION events_2028;
DROP TABLE events_2027, events_2028;
SELECT count(*) AS steps FROM relay_disable_tenancy('event_notes', drop_column => true);
SELECT count(*) AS steps FROM relay_disable_tenancy('events', drop_column => true);
(SELECT * FROM pg_temp.shape('part') EXCEPT SELECT * FROM original)
UNION ALL
(SELECT * FROM original EXCEPT SELECT * FROM pg_temp.shape('part'));
SELECT count(*) FROM relay.relay_tables WHERE relid::text LIKE 'part.%' OR relid::text LIKE 'event%';

SELECT line FROM relay_delete_tenant('part-b') line WHERE line LIKE 'deleted tenant%';
DROP SCHEMA part CASCADE;
DROP ROLE part_app;
RESET search_path;
