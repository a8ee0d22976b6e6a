-- DROP EXTENSION relay_tenancy is refused while tables are tenant-enabled or the
-- audit log holds entries: CASCADE would drop tenants and audit_logs and, with
-- them, the enabled tables' policies, defaults and foreign keys, leaving their rows
-- with no isolation after one NOTICE. The commands that would drop the extension by
-- cascade are refused too. The registry follows dropped and renamed tables.
\i include/fixtures.sql
\i include/reference_app.sql
\set VERBOSITY verbose

-- In this database tables are enabled (the reference app's, and in the schedule the
-- earlier files' too). Each command is refused, counting every enabled table and
-- naming the first ten (the exact text, for two tables, is in the fresh database below):
\x on
SELECT s.stmt, e.code,
       regexp_replace(e.message, ': [0-9]+ tables', ': N tables') AS message,
       substring(e.message from ': ([0-9]+) tables')::int = (SELECT count(*) FROM relay.relay_tables) AS counts_every_table,
       e.detail LIKE s.what || ' would drop tenants and audit_logs, and by cascade the policies, defaults and foreign keys of %: their rows would stay, with no tenant isolation.' AS detail_names_them,
       e.hint
  FROM (VALUES (1, 'DROP EXTENSION relay_tenancy', 'DROP EXTENSION relay_tenancy'),
               (2, 'DROP EXTENSION relay_tenancy CASCADE', 'DROP EXTENSION relay_tenancy'),
               (3, 'DROP EXTENSION IF EXISTS relay_tenancy, plpgsql CASCADE', 'DROP EXTENSION relay_tenancy'),
               (4, 'DROP SCHEMA public CASCADE', 'DROP SCHEMA public CASCADE')) s(n, stmt, what),
       LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
\x off
-- Nothing was dropped.
SELECT extname FROM pg_extension WHERE extname = 'relay_tenancy';

-- A fresh database, relay installed by a superuser of its own.
CREATE ROLE relay_admin SUPERUSER LOGIN;
CREATE DATABASE relay_drop OWNER relay_admin;
\c relay_drop relay_admin
\set VERBOSITY verbose
CREATE EXTENSION relay_tenancy;
CREATE TABLE notes (id int PRIMARY KEY, body text);
CREATE TABLE todos (id int PRIMARY KEY, done boolean);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('notes');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('todos');
SELECT relay_enable_audit('todos');

-- DROP OWNED BY the extension's owner would drop it too.
DROP OWNED BY relay_admin;

-- The registry holds oids: a renamed table stays registered under its new name...
ALTER TABLE notes RENAME TO memos;
SELECT relid FROM relay.relay_tables ORDER BY relid::text;
-- ...and a dropped one leaves it (and the capture registry) at once.
DROP TABLE memos;
SELECT relid FROM relay.relay_tables ORDER BY relid::text;
DROP TABLE todos;
SELECT count(*) AS enabled, (SELECT count(*) FROM relay.relay_audit_tables) AS audited FROM relay.relay_tables;

-- No table is enabled now, but the audit log holds an entry: the drop still needs
-- a decision, since the entries exist nowhere else.
BEGIN;
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', true);
SELECT relay_audit('note.deleted', 'note', '1') IS NOT NULL AS recorded;
COMMIT;
DROP EXTENSION relay_tenancy;
-- relay.drop_audit_log is for superusers.
CREATE ROLE relay_drop_app;
SET ROLE relay_drop_app;
SET relay.drop_audit_log = on;
RESET ROLE;
-- After keeping a copy, the DBA says so and the drop goes through.
SET relay.drop_audit_log = on;
DROP EXTENSION relay_tenancy;
SELECT count(*) AS relay_event_triggers FROM pg_event_trigger WHERE evtname LIKE 'relay%';
-- DROP EXTENSION leaves schema relay (CREATE EXTENSION made it; it is not one of the
-- extension's objects, so pg_dump dumps it before CREATE EXTENSION).
SELECT nspname FROM pg_namespace WHERE nspname = 'relay';
-- An installation with nothing in it drops without ceremony, also with its schema.
RESET relay.drop_audit_log;
CREATE EXTENSION relay_tenancy;
DROP SCHEMA relay CASCADE;
SELECT count(*) AS schemas_named_relay FROM pg_namespace WHERE nspname = 'relay';
-- CREATE EXTENSION makes schema relay when it is missing.
CREATE EXTENSION relay_tenancy;
SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, n.nspacl
  FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'relay_tenancy';
DROP EXTENSION relay_tenancy;
-- An application with a table of its own named tenants (and audit_logs): relay's are
-- in schema relay, so CREATE EXTENSION no longer collides with them.
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text);
CREATE TABLE public.audit_logs (id bigint PRIMARY KEY, entry text);
CREATE EXTENSION relay_tenancy;
SELECT c.oid::regclass AS relation, e.extname AS extension
  FROM pg_class c LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  LEFT JOIN pg_extension e ON e.oid = d.refobjid
 WHERE c.relname IN ('tenants', 'audit_logs') AND c.relkind = 'r' ORDER BY c.oid::regclass::text;
CREATE TABLE app_items (id bigint PRIMARY KEY, title text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('app_items');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'app_items'::regclass AND contype = 'f';
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('app_items', drop_column => true);
DROP TABLE app_items, public.tenants, public.audit_logs;
SET relay.drop_audit_log = on;  -- (relay recorded the two calls in relay.audit_logs)
DROP EXTENSION relay_tenancy;
RESET relay.drop_audit_log;
-- A schema relay made beforehand by a role that is not a superuser is refused: its
-- owner could drop or add objects among relay's.
DROP SCHEMA relay;  -- (the one the last CREATE EXTENSION made)
CREATE SCHEMA relay AUTHORIZATION relay_drop_app;
CREATE EXTENSION relay_tenancy;
ALTER SCHEMA relay OWNER TO relay_admin;
CREATE EXTENSION relay_tenancy;
DROP EXTENSION relay_tenancy;
DROP SCHEMA relay;
-- relay's schema is fixed: CREATE EXTENSION ... SCHEMA another one is refused.
CREATE SCHEMA elsewhere;
CREATE EXTENSION relay_tenancy SCHEMA elsewhere;
DROP SCHEMA elsewhere;

\c regression postgres
DROP DATABASE relay_drop;
DROP ROLE relay_admin, relay_drop_app;
