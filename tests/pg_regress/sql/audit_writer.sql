-- The capture trigger's native writer inserts entries the way COPY does, in batches
-- of 1000 with their index entries. It is taken only while audit_logs is exactly as
-- relay made it; any difference sends the entries through SQL, which enforces what
-- the DBA changed. DEBUG1 says which writer ran. In a database of its own, with
-- relay in a schema of its own.
CREATE DATABASE relay_writer;
\c relay_writer
\set VERBOSITY terse
CREATE SCHEMA relay;
CREATE EXTENSION relay_tenancy SCHEMA relay;
CREATE EXTENSION amcheck;
SET search_path = public, relay;
CREATE TABLE items (id int PRIMARY KEY, name text);
CREATE TABLE notes (body text);
SELECT count(*) > 0 AS audited FROM relay_enable_audit('items');
SELECT count(*) > 0 AS audited FROM relay_enable_audit('notes');
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', false);

-- A statement larger than one batch: 2500 entries, read and written natively a batch
-- of 1000 at a time (bounded memory, whatever the statement's size).
SET client_min_messages = debug1;
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2500) g;
RESET client_min_messages;
SELECT count(*) AS entries, count(DISTINCT id) AS ids FROM relay.audit_logs;
-- Transition tables that spill to disk (work_mem 64kB): an UPDATE of every row, its
-- old and new rows paired a batch at a time.
SET work_mem = '64kB';
UPDATE items SET name = name || ' (renamed)';
RESET work_mem;
SELECT count(*) AS updates, count(*) FILTER (WHERE metadata->'old'->'id' = metadata->'new'->'id'
                                               AND metadata->'changed' = '["name"]') AS paired
  FROM relay.audit_logs WHERE action = 'UPDATE';
-- The indexes the native writer filled are sound (amcheck, with every heap tuple).
SELECT c.relname, bt_index_check(c.oid, true)::text = '' AS checked
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'relay.audit_logs'::regclass ORDER BY 1;

-- Each difference from relay's audit_logs sends entries through SQL:
-- a NOT NULL where relay put none (and SQL enforces it)...
ALTER TABLE relay.audit_logs ALTER COLUMN resource_id SET NOT NULL;
SET client_min_messages = debug1;
INSERT INTO items VALUES (9001, 'x');
INSERT INTO notes VALUES ('no primary key: no resource_id');
RESET client_min_messages;
ALTER TABLE relay.audit_logs ALTER COLUMN resource_id DROP NOT NULL;
-- ...a default changed (the native writer fills id and created_at itself)...
ALTER TABLE relay.audit_logs ALTER COLUMN created_at SET DEFAULT clock_timestamp();
SET client_min_messages = debug1;
INSERT INTO items VALUES (9002, 'x');
RESET client_min_messages;
ALTER TABLE relay.audit_logs ALTER COLUMN created_at SET DEFAULT now();
-- ...another table access method...
CREATE ACCESS METHOD heap_copy TYPE TABLE HANDLER heap_tableam_handler;
ALTER TABLE relay.audit_logs SET ACCESS METHOD heap_copy;
SET client_min_messages = debug1;
INSERT INTO items VALUES (9003, 'x');
RESET client_min_messages;
ALTER TABLE relay.audit_logs SET ACCESS METHOD heap;
-- ...audit_logs as a partition (SQL checks the partition's bounds)...
CREATE TABLE relay.audit_archive (LIKE relay.audit_logs) PARTITION BY RANGE (created_at);
ALTER TABLE relay.audit_archive ATTACH PARTITION relay.audit_logs FOR VALUES FROM (MINVALUE) TO ('2100-01-01');
SET client_min_messages = debug1;
INSERT INTO items VALUES (9004, 'x');
RESET client_min_messages;
ALTER TABLE relay.audit_archive DETACH PARTITION relay.audit_logs;
DROP TABLE relay.audit_archive;
-- ...and back as relay made it: natively again.
SET client_min_messages = debug1;
INSERT INTO items VALUES (9005, 'x');
RESET client_min_messages;
SELECT resource_id FROM relay.audit_logs WHERE resource_id::int > 9000 ORDER BY 1;

-- relay's schema renamed in this session, whose caches know where relay's tables
-- were: capture follows.
ALTER SCHEMA relay RENAME TO relay_renamed;
INSERT INTO items VALUES (9006, 'x');
ALTER SCHEMA relay_renamed RENAME TO relay;
-- audit_logs renamed and another made in its place: relay writes into neither, in
-- this warm session as in a new one.
ALTER TABLE relay.audit_logs RENAME TO audit_logs_renamed;
CREATE TABLE relay.audit_logs (LIKE relay.audit_logs_renamed INCLUDING ALL);
INSERT INTO items VALUES (9007, 'x');
\c relay_writer
SET search_path = public, relay;
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', false);
INSERT INTO items VALUES (9007, 'x');
DROP TABLE relay.audit_logs;
ALTER TABLE relay.audit_logs_renamed RENAME TO audit_logs;
INSERT INTO items VALUES (9007, 'x');
SELECT resource_id FROM relay.audit_logs WHERE resource_id::int > 9005 ORDER BY 1;

\c regression
DROP DATABASE relay_writer;
