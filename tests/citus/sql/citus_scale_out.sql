-- Scaling out with Citus, on a real cluster: a coordinator (this connection) and two
-- workers on loopback, each with shared_preload_libraries = 'citus,relay_tenancy'
-- (tests/scripts/citus.sh starts them). The reference application is converted with
-- per-tenant keys, distributed with one call, and used by an application role.
\set VERBOSITY verbose
-- Citus reports each table's data copy as a NOTICE; the test shows relay's lines.
SET client_min_messages = warning;
CREATE EXTENSION relay_tenancy;
\set ECHO none
\i reference/app-schema.sql
\i reference/app-data.sql
\set ECHO all
-- Reference data every tenant reads: skill categories (stays global, `shared`).
CREATE TABLE categories (name text PRIMARY KEY);
INSERT INTO categories VALUES ('general'), ('data'), ('ops'), ('writing');
ALTER TABLE skills ADD CONSTRAINT skills_category_fkey FOREIGN KEY (category) REFERENCES categories (name);
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT relay_create_tenant('Globex', 'globex', id => 'globex');

-- 1. Citus needs the tenant column in every key. The reference keeps users.email and
--    api_keys.key_hash unique across tenants (login lookups before the tenant is
--    known); a value unique across tenants cannot be checked on one node, so
--    relay_distribute refuses, naming the key and the fix:
BEGIN;
SELECT count(*) > 0 AS converted FROM relay_enable_tenancy_schema('public', primary_key => 'tenant',
  shared => ARRAY['categories']::regclass[], global_unique => ARRAY['users.email', 'api_keys.key_hash']);
SELECT * FROM relay_distribute('public');
ROLLBACK;
-- Per-tenant keys throughout (an email is unique within its tenant):
SELECT count(*) > 0 AS converted FROM relay_enable_tenancy_schema('public', primary_key => 'tenant',
  shared => ARRAY['categories']::regclass[]);
-- A foreign key that sets columns on delete cannot include the distribution column
-- in Citus (usage events keep their rows when a skill goes: SET NULL (skill_id)):
SELECT * FROM relay_distribute('public');
-- Here usage events go with their skill instead:
ALTER TABLE usage_events DROP CONSTRAINT usage_events_skill_id_fkey,
  ADD CONSTRAINT usage_events_skill_id_fkey FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE;

-- 2. The plan, then the call: policies and defaults in their by-name form (no
--    sub-select, no regclass constant), foreign keys to tenants set aside while it
--    becomes a reference table, tenant tables distributed parents first, co-located.
SELECT step, lock, action FROM relay_distribute_plan('public');
SELECT * FROM relay_distribute('public');
SELECT logicalrelid, partmethod, colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'users'::regclass) AS colocated
  FROM pg_dist_partition ORDER BY logicalrelid::text;
-- Re-runnable: nothing is left to do.
SELECT * FROM relay_distribute('public');
-- Still isolated, by relay's own checks:
SELECT table_name, problems FROM relay.relay_tenancy_status ORDER BY 1;
-- (relay_verify's only findings here are the login-role ownership warnings every
-- test table draws, left out.)
SELECT * FROM relay_verify() WHERE severity <> 'ok' AND problem NOT LIKE 'is owned by login role%';
-- The foreign keys are back, composite between tenant tables, single-column to
-- tenants and to the shared categories (now a reference table):
SELECT conrelid::regclass, conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE contype = 'f' AND conrelid IN ('ratings'::regclass, 'skills'::regclass) ORDER BY 1, 2;

-- A table a migration adds after the scale-out: tenant-enabled like any other (relay
-- sees that tenants is a reference table: the policies and default come in their
-- by-name forms, and the key to tenants waits, since with it the table would become a
-- Citus local table), then distributed by a re-run of relay_distribute, which adds
-- the key; foreign keys to distributed tables come after that.
CREATE TABLE notes (id text PRIMARY KEY, user_id text NOT NULL, body text);
SELECT * FROM relay_enable_tenancy('notes', primary_key => 'tenant');
SELECT policyname, qual FROM pg_policies WHERE tablename = 'notes' ORDER BY 1;
SELECT * FROM relay_distribute('public');
ALTER TABLE notes ADD CONSTRAINT notes_user_id_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id);
SELECT relay_isolation_problems('notes');
-- A table distributed by hand first cannot take relay's default any more (Citus
-- does not change a distribution column's default): refused, with the way round.
CREATE TABLE drafts (tenant_id text NOT NULL, id text NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('drafts', 'tenant_id', colocate_with => 'users');
SELECT * FROM relay_enable_tenancy('drafts');
DROP TABLE drafts;
-- The way round the HINT gives: the default in CREATE TABLE.
CREATE TABLE drafts (tenant_id text NOT NULL DEFAULT relay.relay_insert_tenant('public.drafts'::text),
                     id text NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('drafts', 'tenant_id', colocate_with => 'users');
SELECT * FROM relay_enable_tenancy('drafts');
SELECT relay_isolation_problems('drafts');
-- relay's undo would restore keys without the tenant column: local first.
SELECT * FROM relay_disable_tenancy_plan('drafts');

-- 3. An application role works per transaction; the tenant reaches the workers.
CREATE ROLE app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;
SET ROLE app;
BEGIN;
SELECT relay_set_tenant('acme');
INSERT INTO users (id, email, name) VALUES ('u-acme', 'a@acme.test', 'Ann');
INSERT INTO skills (id, name, slug, content, author_id) VALUES ('s-acme', 'Welding', 'welding', '...', 'u-acme');
INSERT INTO ratings (skill_id, user_id, rating) VALUES ('s-acme', 'u-acme', 5);
INSERT INTO notes (id, user_id, body) VALUES ('n-acme', 'u-acme', 'hello');
SELECT tenant_id, id, email FROM users;
SELECT tenant_id, id, body FROM notes;
SELECT s.name, s.category, u.name AS author, r.rating FROM skills s JOIN users u ON u.id = s.author_id JOIN ratings r ON r.skill_id = s.id
  JOIN categories c ON c.name = s.category;
COMMIT;
BEGIN;
SELECT relay_set_tenant('globex');
SELECT count(*) AS users_seen, (SELECT count(*) FROM skills) AS skills_seen, (SELECT count(*) FROM notes) AS notes_seen FROM users;
-- another tenant's rows cannot be referenced or changed:
INSERT INTO skills (id, name, slug, content, author_id) VALUES ('s-globex', 'Welding', 'welding', '...', 'u-acme');
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('globex');
UPDATE users SET name = 'stolen' WHERE id = 'u-acme';
DELETE FROM skills WHERE id = 's-acme';
COMMIT;
-- No tenant: no rows (relay.require_tenant turns this into an error), and inserts fail.
SELECT count(*) FROM users;
BEGIN;
INSERT INTO users (id, email, name) VALUES ('u-none', 'n@none.test', 'Nobody');
ROLLBACK;
-- Citus forwards only SET LOCAL to the workers: a session-wide tenant is refused.
SELECT relay_set_tenant('acme', is_local => false);

-- 4. Tenant queries route to one shard: relay adds the session tenant's constant to
--    its policy's comparison before Citus plans, so a query naming no tenant_id runs
--    on the tenant's node only (Task Count: 1), like one with an explicit filter.
BEGIN;
SELECT relay_set_tenant('acme');
EXPLAIN (COSTS OFF) SELECT name FROM users WHERE id = 'u-acme';
EXPLAIN (COSTS OFF) SELECT name FROM users WHERE id = 'u-acme' AND tenant_id = 'acme';
EXPLAIN (COSTS OFF) SELECT s.name, count(r.*) FROM skills s JOIN ratings r ON r.skill_id = s.id GROUP BY s.name;
EXPLAIN (COSTS OFF) UPDATE skills SET total_uses = total_uses + 1 WHERE id = 's-acme';
-- Without relay's constant (relay.route_tenant_queries = off) the same lookup goes to
-- every shard, each filtering by the policy:
SET LOCAL relay.route_tenant_queries = off;
EXPLAIN (COSTS OFF) SELECT name FROM users WHERE id = 'u-acme';
COMMIT;
-- A prepared statement keeps its plan while the tenant stays; a new tenant re-plans it.
PREPARE user_name(text) AS SELECT tenant_id, name FROM users WHERE id = $1;
BEGIN;
SELECT relay_set_tenant('acme');
EXECUTE user_name('u-acme'); EXECUTE user_name('u-acme'); EXECUTE user_name('u-acme');
EXECUTE user_name('u-acme'); EXECUTE user_name('u-acme'); EXECUTE user_name('u-acme');
SELECT relay_set_tenant('globex');
EXECUTE user_name('u-acme');
INSERT INTO users (id, email, name) VALUES ('u-globex', 'g@globex.test', 'Gus');
EXECUTE user_name('u-globex');
COMMIT;
BEGIN;
SELECT relay_set_tenant('acme');
EXECUTE user_name('u-globex');
EXECUTE user_name('u-acme');
COMMIT;
DEALLOCATE user_name;
RESET ROLE;
-- A role that bypasses row level security (here the superuser) reads every tenant:
-- nothing is added, the query goes to every shard.
EXPLAIN (COSTS OFF) SELECT count(*) FROM users;
SELECT tenant_id, count(*) FROM users GROUP BY 1 ORDER BY 1;

-- A hostile search_path reaches none of relay's Citus lookups: an application role
-- with a schema of its own puts decoys of Citus's catalogs, an `=` that is always
-- true and a relay_policy_tenant of its own ahead of pg_catalog, in a fresh session
-- (relay's caches empty). The tenant, its rows and the routing stay as they were.
CREATE SCHEMA evil AUTHORIZATION app;
\c - app
SET client_min_messages = warning;
\set VERBOSITY verbose
CREATE TABLE evil.pg_dist_partition (logicalrelid oid, partmethod "char", colocationid int);
CREATE TABLE evil.pg_dist_shard (logicalrelid oid, shardid bigint);
CREATE FUNCTION evil.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.always);
CREATE FUNCTION evil.relay_policy_tenant(text) RETURNS text LANGUAGE sql AS $$SELECT 'globex'$$;
SET search_path = evil, pg_catalog, public;
BEGIN;
SELECT relay_set_tenant('acme');
SELECT tenant_id, id FROM users ORDER BY id;
EXPLAIN (COSTS OFF) SELECT name FROM users WHERE id OPERATOR(pg_catalog.=) 'u-acme';
COMMIT;
BEGIN;
SELECT relay_set_tenant('acme', is_local => false);
ROLLBACK;
\c - postgres
SET client_min_messages = warning;
\set VERBOSITY verbose
SET search_path = evil, pg_catalog, public;
SELECT count(*) AS left_to_do FROM relay_distribute_plan('public');
SELECT * FROM relay_enable_audit('skills');
RESET search_path;
DROP SCHEMA evil CASCADE;

-- 5. Signed mode across nodes: the token is forwarded with the tenant and checked
--    again on each worker (relay.token_key is in every node's postgresql.conf).
CREATE ROLE signed_app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO signed_app;
ALTER ROLE signed_app SET relay.context_mode = 'signed';
SELECT relay_tenant_token('acme') AS token \gset
SELECT relay_tenant_token('globex') AS globex_token \gset
SELECT relay_suspend_tenant('globex');
\c - signed_app
SET client_min_messages = warning;
\set VERBOSITY verbose
SHOW relay.context_mode;
-- The role's setting reached the workers too (Citus propagates ALTER ROLE ... SET):
SELECT nodeport, result FROM run_command_on_workers($$SHOW relay.context_mode$$) ORDER BY 1;
-- Going to a worker directly does not get around it: there, too, only a token sets
-- the tenant.
SELECT nodeport, success, result FROM run_command_on_workers($$SET app.current_tenant_id = 'globex'$$) ORDER BY 1;
BEGIN;
SELECT relay_set_tenant('acme');
ROLLBACK;
BEGIN;
SET LOCAL app.current_tenant_id = 'globex';
ROLLBACK;
-- A token vouches for its own tenant only, and only while that tenant is active,
-- whether it comes through relay_set_tenant or is set by hand as Citus forwards it:
BEGIN;
SET LOCAL relay.tenant_token = :'token';
SET LOCAL app.current_tenant_id = 'globex';
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('globex', :'globex_token');
ROLLBACK;
BEGIN;
SET LOCAL relay.tenant_token = :'globex_token';
SET LOCAL app.current_tenant_id = 'globex';
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('acme', :'token', 'ann');
SELECT id, name FROM users ORDER BY id;
INSERT INTO skills (id, name, slug, content, author_id) VALUES ('s-acme-2', 'Soldering', 'soldering', '...', 'u-acme');
SELECT count(*) AS acme_skills FROM skills;
COMMIT;
\c - postgres
SET client_min_messages = warning;
\set VERBOSITY verbose

-- 6. Tenant lifecycle and the audit log on a distributed schema.
SELECT * FROM relay_delete_tenant('globex');
SELECT tenant_id, count(*) FROM users GROUP BY 1 ORDER BY 1;
SELECT count(*) AS globex_rows_left FROM skills WHERE tenant_id = 'globex';
-- audit_logs stays on the coordinator; capture on a distributed table is refused
-- (it would run on the workers' shards), relay_audit() still records events:
SELECT * FROM relay_enable_audit('skills');
BEGIN;
SELECT relay_set_tenant('acme');
SELECT relay_audit('export', 'skills', 's-acme') IS NOT NULL AS recorded;
COMMIT;
SELECT tenant_id, action, resource_type, resource_id FROM relay.audit_logs ORDER BY created_at, resource_id;

-- 7. Every placement is guarded like its table.
-- Citus re-creates a table's policies on its shards and on the workers' shell tables
-- without AS RESTRICTIVE. relay's hook, loaded on every node, makes relay's policy
-- RESTRICTIVE again wherever it is created: after relay_distribute, a shard move and a
-- tenant isolated to a shard of its own, no node has a permissive tenant_isolation.
SELECT nodeid, result AS permissive_tenant_isolation FROM run_command_on_all_nodes(
  $$SELECT count(*) FROM pg_policy WHERE polname = 'tenant_isolation' AND polpermissive$$) ORDER BY 1;
SELECT shardid AS moved_shard, nodeport AS from_port FROM pg_dist_shard_placement
 WHERE shardid = (SELECT min(shardid) FROM pg_dist_shard WHERE logicalrelid = 'skills'::regclass) \gset
SELECT nodeport AS to_port FROM pg_dist_node WHERE shouldhaveshards AND nodeport <> :from_port ORDER BY nodeport LIMIT 1 \gset
SELECT citus_move_shard_placement(:moved_shard, '127.0.0.1', :from_port, '127.0.0.1', :to_port,
                                  shard_transfer_mode => 'block_writes');
SELECT isolate_tenant_to_new_shard('skills', 'acme', 'CASCADE', shard_transfer_mode => 'block_writes') > 0 AS acme_isolated;
SELECT nodeid, result AS permissive_tenant_isolation FROM run_command_on_all_nodes(
  $$SELECT count(*) FROM pg_policy WHERE polname = 'tenant_isolation' AND polpermissive$$) ORDER BY 1;
-- So a policy the owner adds is ANDed with relay's on every placement, as on the
-- coordinator: with no tenant set, the application still reads nothing.
-- The deployment relay recommends: a migration role that is not a superuser owns the
-- tables (here they are handed to it), with REFERENCES on tenants.
CREATE ROLE table_owner LOGIN;
GRANT CREATE ON SCHEMA public TO table_owner;
GRANT REFERENCES ON relay.tenants TO table_owner;
DO $$
DECLARE t regclass;
BEGIN
  SET LOCAL citus.multi_shard_modify_mode = 'sequential';  -- tables with keys to reference tables
  FOR t IN SELECT c.oid::regclass FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1
  LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO table_owner', t);
  END LOOP;
END $$;
SET ROLE table_owner;
CREATE POLICY everything ON skills FOR SELECT USING (true);
SET ROLE app;
SELECT count(*) AS skills_seen_without_tenant FROM skills;
-- The owner, going to the placements on the workers, cannot switch isolation off
-- there either (relay's guard knows the shards of relay's tables on every node):
SET ROLE table_owner;
SELECT DISTINCT success, regexp_replace(result, '_[0-9]+', '_<shard>', 'g') AS result
  FROM run_command_on_placements('skills', $$ALTER TABLE %s NO FORCE ROW LEVEL SECURITY$$);
SELECT DISTINCT success, regexp_replace(result, '_[0-9]+', '_<shard>', 'g') AS result
  FROM run_command_on_placements('skills', $$DROP POLICY tenant_isolation ON %s$$);
SELECT DISTINCT success, regexp_replace(result, '_[0-9]+', '_<shard>', 'g') AS result
  FROM run_command_on_placements('skills', $$ALTER POLICY tenant_access ON %s USING (true)$$);
SELECT DISTINCT success, regexp_replace(result, '_[0-9]+', '_<shard>', 'g') AS result
  FROM run_command_on_placements('skills', $$ALTER POLICY tenant_isolation ON %s RENAME TO anything$$);
SELECT DISTINCT success, regexp_replace(result, '_[0-9]+', '_<shard>', 'g') AS result
  FROM run_command_on_placements('skills', $d$DO $$ BEGIN EXECUTE format('ALTER TABLE %1$s DISABLE TRIGGER %%I',
         (SELECT tgname FROM pg_trigger WHERE tgrelid = '%1$s'::regclass AND tgname LIKE 'relay_tenant_truncate_guard%%')); END $$$d$);
RESET ROLE;
DROP POLICY everything ON skills;
-- A superuser on the workers is warned and goes through (here on every placement of
-- skills and users); relay_verify and relay_security_check then name each placement,
-- and a re-run of relay_distribute restores them. (The placements of drafts, enabled
-- after Citus distributed it, never had the TRUNCATE guard: restored too.)
SET client_min_messages = error;
SELECT count(*) FILTER (WHERE success) AS placements_changed
  FROM run_command_on_placements('skills', $$DROP POLICY tenant_isolation ON %s$$);
SELECT count(*) FILTER (WHERE success) AS placements_changed
  FROM run_command_on_placements('users', $$ALTER TABLE %s NO FORCE ROW LEVEL SECURITY$$);
SET client_min_messages = warning;
SELECT severity, regexp_replace(object, ':[0-9]+ shard [0-9]+', ':<port> shard <id>') AS object, problem
  FROM relay_verify() WHERE object LIKE 'placement%' ORDER BY 2, 3;
SELECT check_name, ok FROM relay_security_check() WHERE check_name IN ('placements_isolated', 'nodes_alike') ORDER BY 1;
SELECT count(*) AS restored FROM relay_distribute('public') WHERE starts_with(relay_distribute, 'restored');
SELECT count(*) AS placement_findings FROM relay_verify() WHERE object LIKE 'placement%';
-- Shard moves, drains and rebalances, run by the operator (a superuser), keep every
-- placement guarded. Citus creates a moved shard's triggers as the table's owner
-- (table_owner, not a superuser); the re-run of relay_distribute above let that
-- owner attach relay's guards (GRANT EXECUTE on the guard trigger functions, which
-- run only as triggers), on every node.
SELECT nodeid, result AS owner_may_attach_guards FROM run_command_on_all_nodes(
  $$SELECT has_function_privilege('table_owner', 'relay.relay_tenant_truncate_guard()', 'EXECUTE')$$) ORDER BY 1;
SELECT nodeport AS drained_port FROM pg_dist_node WHERE shouldhaveshards ORDER BY nodeport LIMIT 1 \gset
SELECT citus_drain_node('127.0.0.1', :drained_port, shard_transfer_mode => 'block_writes');
SELECT count(*) AS placements_left_on_drained_node FROM pg_dist_shard_placement
 WHERE nodeport = :drained_port AND shardid IN (SELECT shardid FROM pg_dist_shard s JOIN pg_dist_partition p USING (logicalrelid) WHERE p.partmethod = 'h');
SELECT citus_set_node_property('127.0.0.1', :drained_port, 'shouldhaveshards', true);
SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes');
SELECT count(*) > 0 AS placements_back_on_drained_node FROM pg_dist_shard_placement WHERE nodeport = :drained_port;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'placements_isolated';
-- The owner itself cannot move them: Citus locks the placements of the reference
-- tables the moved tables reference, which needs their ownership, and relay's tenants
-- belongs to the extension's owner. Shard operations are the operator's.
SET ROLE table_owner;
SELECT shardid AS some_shard, nodeport AS some_port FROM pg_dist_shard_placement
 WHERE shardid = (SELECT min(shardid) FROM pg_dist_shard WHERE logicalrelid = 'skills'::regclass) \gset
SELECT nodeport AS other_port FROM pg_dist_node WHERE shouldhaveshards AND nodeport <> :some_port LIMIT 1 \gset
\set VERBOSITY terse
SELECT citus_move_shard_placement(:some_shard, '127.0.0.1', :some_port, '127.0.0.1', :other_port, shard_transfer_mode => 'block_writes');
\set VERBOSITY verbose
RESET ROLE;
SELECT relay_create_tenant('Initech', 'initech', id => 'initech');
-- COPY of a distributed table: Citus sends a bare COPY to every shard, where the
-- tenant does not reach (it returned no rows, silently): refused for roles subject to
-- row level security, pointing at COPY (SELECT ...), which Citus plans with the tenant.
SET ROLE app;
BEGIN;
SELECT relay_set_tenant('acme');
COPY users TO STDOUT;
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('acme');
COPY (SELECT id, email FROM users ORDER BY id) TO STDOUT;
-- A cursor declared under one tenant is not fetched under another (as on one node):
DECLARE acme_users CURSOR FOR SELECT id FROM users ORDER BY id;
SELECT relay_set_tenant('initech');
ROLLBACK;
-- set_config() is not forwarded to the workers (Citus forwards SET LOCAL statements
-- only): the coordinator would route by the new tenant while the workers filter by the
-- one forwarded before. On a Citus node relay refuses to set the tenant that way.
BEGIN;
SELECT relay_set_tenant('initech');
SELECT count(*) AS initech_users FROM users;
SELECT set_config('app.current_tenant_id', 'acme', true) AS set_by_set_config;
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('acme');
SELECT count(*) AS users_seen_after_relay_set_tenant FROM users;
-- MERGE into a distributed table (what only Citus can fix), for a role subject to row level security: Citus
-- refuses it (relay's policy calls a function that is not IMMUTABLE); INSERT ... ON
-- CONFLICT, UPDATE and DELETE do the same work.
\set VERBOSITY terse
MERGE INTO users u USING (SELECT 'u-acme' AS id) s ON u.id = s.id
  WHEN MATCHED THEN UPDATE SET name = 'Ann M.';
\set VERBOSITY verbose
ROLLBACK;
-- Citus's EXPLAIN ANALYZE of a shard query counts the rows row level security removed,
-- like the EXPLAIN ANALYZE relay refuses: relay_distribute closed it to PUBLIC on every
-- node.
SELECT * FROM worker_save_query_explain_analyze('SELECT * FROM users', '{"analyze": true}')
  AS (id text, email text, name text);
RESET ROLE;
SELECT nodeid, result AS public_may_explain_shard_queries FROM run_command_on_all_nodes(
  $$SELECT has_function_privilege('public', 'worker_save_query_explain_analyze(text, jsonb)', 'EXECUTE')$$) ORDER BY 1;
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'citus_explain_closed';
-- Only Citus can fix: its intermediate results (what it materialises for CTEs and
-- subqueries) are files per user and distributed transaction. A session of the same
-- login role that assigns itself another session's transaction id reads them, whatever
-- its tenant; a session of another login role (with the same grants, through a group
-- role) does not find them: the mitigation, a login role per tenant group, measured.
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
CREATE ROLE app_other LOGIN;
GRANT app TO app_other;
SET ROLE app;
BEGIN;
SELECT relay_set_tenant('acme');
SELECT create_intermediate_result('acme_users', 'SELECT id, email FROM users') AS acme_rows_materialised;
SELECT initiator_node_identifier AS node, transaction_number AS txn, transaction_stamp AS stamp
  FROM get_current_transaction_id() \gset
-- (dblink is called by the superuser; its connections log in as the roles named)
RESET ROLE;
SELECT dblink_connect('same_role', format('host=127.0.0.1 port=%s dbname=%s user=app', current_setting('port'), current_database()));
SELECT dblink_connect('other_role', format('host=127.0.0.1 port=%s dbname=%s user=app_other', current_setting('port'), current_database()));
SELECT c AS session, dblink_exec(c, 'BEGIN') AS began,
       (SELECT count(*) FROM dblink(c, format('SELECT assign_distributed_transaction_id(%s, %s, %L)::text', :node, :txn, :'stamp'))
          AS t(x text)) AS took_the_transaction_id
  FROM unnest(ARRAY['same_role', 'other_role']) c ORDER BY 1;
SELECT (SELECT count(*) FROM dblink('same_role',
          $q$SELECT * FROM read_intermediate_result('acme_users', 'binary') AS r(id text, email text)$q$, false)
          AS t(id text, email text)) AS read_by_the_same_login_role,
       (SELECT count(*) FROM dblink('other_role',
          $q$SELECT * FROM read_intermediate_result('acme_users', 'binary') AS r(id text, email text)$q$, false)
          AS t(id text, email text)) AS read_by_another_login_role;
SELECT dblink_disconnect('same_role'), dblink_disconnect('other_role');
ROLLBACK;
RESET ROLE;  -- (the RESET ROLE above was rolled back with the transaction)
-- Every node runs relay with the coordinator's context mode and key: signed mode set
-- on the coordinator only would leave the workers in open mode.
ALTER SYSTEM SET relay.context_mode = 'signed';
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT check_name, ok, regexp_replace(detail, ':[0-9]+ has', ':<port> has', 'g') AS detail
  FROM relay_security_check() WHERE check_name = 'nodes_alike';
ALTER SYSTEM RESET relay.context_mode;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'nodes_alike';
-- A signed transaction that outlives its token: the worker connection it opens after
-- the expiry is refused, and the error says why.
SELECT relay_tenant_token('acme', '3 seconds') AS short_token \gset
\c - signed_app
\set VERBOSITY verbose
BEGIN;
SELECT relay_set_tenant('acme', :'short_token');
SELECT pg_sleep(4);
SELECT count(*) FROM users;
ROLLBACK;
\c - postgres
