-- The append-only audit log: audit_logs (reference 0006's columns and indexes),
-- guarded by a native Rust trigger, tenant-scoped, and row-change capture.
\i include/fixtures.sql
\i include/reference_app.sql
\d relay.audit_logs
SELECT tgname, tgenabled, pg_get_triggerdef(oid) AS definition
  FROM pg_trigger WHERE tgrelid = 'relay.audit_logs'::regclass AND NOT tgisinternal ORDER BY tgname;
-- The tenant rule is exactly the one on tenant-enabled tables, but for the table
-- name, with the same two policies (RESTRICTIVE tenant_isolation, PERMISSIVE
-- tenant_access).
SELECT a.polname, a.polpermissive,
       replace(pg_get_expr(a.polqual, a.polrelid), 'relay.audit_logs', 'T')
         = replace(pg_get_expr(s.polqual, s.polrelid), 'skills', 'T') AS same_tenant_rule
  FROM pg_policy a JOIN pg_policy s ON s.polrelid = 'skills'::regclass AND s.polname = a.polname
                                   AND s.polpermissive = a.polpermissive
 WHERE a.polrelid = 'relay.audit_logs'::regclass ORDER BY a.polname;
-- Ordinary roles may SELECT their tenant's entries, nothing more: entries are
-- appended by relay_audit() and the capture trigger, which set the tenant, the time
-- and the id themselves (so no role can backdate an entry or pick its id).
SELECT privilege_type FROM information_schema.role_table_grants
 WHERE table_name = 'audit_logs' AND grantee = 'PUBLIC' ORDER BY 1;

-- relay_audit appends one entry: actor from app.current_actor_id, tenant from the
-- session, client address, time. It returns the entry's id.
SET ROLE relay_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SET LOCAL app.current_actor_id = 'user-7';
SELECT relay_audit('skill.publish', 'skill', 'acme-1', '{"note": "first"}') IS NOT NULL AS appended;
SELECT actor_id, tenant_id, action, resource_type, resource_id, metadata,
       created_at = now() AS at_transaction_time
  FROM relay.audit_logs ORDER BY created_at;
COMMIT;

-- A rolled-back transaction leaves no entry: the audit log is transactional, like
-- every table (write it with relay_audit in the transaction whose effect it records).
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SELECT relay_audit('skill.delete', 'skill', 'acme-1') IS NOT NULL AS appended;
ROLLBACK;

-- Each tenant sees only its own entries; no entry can be written for another.
BEGIN;
SET LOCAL app.current_tenant_id = 'globex';
SELECT count(*) AS globex_sees FROM relay.audit_logs;
SELECT * FROM expect_error($$ INSERT INTO relay.audit_logs (tenant_id, action) VALUES ('acme', 'forged') $$);
SELECT * FROM expect_error($$ INSERT INTO relay.audit_logs (action, created_at) VALUES ('backdated', '2001-01-01') $$);
COMMIT;
SELECT * FROM expect_error($$ SELECT relay_audit('no.tenant') $$);

-- The guard refuses UPDATE, DELETE and TRUNCATE: for the application role...
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SELECT * FROM expect_error($$ UPDATE relay.audit_logs SET action = 'rewritten' $$);
SELECT * FROM expect_error($$ DELETE FROM relay.audit_logs $$);
SELECT * FROM expect_error($$ TRUNCATE relay.audit_logs $$);
COMMIT;
RESET ROLE;
-- ...for the superuser, row by row and per statement...
SELECT * FROM expect_error($$ UPDATE relay.audit_logs SET action = 'rewritten' $$);
SELECT * FROM expect_error($$ DELETE FROM relay.audit_logs $$);
SELECT * FROM expect_error($$ TRUNCATE relay.audit_logs $$);
-- ...and in replica mode, which skips ordinary triggers (the guard fires ALWAYS).
-- There the guard lets a DELETE of relay's own log through: that is how a
-- logical-replication subscriber applies the publisher's relay_audit_purge
-- (audit_purge.sql; only superusers can set replica mode, and they could drop the
-- guard anyway). Shown in a transaction that is rolled back.
SET session_replication_role = replica;
SELECT * FROM expect_error($$ UPDATE relay.audit_logs SET action = 'rewritten' $$);
SELECT * FROM expect_error($$ TRUNCATE relay.audit_logs $$);
BEGIN;
DELETE FROM relay.audit_logs;
ROLLBACK;
RESET session_replication_role;
-- (relay's own entries, about the tables enabled by earlier tests, aside)
SELECT count(*) AS entries FROM relay.audit_logs WHERE action NOT LIKE 'relay.%';

-- Misuse of the guard is a trigger protocol error, not a crash.
CREATE TABLE guard_misuse (id int);
CREATE TRIGGER wrong AFTER INSERT ON guard_misuse FOR EACH ROW EXECUTE FUNCTION relay.relay_append_only_guard();
SELECT * FROM expect_error($$ INSERT INTO guard_misuse VALUES (1) $$);
SELECT * FROM expect_error($$ SELECT relay.relay_append_only_guard() $$);
DROP TABLE guard_misuse;

-- The same guard for any table.
CREATE TABLE ledger (id int PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO ledger VALUES (1, 10.50);
SELECT relay_append_only('ledger');
SELECT relay_append_only('ledger');
INSERT INTO ledger VALUES (2, -3);
SELECT * FROM expect_error($$ UPDATE ledger SET amount = 0 $$);
-- Any other append-only table refuses DELETE in replica mode too.
SET session_replication_role = replica;
SELECT * FROM expect_error($$ DELETE FROM ledger $$);
RESET session_replication_role;
SELECT * FROM ledger ORDER BY id;

-- Row-change capture: one statement-level trigger per event, with transition tables.
CREATE TABLE notes (id int PRIMARY KEY, body text, stars int, tags jsonb);
SELECT relay_enable_tenancy('notes');
SELECT relay_enable_audit('notes');
SELECT relay_enable_audit('notes');
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO relay_app;

SET ROLE relay_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SET LOCAL app.current_actor_id = 'user-7';
INSERT INTO notes (id, body, stars, tags) VALUES (1, 'first', 3, '["a"]'), (2, 'second', NULL, NULL);
UPDATE notes SET stars = 5 WHERE id = 1;
DELETE FROM notes WHERE id = 2;
-- a bulk statement: one trigger call writes every entry
INSERT INTO notes (id, body) SELECT g, 'bulk ' || g FROM generate_series(10, 1009) g;
SELECT action, resource_id, metadata
  FROM relay.audit_logs WHERE resource_type = 'public.notes' AND resource_id IN ('1', '2')
 ORDER BY created_at, action, resource_id;
SELECT action, count(*), min(actor_id) AS actor, min(tenant_id) AS tenant
  FROM relay.audit_logs WHERE resource_type = 'public.notes' GROUP BY action ORDER BY action;
COMMIT;
RESET ROLE;

-- Entries get time-ordered ids (UUID version 7), in the order they were written.
SELECT count(*) AS entries, bool_and(substr(id::text, 15, 1) = '7') AS all_version_7
  FROM relay.audit_logs WHERE resource_type = 'public.notes';

-- Captured entries are written in batches straight into the table, the way COPY
-- does. When a DBA has added something that path would bypass (here a CHECK
-- constraint), relay writes through SQL instead, and the constraint applies.
ALTER TABLE relay.audit_logs ADD CONSTRAINT no_secret_notes CHECK (metadata::text NOT LIKE '%secret%');
SET app.current_tenant_id = 'acme';
INSERT INTO notes (id, body) VALUES (2000, 'still recorded');
SELECT code, message FROM expect_error($$ INSERT INTO notes (id, body) VALUES (2001, 'top secret') $$);
SELECT action, resource_id, metadata -> 'new' ->> 'body' AS body FROM relay.audit_logs WHERE resource_id IN ('2000', '2001');
RESET app.current_tenant_id;
ALTER TABLE relay.audit_logs DROP CONSTRAINT no_secret_notes;

-- TRUNCATE is recorded as one entry for the statement.
SET app.current_tenant_id = 'acme';
TRUNCATE notes;
SELECT action, resource_id, metadata FROM relay.audit_logs WHERE action = 'TRUNCATE';
RESET app.current_tenant_id;

-- A table without a primary key still works: resource_id is NULL, the row is in metadata.
-- Its rows have no tenant of their own, so each entry goes to the session's tenant;
-- with no tenant set the change is refused rather than logged for nobody.
CREATE TABLE events_log (what text);
SELECT relay_enable_audit('events_log');
SELECT * FROM expect_error($$ INSERT INTO events_log VALUES ('boot') $$);
SET app.current_tenant_id = 'acme';
INSERT INTO events_log VALUES ('boot');
RESET app.current_tenant_id;
SELECT action, resource_id, tenant_id, metadata FROM relay.audit_logs WHERE resource_type = 'public.events_log';

-- Disabling removes the triggers; entries already written stay.
SELECT relay_disable_audit('events_log');
SELECT relay_disable_audit('events_log');
INSERT INTO events_log VALUES ('not recorded');
SELECT count(*) FROM relay.audit_logs WHERE resource_type = 'public.events_log';

-- Bad input: clear errors, nothing changed. (skill_names is errors.sql's view; made
-- here too, so that this file runs alone.)
CREATE OR REPLACE VIEW skill_names AS SELECT id, name FROM skills;
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_audit('relay.audit_logs') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_audit('skill_names') $$);
SELECT * FROM expect_error($$ SELECT relay_enable_audit('no_such_table') $$);
SELECT * FROM expect_error($$ SELECT relay_append_only('skill_names') $$);
SET ROLE relay_app;
SELECT * FROM expect_error($$ SELECT relay_enable_audit('skills') $$);
RESET ROLE;
\x off
SELECT count(*) AS audit_triggers FROM pg_trigger
 WHERE tgrelid IN ('relay.audit_logs'::regclass, 'skills'::regclass) AND tgname LIKE 'relay_audit_%';
