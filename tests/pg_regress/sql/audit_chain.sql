-- Tamper evidence (opt-in): relay_audit_chain(true) chains each tenant's entries:
-- every entry gets the next position of its tenant's chain and the SHA-256 of the
-- previous entry's hash and its own content. relay_audit_verify() walks each chain
-- and reports the first entry that does not fit, whoever wrote or removed it: edited,
-- deleted, inserted out of band. A purge leaves a checkpoint the walk starts from.
-- In a database of its own.
CREATE DATABASE relay_chain;
\c relay_chain
\set VERBOSITY verbose
CREATE EXTENSION relay_tenancy;
SELECT relay_create_tenant('Chain A', 'chain-a', id => 'chain-a');
SELECT relay_create_tenant('Chain B', 'chain-b', id => 'chain-b');
CREATE ROLE chain_app;

-- For superusers and BYPASSRLS roles only; NULL refused.
SELECT relay_audit_chain(NULL);
SET ROLE chain_app;
SELECT relay_audit_chain(true);
SELECT * FROM relay_audit_verify();
RESET ROLE;

SELECT relay_audit_chain(true);
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('notes');
SELECT count(*) > 0 AS audited FROM relay_enable_audit('notes');
-- Entries of every kind: captured rows (the native writer), relay_audit, relay's
-- own entries, and captured rows written through SQL (a default changed on
-- audit_logs sends them there).
BEGIN;
SELECT relay_set_tenant('chain-a', true);
INSERT INTO notes VALUES (1, 'one'), (2, 'two'), (3, 'three');
UPDATE notes SET body = 'two, edited' WHERE id = 2;
SELECT relay_audit('note.shared', 'note', '1', '{"with": "chain-b"}') IS NOT NULL AS recorded;
COMMIT;
BEGIN;
SELECT relay_set_tenant('chain-b', true);
INSERT INTO notes VALUES (10, 'b one');
COMMIT;
SELECT relay_suspend_tenant('chain-b');
SELECT relay_resume_tenant('chain-b');
ALTER TABLE relay.audit_logs ALTER COLUMN created_at SET DEFAULT clock_timestamp();
BEGIN;
SELECT relay_set_tenant('chain-b', true);
SET LOCAL client_min_messages = debug1;
INSERT INTO notes VALUES (11, 'b two');
COMMIT;
ALTER TABLE relay.audit_logs ALTER COLUMN created_at SET DEFAULT now();

SELECT tenant_id, chain_seq, action, length(chain_hash) AS hash_bytes FROM relay.audit_logs
 WHERE chain_seq IS NOT NULL ORDER BY tenant_id, chain_seq;
SELECT * FROM relay_audit_verify();
SELECT * FROM relay_audit_verify('chain-b');

-- What a superuser with the guard switched off can do, the walk finds (each shown in
-- a transaction rolled back).
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
UPDATE relay.audit_logs SET metadata = jsonb_set(metadata, '{new,body}', '"forged"') WHERE tenant_id = 'chain-a' AND chain_seq = 2;
SELECT tenant_id, status, regexp_replace(detail, '[0-9a-f-]{36}', '<id>') AS detail FROM relay_audit_verify('chain-a');
ROLLBACK;
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
DELETE FROM relay.audit_logs WHERE tenant_id = 'chain-a' AND chain_seq = 3;
SELECT tenant_id, status, regexp_replace(detail, '[0-9a-f-]{36}', '<id>') AS detail FROM relay_audit_verify('chain-a');
ROLLBACK;
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
DELETE FROM relay.audit_logs WHERE tenant_id = 'chain-a' AND chain_seq = (SELECT max(chain_seq) FROM relay.audit_logs WHERE tenant_id = 'chain-a');
SELECT tenant_id, status, regexp_replace(detail, '[0-9a-f-]{36}', '<id>') AS detail FROM relay_audit_verify('chain-a');
ROLLBACK;
BEGIN;
INSERT INTO relay.audit_logs (tenant_id, action, chain_seq, chain_hash)
SELECT 'chain-a', 'forged', 2, chain_hash FROM relay.audit_logs WHERE tenant_id = 'chain-a' AND chain_seq = 2;
SELECT tenant_id, status, regexp_replace(detail, '[0-9a-f-]{36}', '<id>') AS detail FROM relay_audit_verify('chain-a');
ROLLBACK;
SELECT tenant_id, status FROM relay_audit_verify() ORDER BY 1;

-- Retention keeps the chains verifiable: the purge removes a prefix of each chain,
-- records the checkpoint, and chains its own entry.
SELECT relay_audit_digest() AS digest_before_purge \gset
SELECT relay_audit_purge(now()) > 0 AS purged;
SELECT tenant_id, checkpoint_seq, last_seq FROM relay.relay_audit_chains ORDER BY 1;
SELECT tenant_id, status, detail FROM relay_audit_verify() ORDER BY 1;
BEGIN;
SELECT relay_set_tenant('chain-a', true);
INSERT INTO notes VALUES (4, 'after the purge');
COMMIT;
SELECT tenant_id, status, detail FROM relay_audit_verify() ORDER BY 1;
-- The purge's own entry names the checkpoint it left; a checkpoint moved by hand
-- (entries deleted at the start, the chain said to begin after them) has none.
SELECT metadata ? 'checkpoint_seq' AS names_checkpoint FROM relay.audit_logs
 WHERE tenant_id = 'chain-a' AND action = 'relay.audit_purged';
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
UPDATE relay.relay_audit_chains c SET checkpoint_seq = a.chain_seq, checkpoint_hash = a.chain_hash FROM relay.audit_logs a
 WHERE c.tenant_id = 'chain-a' AND a.tenant_id = 'chain-a' AND a.chain_seq = c.checkpoint_seq + 1;
DELETE FROM relay.audit_logs WHERE tenant_id = 'chain-a'
   AND chain_seq <= (SELECT checkpoint_seq FROM relay.relay_audit_chains WHERE tenant_id = 'chain-a');
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-a');
ROLLBACK;
-- A digest taken before the purge: its positions were purged since, which it says.
SELECT tenant_id, status, detail FROM relay_audit_verify(digest => :'digest_before_purge') ORDER BY 1;

-- A transaction locks each head once, moves it in memory and writes it back just
-- before it commits: many statements in one transaction chain in order, verification
-- inside the transaction sees the moved head, a savepoint rolled back takes its
-- entries and head moves with it, and a prepared transaction writes its heads at
-- PREPARE TRANSACTION.
BEGIN;
SELECT relay_set_tenant('chain-a', true);
INSERT INTO notes SELECT g, 'one of many' FROM generate_series(100, 104) g;
INSERT INTO notes VALUES (105, 'one more');
SAVEPOINT undo;
INSERT INTO notes VALUES (106, 'rolled back');
ROLLBACK TO undo;
INSERT INTO notes VALUES (107, 'after the savepoint');
SELECT last_seq AS head_in_table FROM relay.relay_audit_chains WHERE tenant_id = 'chain-a';
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-a');
COMMIT;
SELECT string_agg(resource_id, ' ' ORDER BY chain_seq) AS chained_in_order FROM relay.audit_logs
 WHERE tenant_id = 'chain-a' AND resource_type = 'public.notes' AND resource_id LIKE '1__';
BEGIN;
SELECT relay_set_tenant('chain-a', true);
INSERT INTO notes VALUES (108, 'prepared');
PREPARE TRANSACTION 'relay_chain_prepared';
COMMIT PREPARED 'relay_chain_prepared';
SELECT tenant_id, status, detail FROM relay_audit_verify() ORDER BY 1;

-- What a superuser can do that the walk alone does not see, and what catches it now.
-- relay_audit_digest() is each chain's position and hash, to be stored outside the
-- database (a ticket, an object store, another system's log); relay_audit_verify
-- with it proves the history up to those positions is unchanged.
SELECT relay_audit_digest() AS digest \gset
SELECT t AS digested_tenant, (:'digest'::jsonb -> 'chains' -> t ->> 'seq')::int AS seq
  FROM jsonb_object_keys(:'digest'::jsonb -> 'chains') t ORDER BY 1;
SELECT tenant_id, status, regexp_replace(detail, '[0-9a-f-]{36}', '<id>') AS detail FROM relay_audit_verify(digest => :'digest') ORDER BY 1;
-- (a) The last entry deleted and the head moved back: the chain walks clean, but it no
-- longer reaches the digest's position.
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
DELETE FROM relay.audit_logs WHERE tenant_id = 'chain-a'
   AND chain_seq = (SELECT last_seq FROM relay.relay_audit_chains WHERE tenant_id = 'chain-a');
UPDATE relay.relay_audit_chains c SET last_seq = a.chain_seq, last_hash = a.chain_hash FROM relay.audit_logs a
 WHERE c.tenant_id = 'chain-a' AND a.tenant_id = 'chain-a' AND a.chain_seq = c.last_seq - 1;
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-a');
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-a', :'digest');
ROLLBACK;
-- (b) A whole chain deleted with its head: relay_audit_chained (append-only) still
-- has the tenant; with that gone too, the digest has it.
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
DELETE FROM relay.audit_logs WHERE tenant_id = 'chain-b';
DELETE FROM relay.relay_audit_chains WHERE tenant_id = 'chain-b';
SELECT tenant_id, entries, status, detail FROM relay_audit_verify('chain-b');
SAVEPOINT guarded;
DELETE FROM relay.relay_audit_chained WHERE tenant_id = 'chain-b';
ROLLBACK TO guarded;
ALTER TABLE relay.relay_audit_chained DISABLE TRIGGER relay_append_only_row;
DELETE FROM relay.relay_audit_chained WHERE tenant_id = 'chain-b';
SELECT tenant_id, entries, status FROM relay_audit_verify('chain-b');
SELECT tenant_id, entries, status, detail FROM relay_audit_verify('chain-b', :'digest');
ROLLBACK;
-- (c) The last entry's chain columns cleared and the head moved back, and (d) an entry
-- inserted without a place in the chain: entries written since the chain was turned
-- on must all be chained.
BEGIN;
ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_row;
UPDATE relay.relay_audit_chains c SET last_seq = a.chain_seq, last_hash = a.chain_hash FROM relay.audit_logs a
 WHERE c.tenant_id = 'chain-a' AND a.tenant_id = 'chain-a' AND a.chain_seq = c.last_seq - 1;
UPDATE relay.audit_logs SET chain_seq = NULL, chain_hash = NULL
 WHERE tenant_id = 'chain-a' AND chain_seq = (SELECT last_seq + 1 FROM relay.relay_audit_chains WHERE tenant_id = 'chain-a');
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-a');
ROLLBACK;
BEGIN;
INSERT INTO relay.audit_logs (tenant_id, action) VALUES ('chain-b', 'forged.unchained');
SELECT tenant_id, status, detail FROM relay_audit_verify('chain-b');
ROLLBACK;
-- A digest must be one relay_audit_digest returned.
SELECT * FROM relay_audit_verify(NULL, '{"chain-a": 3}');
-- For superusers and BYPASSRLS roles only, like verification.
SET ROLE chain_app;
SELECT relay_audit_digest();
RESET ROLE;

-- Off: new entries are not chained (and the chains stay as they are).
SELECT relay_audit_chain(false);
BEGIN;
SELECT relay_set_tenant('chain-a', true);
INSERT INTO notes VALUES (5, 'unchained');
COMMIT;
SELECT count(*) FILTER (WHERE chain_seq IS NULL) AS unchained FROM relay.audit_logs;
SELECT tenant_id, status FROM relay_audit_verify() ORDER BY 1;

\c regression
DROP DATABASE relay_chain;
DROP ROLE chain_app;
