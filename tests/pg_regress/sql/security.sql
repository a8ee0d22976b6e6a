-- Security: every attack here was found by an adversarial review of an earlier
-- version, tried as a hostile application role (sec_app) and a hostile non-superuser
-- table owner (sec_owner), with two tenants (sec_a, sec_b). Each block says what
-- must happen; the output shows it does.
INSERT INTO tenants (id, name, slug) VALUES ('sec_a', 'Sec A', 'sec-a'), ('sec_b', 'Sec B', 'sec-b');
CREATE ROLE sec_owner;
CREATE ROLE sec_app;
CREATE SCHEMA sec_evil AUTHORIZATION sec_app;
GRANT CREATE ON SCHEMA public TO sec_owner;
GRANT REFERENCES ON tenants TO sec_owner;
SET ROLE sec_owner;
CREATE TABLE sec_docs (id text PRIMARY KEY, title text NOT NULL, secret text);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_docs');
GRANT SELECT, INSERT, UPDATE, DELETE ON sec_docs TO sec_app;
RESET ROLE;
INSERT INTO sec_docs (id, title, secret, tenant_id) VALUES
  ('a1', 'alpha', 'a-secret', 'sec_a'), ('b1', 'bravo', 'b-secret-1', 'sec_b'), ('b2', 'mike', 'b-secret-2', 'sec_b');

-- 1. search_path attacks. sec_app owns a schema and defines operators there that
-- log who called them. Put first in search_path, they would win over pg_catalog's
-- for any unqualified comparison relay parsed; relay's SQL functions pin their
-- search_path and its tenant lookup parses no SQL at all, so none is ever called,
-- whoever runs relay's functions (the application, or a superuser in a migration).
SET ROLE sec_app;
CREATE TABLE sec_evil.calls (who name, at text);
GRANT INSERT ON sec_evil.calls TO PUBLIC;
CREATE FUNCTION sec_evil.log_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'text = text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_oid_eq(a oid, b oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'oid = oid'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_regclass_eq(a regclass, b oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'regclass = oid'); RETURN a::oid OPERATOR(pg_catalog.=) b; END $$;
CREATE FUNCTION sec_evil.log_name_eq(a name, b name) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'name = name'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR sec_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.log_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = sec_evil.log_oid_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = regclass, RIGHTARG = oid, FUNCTION = sec_evil.log_regclass_eq);
CREATE OPERATOR sec_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = sec_evil.log_name_eq);
SET search_path = sec_evil, pg_catalog, public;
-- the operators work, so an unpinned relay would have called them:
SELECT 'x'::text = 'x'::text AS evil_operator_works;
SELECT count(*) AS calls_so_far FROM sec_evil.calls;
TRUNCATE sec_evil.calls;
-- as the application role:
BEGIN;
SELECT relay_set_tenant('sec_a');
SELECT count(*) AS sec_a_docs FROM public.sec_docs;
SELECT relay_audit('sec.read', 'doc', 'a1') IS NOT NULL AS audited;
COMMIT;
RESET ROLE;
-- as a superuser running a migration with the same search_path:
SET search_path = sec_evil, pg_catalog, public;
CREATE TABLE public.sec_notes (id int PRIMARY KEY, body text UNIQUE);
SELECT count(*) AS plan_steps FROM relay_tenancy_plan('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_tenancy('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_tenancy('public.sec_notes');
SELECT count(*) AS steps FROM relay_enable_audit('public.sec_notes');
SELECT relay_create_tenant('Sec C', 'sec-c', 'sec_c');
SELECT relay_suspend_tenant('sec_c');
SELECT relay_resume_tenant('sec_c');
SELECT bool_and(l LIKE 'deleted %') AS every_line_a_deletion FROM relay_delete_tenant('sec_c') l;
SELECT count(*) AS checks FROM relay_security_check();
CREATE SCHEMA sec_schema;
CREATE TABLE sec_schema.items (id int PRIMARY KEY, code text UNIQUE);
SELECT count(*) > 0 AS planned FROM relay_tenancy_schema_plan('sec_schema');
SELECT count(*) > 0 AS converted FROM relay_enable_tenancy_schema('sec_schema');
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (1, 'captured');
COMMIT;
-- The capture trigger runs as whoever made the change; what it does with raised
-- rights (the SQL writer, the hash chain) runs as the extension's owner with the
-- search_path pinned. sec_app, its operators first in search_path, changes an
-- audited table: through the native writer with the chain on, and through the SQL
-- writer (a CHECK constraint on audit_logs sends entries there):
GRANT INSERT ON public.sec_notes TO sec_app;
SELECT relay_audit_chain(true) IS NOT NULL AS chain_on;
SET ROLE sec_app;
SHOW search_path;
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (2, 'native, chained');
COMMIT;
RESET ROLE;
SELECT relay_audit_chain(false) IS NOT NULL AS chain_off;
ALTER TABLE audit_logs ADD CONSTRAINT sec_sql_path CHECK (true);
SET ROLE sec_app;
BEGIN;
SELECT relay_set_tenant('sec_b');
INSERT INTO public.sec_notes (id, body) VALUES (3, 'through SQL');
COMMIT;
RESET ROLE;
ALTER TABLE audit_logs DROP CONSTRAINT sec_sql_path;
SELECT count(*) AS steps FROM relay_disable_audit('public.sec_notes');
SELECT count(*) AS steps FROM relay_append_only('public.sec_notes');
-- the DDL guard (an event trigger) runs on every ALTER TABLE and DROP POLICY:
ALTER TABLE public.sec_notes ADD COLUMN extra int;
CREATE POLICY sec_tmp ON public.sec_notes USING (true);
DROP POLICY sec_tmp ON public.sec_notes;
-- the entry points added in 0.3.0, under the same search_path: digests and verifying
-- against one, relay_verify, the CREATE TRIGGER guard, capture switched off by hand
-- (recorded with raised rights) and relay_disable_audit's own record:
SELECT jsonb_typeof(relay_audit_digest()) AS digest;
SELECT count(*) >= 0 AS verified FROM relay_audit_verify(NULL, relay_audit_digest());
SELECT count(*) >= 0 AS findings FROM relay_verify();
-- and those added for Citus placements, cursors and SET (here without Citus: a table
-- that is no placement is refused, the checks of every node have none to run, a
-- DECLARE and a set_config pass the hooks that watch them):
SELECT relay_placement_problems('public.sec_notes') IS NULL AS isolated;
SELECT code FROM expect_error($$ SELECT relay_restore_placement('public.sec_notes') $$);
SELECT relay_node_settings() LIKE 'preloaded=true, context_mode=%' AS node_settings;
BEGIN;
DECLARE sec_cursor CURSOR FOR SELECT 1;
SELECT set_config('app.current_tenant_id', 'sec_a', true) AS set_by_set_config;
CLOSE sec_cursor;
ROLLBACK;
CREATE FUNCTION public.sec_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER sec_noop BEFORE INSERT ON public.sec_notes FOR EACH ROW EXECUTE FUNCTION public.sec_noop();
DROP TRIGGER sec_noop ON public.sec_notes;
DROP FUNCTION public.sec_noop();
SELECT count(*) AS steps FROM relay_enable_audit('public.sec_notes');
ALTER TABLE public.sec_notes DISABLE TRIGGER relay_audit_delete;
ALTER TABLE public.sec_notes ENABLE TRIGGER relay_audit_delete;
SELECT count(*) AS steps FROM relay_disable_audit('public.sec_notes');
RESET search_path;
-- sec_app's two changes were recorded, chained and not:
SELECT resource_id, tenant_id, chain_seq IS NOT NULL AS chained FROM audit_logs
 WHERE resource_type = 'public.sec_notes' AND resource_id IN ('2', '3') ORDER BY resource_id;
-- no relay function called sec_app's operators, as sec_app or as the superuser:
SELECT who, at FROM sec_evil.calls ORDER BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_app';

-- 2. Audit forgery. No trigger or event trigger function of relay's is executable
-- by PUBLIC:
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'relay_tenancy'
 WHERE p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype) ORDER BY 1;
-- The capture trigger function in particular: sec_app cannot attach it to a table of
-- its own...
SET ROLE sec_app;
CREATE TEMP TABLE forged (tenant_id text, note text);
SELECT code, message FROM expect_error($$
  CREATE TRIGGER f AFTER INSERT ON forged REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION relay_audit_capture() $$);
-- ...nor have relay attach it to a temporary table...
SELECT code, regexp_replace(message, 'pg_temp_[0-9]+', 'pg_temp_N') AS message
  FROM expect_error($$ SELECT relay_enable_audit('forged') $$);
-- ...nor write audit_logs directly, even with INSERT granted by accident (the
-- relay_writes_only policy); UPDATE and DELETE are refused by the guard.
RESET ROLE;
GRANT INSERT, UPDATE, DELETE ON audit_logs TO sec_app;
SET ROLE sec_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
SELECT code, message FROM expect_error($$ INSERT INTO audit_logs (action, created_at) VALUES ('backdated', '2001-01-01') $$);
SELECT code, message FROM expect_error($$ UPDATE audit_logs SET action = 'rewritten' $$);
SELECT code, message FROM expect_error($$ DELETE FROM audit_logs $$);
COMMIT;
RESET ROLE;
REVOKE INSERT, UPDATE, DELETE ON audit_logs FROM sec_app;
-- A table that is not tenant-enabled but has a column called tenant_id: its rows are
-- recorded in the session's tenant, never in the tenant the column names.
CREATE TABLE sec_inbox (id int PRIMARY KEY, tenant_id text, note text);
SELECT count(*) AS steps FROM relay_enable_audit('sec_inbox');
GRANT INSERT ON sec_inbox TO sec_app;
SET ROLE sec_app;
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
INSERT INTO sec_inbox VALUES (1, 'sec_b', 'planted for sec_b');
COMMIT;
RESET ROLE;
SELECT tenant_id, resource_id FROM audit_logs WHERE resource_type = 'public.sec_inbox';
-- Attached by hand (a superuser can), the trigger writes nothing for an unregistered table.
CREATE TABLE sec_unregistered (id int);
CREATE TRIGGER by_hand AFTER INSERT ON sec_unregistered REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION relay_audit_capture();
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ INSERT INTO sec_unregistered VALUES (1) $$);
-- No entry for a tenant that does not exist, or for none.
SET app.current_tenant_id = 'no-such-tenant';
SELECT code, message FROM expect_error($$ INSERT INTO sec_inbox VALUES (2, NULL, 'x') $$);
SELECT code, message FROM expect_error($$ SELECT relay_audit('x') $$);
RESET app.current_tenant_id;
SELECT code, message FROM expect_error($$ SELECT relay_audit('x') $$);
DROP TABLE sec_unregistered;
-- Called directly, a trigger function says so (and is not executable by PUBLIC).
SELECT code, message FROM expect_error($$ SELECT relay_audit_capture() $$);
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ SELECT relay_tenant_truncate_guard() $$);
RESET ROLE;

-- 3. TRUNCATE ignores row level security: it is refused to every role the table's
-- row level security applies to, even with TRUNCATE granted, and to the owner.
GRANT TRUNCATE ON sec_docs TO sec_app;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ TRUNCATE sec_docs $$);
SELECT code, message FROM expect_error($$ TRUNCATE sec_docs CASCADE $$);
RESET ROLE;
SET ROLE sec_owner;
SELECT code, message FROM expect_error($$ TRUNCATE sec_docs $$);
RESET ROLE;
SELECT count(*) AS all_tenants_rows_still_there FROM sec_docs;
-- Roles that see every tenant may truncate (here a scratch table).
CREATE TABLE sec_scratch (id int);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_scratch');
TRUNCATE sec_scratch;
REVOKE TRUNCATE ON sec_docs FROM sec_app;

-- 4. A sloppy GRANT ALL ON ALL TABLES IN SCHEMA public (relay's tables are there)
-- hands sec_app nothing of relay's: row level security with no policy, and the guards.
GRANT ALL ON ALL TABLES IN SCHEMA public TO sec_app;
-- (and TRUNCATE everywhere, so that TRUNCATE ... CASCADE reaches relay's guard rather
-- than stopping at the first referencing table it has no privilege on)
DO $$ DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'sec_evil') LOOP
    EXECUTE format('GRANT TRUNCATE ON ALL TABLES IN SCHEMA %I TO sec_app', s);
  END LOOP;
END $$;
SET ROLE sec_app;
SELECT (SELECT count(*) FROM tenants) AS tenants_seen,
       (SELECT count(*) FROM relay_tables) AS registry_seen,
       (SELECT count(*) FROM relay_audit_tables) AS audit_registry_seen;
SELECT code, message FROM expect_error($$ INSERT INTO tenants (id, name, slug) VALUES ('mine', 'Mine', 'mine') $$);
UPDATE tenants SET is_active = true RETURNING id;
DELETE FROM relay_tables RETURNING relid;
SET client_min_messages = warning;  -- (the cascade NOTICEs every referencing table)
SELECT code, message FROM expect_error($$ TRUNCATE tenants CASCADE $$);
RESET client_min_messages;
SELECT code, message FROM expect_error($$ TRUNCATE relay_tables $$);
SELECT code, message FROM expect_error($$ SELECT relay_create_tenant('Mine', 'mine') $$);
SELECT code, message FROM expect_error($$ SELECT relay_resume_tenant('sec_a') $$);
-- TRIGGER was granted too: a trigger on tenants would run with the privileges of
-- whoever writes tenants next. A role whose row level security applies cannot create
-- one (42501, the DDL guard); should one be there anyway (here a superuser attaches
-- sec_app's function), relay refuses to write a table of its own that carries a
-- stranger's trigger, and relay_security_check reports it.
CREATE FUNCTION sec_evil.on_tenants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sec_evil.calls VALUES (current_user, 'trigger on tenants'); RETURN NULL; END $$;
SELECT code, message FROM expect_error($$ CREATE TRIGGER sec_spy AFTER INSERT ON tenants FOR EACH STATEMENT EXECUTE FUNCTION sec_evil.on_tenants() $$);
RESET ROLE;
CREATE TRIGGER sec_spy AFTER INSERT ON tenants FOR EACH STATEMENT EXECUTE FUNCTION sec_evil.on_tenants();
SELECT * FROM expect_error($$ SELECT relay_create_tenant('Sec D', 'sec-d', 'sec_d') $$);
SELECT "check", ok FROM relay_security_check() WHERE NOT ok ORDER BY 1;
DROP TRIGGER sec_spy ON tenants;
DO $$ DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'sec_evil') LOOP
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM sec_app', s);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON sec_docs TO sec_app;
SELECT count(*) AS never_called FROM sec_evil.calls;

-- 5. Policy composition does not depend on creation order: tenant_isolation is
-- RESTRICTIVE, so the owner's permissive USING (true), created after enabling, is
-- ANDed with it and opens nothing.
SET ROLE sec_owner;
CREATE POLICY open_to_all ON sec_docs USING (true) WITH CHECK (true);
RESET ROLE;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT id, tenant_id FROM sec_docs ORDER BY id;
SELECT code, message FROM expect_error($$ INSERT INTO sec_docs (id, title, tenant_id) VALUES ('x', 'x', 'sec_b') $$);
RESET ROLE;
SET ROLE sec_owner;
DROP POLICY open_to_all ON sec_docs;

-- 6. The owner cannot switch isolation off: each of these is refused (42501) and
-- changes nothing.
SELECT * FROM expect_error($$ ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE ROW LEVEL SECURITY $$);
SELECT code, message FROM expect_error($$ DROP POLICY tenant_isolation ON sec_docs $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_isolation ON sec_docs USING (true) $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_isolation ON sec_docs RENAME TO was_isolation $$);
SELECT code, message FROM expect_error($$ ALTER POLICY tenant_access ON sec_docs TO sec_app $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE TRIGGER relay_tenant_truncate_guard $$);
SELECT code, message FROM expect_error($$ ALTER TABLE sec_docs DISABLE TRIGGER USER $$);
SELECT code, message FROM expect_error($$ DROP TRIGGER relay_tenant_truncate_guard ON sec_docs $$);
-- Harmless changes go through: another policy, other columns.
CREATE POLICY titled ON sec_docs AS RESTRICTIVE USING (title IS NOT NULL);
ALTER TABLE sec_docs ADD COLUMN note text;
RESET ROLE;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'sec_docs'::regclass;
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'sec_docs'::regclass ORDER BY 1;
-- A superuser can, and is warned; relay_enable_tenancy restores the table.
ALTER TABLE sec_docs NO FORCE ROW LEVEL SECURITY;
SELECT "check", ok FROM relay_security_check() WHERE "check" = 'tables_isolated';
SELECT * FROM relay_enable_tenancy('sec_docs');
SELECT "check", ok FROM relay_security_check() WHERE "check" = 'tables_isolated';

-- 7. Exclusion constraints exclude within a tenant: one tenant's booking neither
-- blocks nor reveals another's. Without btree_gist there is no gist operator class
-- for tenant_id, and relay says how to get one.
CREATE TABLE sec_bookings (id int PRIMARY KEY, room int NOT NULL, during tsrange NOT NULL,
                           EXCLUDE USING gist (during WITH &&));
\x on
SELECT * FROM expect_error($$ SELECT relay_enable_tenancy('sec_bookings') $$);
\x off
CREATE EXTENSION btree_gist;
SELECT step, statement FROM relay_tenancy_plan('sec_bookings') WHERE statement LIKE '%EXCLUDE%';
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_bookings');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sec_bookings'::regclass AND contype = 'x';
GRANT SELECT, INSERT ON sec_bookings TO sec_app;
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
INSERT INTO sec_bookings (id, room, during) VALUES (1, 7, '[2026-01-01 10:00, 2026-01-01 12:00)');
SET app.current_tenant_id = 'sec_b';
-- the same time range in another tenant: accepted, so nothing is learned about sec_a's bookings
INSERT INTO sec_bookings (id, room, during) VALUES (2, 7, '[2026-01-01 10:00, 2026-01-01 12:00)');
-- within a tenant the constraint still holds
SELECT code, message FROM expect_error($$ INSERT INTO sec_bookings (id, room, during) VALUES (3, 9, '[2026-01-01 11:00, 2026-01-01 13:00)') $$);
RESET ROLE;

-- 8. EXPLAIN ANALYZE counts the rows row level security filtered out ("Rows Removed
-- by Filter"), an oracle for other tenants' values: refused for roles subject to
-- row level security on any table the plan reads. Plain EXPLAIN is fine.
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM sec_docs WHERE secret > 'b' $$);
SELECT code, message FROM expect_error($$ EXPLAIN (ANALYZE true, BUFFERS) SELECT count(*) FROM sec_docs $$);
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE UPDATE sec_docs SET title = title WHERE id > 'a' $$);
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE SELECT * FROM audit_logs $$);
EXPLAIN (COSTS OFF) SELECT * FROM sec_docs WHERE id = 'b1';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT 1 AS no_tenant_table;
RESET ROLE;
-- through a view with security_invoker, the view's tables count
CREATE VIEW sec_docs_v WITH (security_invoker = on) AS SELECT id, title FROM sec_docs;
GRANT SELECT ON sec_docs_v TO sec_app;
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE SELECT * FROM sec_docs_v $$);
RESET ROLE;
-- roles that see every tenant may
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM sec_docs;
-- Plain EXPLAIN shows estimates from statistics over every tenant's rows: a superuser
-- can close that too with relay.restrict_explain = all.
SET relay.restrict_explain = 'all';
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ EXPLAIN (COSTS OFF) SELECT * FROM sec_docs WHERE id = 'b1' $$);
SELECT code, message FROM expect_error($$ SET relay.restrict_explain = 'analyze' $$);
RESET ROLE;
RESET relay.restrict_explain;
-- The same counts are in the per-relation statistics counters: an index probe could
-- count the entries it read, other tenants' included. PUBLIC cannot call them (in
-- this database); pg_read_all_stats (and so pg_monitor) can.
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ SELECT pg_stat_get_xact_tuples_returned('sec_docs_pkey'::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'sec_docs_pkey' $$);
RESET ROLE;
SELECT has_function_privilege('pg_read_all_stats', 'pg_stat_get_xact_tuples_returned(oid)', 'EXECUTE') AS monitoring_keeps_them;

-- 9. Re-runs keep the keys the registry records as global: a repair call without
-- global_unique never loosens users' email to per-tenant; passing another list is
-- reported.
CREATE TABLE sec_users (id int PRIMARY KEY, email text UNIQUE, handle text UNIQUE);
SELECT count(*) AS steps FROM relay_enable_tenancy('sec_users', global_unique => ARRAY['email']);
ALTER TABLE sec_users DISABLE ROW LEVEL SECURITY;
SELECT * FROM relay_enable_tenancy('sec_users');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'sec_users'::regclass AND contype = 'u' ORDER BY 1;
SELECT global_unique FROM relay_tables WHERE relid = 'sec_users'::regclass;
SELECT * FROM relay_tenancy_plan('sec_users', global_unique => '{}') ORDER BY step;

-- 10. relay_set_tenant outside a transaction block would set nothing (the statement
-- is the transaction): refused. A WITH HOLD cursor keeps rows read for the previous
-- tenant: switching away is refused until it is closed.
SET ROLE sec_app;
RESET app.current_tenant_id;
SELECT relay_set_tenant('sec_a');
SELECT relay_set_tenant('sec_a', is_local => false);
BEGIN;
DECLARE held CURSOR WITH HOLD FOR SELECT id FROM sec_docs ORDER BY id;
COMMIT;
BEGIN;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_b') $$);
SELECT relay_set_tenant('sec_a');
CLOSE held;
SELECT relay_set_tenant('sec_b');
COMMIT;
SELECT relay_clear_tenant();
-- The same across transactions, as behind a transaction pooler: a WITH HOLD cursor
-- declared under sec_a (SET LOCAL) survives COMMIT; the next transaction starts with no
-- tenant, and cannot set sec_b while the cursor is open (it would read sec_a's rows).
BEGIN;
SELECT relay_set_tenant('sec_a');
DECLARE held2 CURSOR WITH HOLD FOR SELECT id FROM sec_docs ORDER BY id;
COMMIT;
BEGIN;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_b') $$);
ROLLBACK;
BEGIN;
SELECT relay_set_tenant('sec_a');
FETCH 1 FROM held2;
COMMIT;
CLOSE held2;
-- Any cursor: one declared under sec_b, then a switch to sec_a in the same transaction.
BEGIN;
SELECT relay_set_tenant('sec_b');
DECLARE plain CURSOR FOR SELECT id FROM sec_docs ORDER BY id;
SELECT * FROM expect_error($$ SELECT relay_set_tenant('sec_a') $$);
CLOSE plain;
SELECT relay_set_tenant('sec_a');
COMMIT;
RESET ROLE;

-- 11. Bad input gets a documented SQLSTATE, not an internal error.
SELECT code, message FROM expect_error($$ SELECT relay_set_tenant('sec_a', is_local => NULL) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy(0::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_tenancy(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT * FROM relay_tenancy_plan(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_audit(999999::regclass) $$);
SELECT code, message FROM expect_error($$ SELECT relay_append_only(0::regclass) $$);
BEGIN;
SET LOCAL app.current_tenant_id = 'sec_a';
SELECT relay_audit('deep', metadata => (repeat('[', 3000) || repeat(']', 3000))::jsonb) IS NOT NULL AS deep_metadata_stored;
SELECT jsonb_typeof(metadata) FROM audit_logs WHERE action = 'deep';
COMMIT;
-- the verbs match what was asked; relay_append_only re-promotes audit_logs' own guard
-- (the DDL guard puts a demoted guard back at once; with relay's event triggers
-- switched off, relay_append_only does it)
SELECT code, message FROM expect_error($$ SELECT relay_append_only('tenants') $$);
SELECT code, message FROM expect_error($$ SELECT relay_enable_audit('relay_tables') $$);
ALTER TABLE audit_logs ENABLE TRIGGER relay_append_only_row;
SELECT tgenabled FROM pg_trigger WHERE tgname = 'relay_append_only_row' AND tgrelid = 'audit_logs'::regclass;
ALTER EVENT TRIGGER relay_ddl_guard_alter DISABLE;
ALTER TABLE audit_logs ENABLE TRIGGER relay_append_only_row;
ALTER EVENT TRIGGER relay_ddl_guard_alter ENABLE ALWAYS;
SELECT * FROM relay_append_only('audit_logs');
