-- Classic row level security attacks, tried by a hostile application role that has
-- only SELECT, INSERT, UPDATE and DELETE on tenant-enabled tables. The session's
-- tenant is t_a; every attack tries to read, change or learn about t_b's rows. Each
-- block's comment says what must happen; the output shows what does. Where t_a can
-- still learn something about t_b, the comment says so: a documented limit is named
-- as such; a leak of t_b's values that is not documented is marked BREACH; a leak of
-- row counts or planner statistics that PostgreSQL gives every role is marked SIDE
-- CHANNEL.
-- Every object is named atk_* and dropped at the end.

-- Set-up, as the superuser: a table owner that is not a superuser (so FORCE ROW
-- LEVEL SECURITY applies to it), an application role, two tenants, a table with a
-- global primary key and a per-tenant unique key, a child with a foreign key, and a
-- table with an ordinary (non-unique) index on a column that is not tenant_id.
CREATE ROLE atk_owner NOLOGIN;
CREATE ROLE atk_app NOLOGIN;
INSERT INTO tenants (id, name, slug) VALUES ('t_a', 'Tenant A', 'atk-t-a'), ('t_b', 'Tenant B', 'atk-t-b');
CREATE TABLE atk_docs (id text PRIMARY KEY, slug text UNIQUE, title text, secret text);
CREATE TABLE atk_notes (id text PRIMARY KEY, doc_id text REFERENCES atk_docs (id), body text);
CREATE TABLE atk_contacts (id text PRIMARY KEY, email text);
CREATE INDEX atk_contacts_email_idx ON atk_contacts (email);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_docs');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_notes');
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('atk_contacts');
-- t_b's rows are written first, so they come first in the heap: an attack that
-- evaluated anything before the policy would meet them first.
SET app.current_tenant_id = 't_b';
INSERT INTO atk_docs (id, slug, title, secret) VALUES
  ('b1', 'shared', 'B one', 'b-secret-1'), ('b2', 'b-only', 'B two', 'b-secret-2');
INSERT INTO atk_notes (id, doc_id, body) VALUES ('nb1', 'b1', 'b note');
INSERT INTO atk_contacts (id, email)
  SELECT 'cb' || g, 'b' || lpad(g::text, 2, '0') || '@b.example' FROM generate_series(1, 20) g
  UNION ALL
  SELECT 'cb-ceo' || g, 'ceo@b.example' FROM generate_series(1, 5) g;
SET app.current_tenant_id = 't_a';
INSERT INTO atk_docs (id, slug, title, secret) VALUES
  ('a1', 'shared', 'A one', 'a-secret-1'), ('a2', 'a-only', 'A two', 'a-secret-2');
INSERT INTO atk_notes (id, doc_id, body) VALUES ('na1', 'a1', 'a note');
INSERT INTO atk_contacts (id, email)
  SELECT 'ca' || g, 'a' || lpad(g::text, 2, '0') || '@a.example' FROM generate_series(1, 20) g;
RESET app.current_tenant_id;
ALTER TABLE atk_docs OWNER TO atk_owner;
ALTER TABLE atk_notes OWNER TO atk_owner;
ALTER TABLE atk_contacts OWNER TO atk_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON atk_docs, atk_notes, atk_contacts TO atk_app;
-- What is in the tables (as the superuser, who bypasses row level security).
SELECT tenant_id, id, slug, title, secret FROM atk_docs ORDER BY id;
SELECT tenant_id, id, doc_id, body FROM atk_notes ORDER BY id;
SELECT tenant_id, count(*), min(email), max(email) FROM atk_contacts GROUP BY tenant_id ORDER BY tenant_id;

-- A snapshot of t_b's rows, to show at the end that no attack changed them.
CREATE TABLE atk_b_before AS
  SELECT 'atk_docs' AS tbl, id, row_to_json(d)::text AS r FROM atk_docs d WHERE tenant_id = 't_b'
  UNION ALL
  SELECT 'atk_notes', id, row_to_json(n)::text FROM atk_notes n WHERE tenant_id = 't_b'
  UNION ALL
  SELECT 'atk_contacts', id, row_to_json(c)::text FROM atk_contacts c WHERE tenant_id = 't_b';

-- From here on: the application role, as tenant t_a.
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

-- Baseline: t_a sees its own two documents and one note, nothing of t_b's.
SELECT id, slug, title, secret, tenant_id FROM atk_docs ORDER BY id;
SELECT id, doc_id, body, tenant_id FROM atk_notes ORDER BY id;
SELECT tenant_id, count(*) FROM atk_contacts GROUP BY tenant_id ORDER BY tenant_id;

-- 1. INSERT ... ON CONFLICT.
BEGIN;
-- DO NOTHING on t_b's primary key b1: nothing is inserted and nothing of t_b's is
-- returned or changed. Documented limit (README "Limits": primary keys stay global):
-- the row count (0 here, 1 for a free id) tells t_a that the id b1 exists.
INSERT INTO atk_docs (id, slug, title, secret) VALUES ('b1', 'atk-new', 'x', 'x')
  ON CONFLICT DO NOTHING RETURNING id, tenant_id;
INSERT INTO atk_docs (id, slug, title, secret) VALUES ('free-id', 'atk-new', 'x', 'x')
  ON CONFLICT DO NOTHING RETURNING id, tenant_id;
ROLLBACK;
-- DO UPDATE on t_b's primary key: refused with 42501 (the existing row fails the
-- policy's USING clause), no key values in the error, t_b's row unchanged. Same
-- documented limit: the error (instead of an insert) tells that b1 exists.
\x on
SELECT * FROM expect_error($$
  INSERT INTO atk_docs (id, slug, title, secret) VALUES ('b1', 'atk-new', 'x', 'x')
  ON CONFLICT (id) DO UPDATE SET title = 'hijacked', secret = atk_docs.secret $$);
-- ...also when the DO UPDATE has a WHERE clause that is false.
SELECT * FROM expect_error($$
  INSERT INTO atk_docs (id, slug, title, secret) VALUES ('b1', 'atk-new', 'x', 'x')
  ON CONFLICT (id) DO UPDATE SET title = 'hijacked' WHERE false $$);
\x off
-- Per-tenant unique keys do not conflict across tenants: t_a can use t_b's slug
-- 'b-only' (no error, nothing of t_b's learnt), and an ON CONFLICT on the slug key
-- (now (tenant_id, slug)) only ever meets t_a's own rows.
BEGIN;
INSERT INTO atk_docs (id, slug, title, secret) VALUES ('a3', 'b-only', 'A three', 'a-secret-3')
  ON CONFLICT (tenant_id, slug) DO NOTHING RETURNING id, slug, tenant_id;
INSERT INTO atk_docs (id, slug, title, secret) VALUES ('a4', 'shared', 'x', 'x')
  ON CONFLICT (tenant_id, slug) DO UPDATE SET title = 'A one, updated' RETURNING id, slug, title, tenant_id;
ROLLBACK;
-- The slug alone is no longer a unique key, so ON CONFLICT (slug) cannot probe other
-- tenants' slugs: 42P10.
SELECT code, message FROM expect_error($$
  INSERT INTO atk_docs (id, slug) VALUES ('a5', 'b-only') ON CONFLICT (slug) DO NOTHING $$);
-- A plain INSERT of t_b's primary key: 23505 with no DETAIL (row level security hides
-- the key values). Documented limit: the error tells that the id exists.
SELECT * FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('b1', 'atk-new') $$);
-- ON CONFLICT DO UPDATE that moves t_a's own row into t_b: 42501 (WITH CHECK).
SELECT code, message FROM expect_error($$
  INSERT INTO atk_docs (id, slug) VALUES ('a1', 'x') ON CONFLICT (id) DO UPDATE SET tenant_id = 't_b' $$);

-- 2. MERGE whose ON clause matches t_b's ids: t_b's rows are not matched (the policy
-- hides them), so WHEN MATCHED updates and deletes nothing.
BEGIN;
MERGE INTO atk_docs d USING (VALUES ('b1', 'hijacked'), ('b2', 'hijacked')) s(id, title) ON d.id = s.id
  WHEN MATCHED THEN UPDATE SET title = s.title;
MERGE INTO atk_docs d USING (VALUES ('b1'), ('b2')) s(id) ON d.id = s.id
  WHEN MATCHED THEN DELETE;
-- A MERGE matching on the slug, with the source reading the table itself, only meets
-- t_a's rows: a1 (slug 'shared', which t_b has too) is updated, nothing else.
MERGE INTO atk_docs d USING (SELECT slug FROM atk_docs) s ON d.slug = s.slug
  WHEN MATCHED AND d.slug = 'shared' THEN UPDATE SET title = d.title || ' (merged)';
SELECT id, title, tenant_id FROM atk_docs ORDER BY id;
ROLLBACK;
-- With WHEN NOT MATCHED THEN INSERT, t_b's id counts as not matched and the insert
-- meets the global primary key: 23505 with no DETAIL (documented limit: existence).
SELECT code, message, detail FROM expect_error($$
  MERGE INTO atk_docs d USING (VALUES ('b1', 'hijacked')) s(id, title) ON d.id = s.id
    WHEN MATCHED THEN UPDATE SET title = s.title
    WHEN NOT MATCHED THEN INSERT (id, title) VALUES (s.id, s.title) $$);
-- A MERGE cannot insert into t_b: 42501.
SELECT code, message FROM expect_error($$
  MERGE INTO atk_docs d USING (VALUES ('new-b')) s(id) ON d.id = s.id
    WHEN NOT MATCHED THEN INSERT (id, tenant_id) VALUES (s.id, 't_b') $$);

-- 3. UPDATE / DELETE ... RETURNING aimed at t_b's rows: nothing returned, nothing
-- changed.
BEGIN;
UPDATE atk_docs SET title = 'hijacked' WHERE id IN ('b1', 'b2') RETURNING id, secret;
UPDATE atk_docs SET title = 'hijacked' WHERE tenant_id = 't_b' RETURNING id, secret;
DELETE FROM atk_docs WHERE id LIKE 'b%' RETURNING id, secret;
DELETE FROM atk_notes WHERE doc_id = 'b1' RETURNING *;
-- An unqualified UPDATE ... RETURNING reaches t_a's rows only.
UPDATE atk_docs SET title = upper(title) RETURNING id, title, tenant_id;
-- UPDATE ... FROM the table itself, to copy t_b's secret into t_a's row: the FROM
-- item is filtered too, so nothing matches.
UPDATE atk_docs a SET secret = b.secret FROM atk_docs b
 WHERE a.id = 'a1' AND b.id = 'b1' RETURNING a.id, a.secret;
-- DELETE ... USING joined to t_b's note: nothing.
DELETE FROM atk_docs d USING atk_notes n WHERE n.doc_id = d.id AND n.id = 'nb1' RETURNING d.id;
ROLLBACK;

-- 4. CTEs. Writable CTEs aimed at t_b delete and update nothing; a CTE reading the
-- table (materialized or not) sees t_a's rows only.
WITH d AS (DELETE FROM atk_docs WHERE id IN ('b1', 'b2') RETURNING *) SELECT count(*) AS deleted FROM d;
WITH u AS (UPDATE atk_docs SET secret = 'x' WHERE tenant_id = 't_b' RETURNING *) SELECT count(*) AS updated FROM u;
WITH d AS (DELETE FROM atk_notes WHERE id = 'nb1' RETURNING *)
SELECT (SELECT count(*) FROM d) AS deleted, (SELECT count(*) FROM atk_notes) AS notes_visible;
WITH all_docs AS MATERIALIZED (SELECT * FROM atk_docs) SELECT id, secret FROM all_docs ORDER BY id;
WITH all_docs AS NOT MATERIALIZED (SELECT * FROM atk_docs) SELECT id, secret FROM all_docs WHERE id LIKE 'b%' ORDER BY id;
-- A writable CTE that inserts into t_b: 42501.
SELECT code, message FROM expect_error($$
  WITH i AS (INSERT INTO atk_docs (id, tenant_id) VALUES ('new-b', 't_b') RETURNING *) SELECT * FROM i $$);

-- 5. Cursors across tenant switches.
-- A cursor declared under t_a and first fetched after SET LOCAL to t_b: the query
-- starts at the first FETCH, so it shows t_b's rows, as any query run under t_b would;
-- it never mixes tenants.
BEGIN;
SET LOCAL app.current_tenant_id = 't_a';
DECLARE atk_c1 CURSOR FOR SELECT id, tenant_id FROM atk_docs ORDER BY id;
SET LOCAL app.current_tenant_id = 't_b';
FETCH ALL FROM atk_c1;
COMMIT;
-- A cursor fetched once under t_a keeps t_a's tenant for the rest of its rows after
-- the switch (the policy reads the tenant once, when the query starts): it never
-- mixes tenants.
BEGIN;
SET LOCAL app.current_tenant_id = 't_a';
DECLARE atk_c2 CURSOR FOR SELECT id, tenant_id FROM atk_docs ORDER BY id;
FETCH 1 FROM atk_c2;
SET LOCAL app.current_tenant_id = 't_b';
FETCH ALL FROM atk_c2;
COMMIT;
-- A WITH HOLD cursor declared under t_a is filled with t_a's rows when its transaction
-- commits; fetched after a plain SET to t_b, it still returns t_a's rows (and only
-- them). This is why such cursors must be closed (or DISCARD ALL run) before a
-- connection is handed to another tenant.
SET app.current_tenant_id = 't_a';
DECLARE atk_h1 CURSOR WITH HOLD FOR SELECT id, secret, tenant_id FROM atk_docs ORDER BY id;
SET app.current_tenant_id = 't_b';
FETCH ALL FROM atk_h1;
-- relay_set_tenant refuses to set any tenant but the one a still-open cursor was
-- declared under (55000): here t_b, although a plain SET made it current already.
\x on
SELECT * FROM expect_error($$ SELECT relay_set_tenant('t_b', false) $$);
\x off
CLOSE atk_h1;
-- After DISCARD ALL (which also ends SET ROLE), the holdable cursor is gone: 34000.
SET app.current_tenant_id = 't_a';
DECLARE atk_h2 CURSOR WITH HOLD FOR SELECT id, secret FROM atk_docs ORDER BY id;
DISCARD ALL;
SET ROLE atk_app;
SET app.current_tenant_id = 't_b';
SELECT code, message FROM expect_error($$ FETCH ALL FROM atk_h2 $$);

-- 6. Prepared statements across tenant switches: every EXECUTE sees only the tenant
-- current at that EXECUTE, although the plan is built once and cached (a statement
-- without parameters always runs its generic plan; force_generic_plan makes one with
-- parameters do the same), also with SET LOCAL switches inside one transaction.
PREPARE atk_p1 AS
  SELECT current_setting('app.current_tenant_id') AS tenant, string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET app.current_tenant_id = 't_a';
EXECUTE atk_p1;
SET plan_cache_mode = force_generic_plan;
PREPARE atk_p2(text) AS
  SELECT current_setting('app.current_tenant_id') AS tenant, $1 AS asked,
         string_agg(id || ':' || secret, ',' ORDER BY id) AS found FROM atk_docs WHERE id = $1;
EXECUTE atk_p2('b1');
EXECUTE atk_p2('a1');
SET app.current_tenant_id = 't_b';
EXECUTE atk_p2('b1');
EXECUTE atk_p2('a1');
SET app.current_tenant_id = 't_a';
EXECUTE atk_p2('b1');
BEGIN;
SET LOCAL app.current_tenant_id = 't_b';
EXECUTE atk_p1;
SET LOCAL app.current_tenant_id = 't_a';
EXECUTE atk_p1;
COMMIT;
-- Both ran on generic plans, built once and reused for both tenants.
SELECT name, generic_plans > 0 AS generic, custom_plans FROM pg_prepared_statements
 WHERE name IN ('atk_p1', 'atk_p2') ORDER BY name;
RESET plan_cache_mode;
DEALLOCATE atk_p1;
DEALLOCATE atk_p2;

-- 7. Views.
RESET ROLE;
CREATE VIEW atk_v_definer AS SELECT id, secret, tenant_id FROM atk_docs;
CREATE VIEW atk_v_invoker WITH (security_invoker = on) AS SELECT id, secret, tenant_id FROM atk_docs;
CREATE VIEW atk_v_owned AS SELECT id, secret, tenant_id FROM atk_docs;
ALTER VIEW atk_v_owned OWNER TO atk_owner;
GRANT SELECT ON atk_v_definer, atk_v_invoker, atk_v_owned TO atk_app;
SET ROLE atk_app;
-- A view owned by the superuser, without security_invoker, reads the table with its
-- owner's rights, and the superuser bypasses row level security: t_a sees t_b's rows
-- through it. Documented deployment rule (README "Limits"): views over tenant tables
-- need security_invoker = on, or an owner that does not bypass row level security.
SELECT id, secret, tenant_id FROM atk_v_definer ORDER BY id;
-- The same view with security_invoker = on: t_a's rows only.
SELECT id, secret, tenant_id FROM atk_v_invoker ORDER BY id;
-- The same view owned by the table's (non-superuser) owner: t_a's rows only, because
-- FORCE ROW LEVEL SECURITY applies to the owner too.
SELECT id, secret, tenant_id FROM atk_v_owned ORDER BY id;

-- 8. SECURITY DEFINER functions.
RESET ROLE;
CREATE FUNCTION atk_ids_as_owner() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT string_agg(id || ':' || secret, ',' ORDER BY id) FROM atk_docs $$;
ALTER FUNCTION atk_ids_as_owner() OWNER TO atk_owner;
CREATE FUNCTION atk_ids_as_superuser() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT string_agg(id || ':' || secret, ',' ORDER BY id) FROM atk_docs $$;
SET ROLE atk_app;
-- Owned by the table's owner: runs as atk_owner, which FORCE ROW LEVEL SECURITY
-- isolates: t_a's rows only.
SELECT atk_ids_as_owner();
-- Owned by the superuser: bypasses row level security and returns t_b's rows too.
-- The deployment rule for views holds here as well: SECURITY DEFINER code that reads
-- tenant tables must be owned by a role that does not bypass row level security.
SELECT atk_ids_as_superuser();

-- 9. Leaky functions and operators, written by the application role itself in its
-- temporary schema (every role may create temporary objects by default). The policy
-- is applied before any function that is not LEAKPROOF, however cheap it claims to
-- be, so only t_a's secrets reach the notices (t_b's rows come first in the heap).
CREATE FUNCTION pg_temp.atk_leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leaked: %', $1;
  RETURN true;
END $$;
SELECT id FROM atk_docs WHERE pg_temp.atk_leak(secret) ORDER BY id;
SELECT id FROM atk_docs WHERE pg_temp.atk_leak(secret) AND id = 'b1';
SELECT id FROM atk_v_invoker WHERE pg_temp.atk_leak(secret) ORDER BY id;
SELECT n.id FROM atk_notes n JOIN atk_docs d ON d.id = n.doc_id
 WHERE pg_temp.atk_leak(d.secret || ' / ' || n.body) ORDER BY n.id;
-- The same as an operator.
CREATE FUNCTION pg_temp.atk_leak_op(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leaked by operator: %', $1;
  RETURN $1 <> $2;
END $$;
CREATE OPERATOR pg_temp.<<>> (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_temp.atk_leak_op);
SELECT id FROM atk_docs WHERE secret OPERATOR(pg_temp.<<>>) 'nothing' ORDER BY id;
-- Only a superuser may mark a function LEAKPROOF (which would let it run first): 42501.
SELECT code, message FROM expect_error($$
  CREATE FUNCTION pg_temp.atk_leakproof(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true' $$);
-- Errors as a side channel: a cast that fails shows the value it failed on; that
-- value can only be one of t_a's secrets.
SELECT code, message FROM expect_error($$ SELECT count(*) FROM atk_docs WHERE secret::int > 0 $$);
-- A division by zero that would happen only on t_b's secret never happens...
SELECT count(*) FROM atk_docs WHERE 1 / (CASE WHEN secret = 'b-secret-1' THEN 0 ELSE 1 END) = 1;
-- ...while the same probe on t_a's own secret does fail: the probe works, on t_a's
-- rows only.
SELECT code, message FROM expect_error($$
  SELECT count(*) FROM atk_docs WHERE 1 / (CASE WHEN secret = 'a-secret-1' THEN 0 ELSE 1 END) = 1 $$);

-- 10. COPY. COPY TO copies t_a's rows only.
COPY atk_docs TO STDOUT;
COPY atk_docs (id, secret, tenant_id) TO STDOUT WITH (FORMAT csv, HEADER);
COPY (SELECT id, secret FROM atk_docs WHERE tenant_id = 't_b') TO STDOUT;
-- COPY FROM a row with tenant_id t_b: PostgreSQL refuses COPY FROM outright on a
-- table whose row level security applies (0A000, hint: use INSERT), so no row is
-- read; an INSERT of that row is refused by the policy's WITH CHECK (42501).
COPY atk_docs (id, slug, title, secret, tenant_id) FROM STDIN;
planted	planted	planted	planted	t_b
\.
SELECT code, message FROM expect_error($$
  INSERT INTO atk_docs (id, slug, title, secret, tenant_id) VALUES ('planted', 'planted', 'planted', 'planted', 't_b') $$);

-- 11. Turning row level security off for the session: the setting is allowed, but
-- every query the policies would affect then fails with 42501 instead of returning
-- every row.
SET row_security = off;
SELECT code, message FROM expect_error($$ SELECT count(*) FROM atk_docs $$);
SELECT code, message FROM expect_error($$ UPDATE atk_docs SET title = title $$);
RESET row_security;

-- 12. Skipping triggers (foreign-key checks and relay's guards among them) with
-- session_replication_role: superuser only, 42501; the setting stays origin.
SELECT code, message FROM expect_error($$ SET session_replication_role = replica $$);
SHOW session_replication_role;

-- Other ways out that need more than DML: each refused with 42501 (must be owner,
-- permission denied, or superuser only). Run in a transaction rolled back at the end,
-- so that nothing could stay behind even if one got through.
BEGIN;
SELECT s.n, s.attempt, e.code, e.message
  FROM (VALUES
    (1, 'disable RLS', $$ ALTER TABLE atk_docs DISABLE ROW LEVEL SECURITY $$),
    (2, 'unforce RLS', $$ ALTER TABLE atk_docs NO FORCE ROW LEVEL SECURITY $$),
    (3, 'drop policy', $$ DROP POLICY tenant_isolation ON atk_docs $$),
    (4, 'open policy', $$ CREATE POLICY atk_open ON atk_docs USING (true) $$),
    (5, 'alter policy', $$ ALTER POLICY tenant_isolation ON atk_docs USING (true) $$),
    (6, 'truncate', $$ TRUNCATE atk_docs $$),
    (7, 'inherit', $$ CREATE TEMP TABLE atk_child () INHERITS (atk_docs) $$),
    (8, 'drop default', $$ ALTER TABLE atk_docs ALTER tenant_id DROP DEFAULT $$),
    (9, 'bypassrls', $$ ALTER ROLE atk_app BYPASSRLS $$),
    (10, 'read tenants', $$ SELECT count(*) FROM tenants $$),
    (11, 'read relay_tables', $$ SELECT count(*) FROM relay_tables $$),
    (12, 'read pg_statistic', $$ SELECT count(*) FROM pg_statistic $$),
    (13, 'create table', $$ CREATE TABLE atk_mine (id int) $$),
    (14, 'trigger', $$ CREATE TRIGGER atk_trg BEFORE INSERT ON atk_docs FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger() $$),
    (15, 'rule', $$ CREATE RULE atk_rule AS ON INSERT TO atk_docs DO INSTEAD NOTHING $$),
    (16, 'load auto_explain', $$ LOAD 'auto_explain' $$)
  ) s(n, attempt, stmt), LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
ROLLBACK;
-- Documented PostgreSQL behavior, not an isolation breach: UPDATE or DELETE privilege
-- is enough to LOCK TABLE in any mode, so one tenant's session can block every
-- tenant's queries on the table until its transaction ends (availability, not
-- confidentiality; statement_timeout / lock_timeout bound it).
BEGIN;
LOCK TABLE atk_docs IN ACCESS EXCLUSIVE MODE;
SELECT mode, granted FROM pg_locks WHERE relation = 'atk_docs'::regclass AND pid = pg_backend_pid() ORDER BY mode;
ROLLBACK;
-- If TRUNCATE (which ignores row level security) is granted by mistake, relay's
-- TRUNCATE guard refuses it to every role row level security applies to: 42501.
-- (atk_contacts: no foreign key points at it, which would refuse TRUNCATE first.)
RESET ROLE;
GRANT TRUNCATE ON atk_contacts TO atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';
BEGIN;
\x on
SELECT * FROM expect_error($$ TRUNCATE atk_contacts $$);
\x off
ROLLBACK;
RESET ROLE;
REVOKE TRUNCATE ON atk_contacts FROM atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

-- 13. Becoming the table's owner, or the superuser. SET ROLE checks the session user,
-- so the application role is made the session user here, as a real login would be:
-- it is a member of neither role, so 42501 for both.
RESET ROLE;
SET SESSION AUTHORIZATION atk_app;
SET app.current_tenant_id = 't_a';
SELECT session_user, current_user;
SELECT code, message FROM expect_error($$ SET ROLE atk_owner $$);
SELECT code, message FROM expect_error($$ SET ROLE postgres $$);
SELECT current_user;
RESET SESSION AUTHORIZATION;
-- Even a member of the owner role is isolated as the owner (FORCE ROW LEVEL
-- SECURITY): t_a's rows only, t_b's rows not updatable...
GRANT atk_owner TO atk_app;
SET SESSION AUTHORIZATION atk_app;
SET app.current_tenant_id = 't_a';
SET ROLE atk_owner;
SELECT current_user, string_agg(id || ':' || secret, ',' ORDER BY id) AS visible FROM atk_docs;
UPDATE atk_docs SET title = 'hijacked' WHERE id = 'b1' RETURNING id;
-- ...and relay's TRUNCATE guard refuses TRUNCATE to the owner as well (42501).
BEGIN;
SELECT code, message FROM expect_error($$ TRUNCATE atk_contacts $$);
ROLLBACK;
-- The owner may ALTER its table, but relay's DDL guard refuses a non-superuser DDL
-- that switches isolation off (NO FORCE or DISABLE ROW LEVEL SECURITY, dropping
-- relay's policy or its TRUNCATE guard): 42501, and the owner still sees t_a's rows
-- only. (Each in a transaction rolled back, in case one got through.)
BEGIN;
SELECT code, message FROM expect_error($$ ALTER TABLE atk_docs NO FORCE ROW LEVEL SECURITY $$);
SELECT current_user, string_agg(id || ':' || secret, ',' ORDER BY id) AS visible FROM atk_docs;
ROLLBACK;
BEGIN;
SELECT s.attempt, e.code, e.message
  FROM (VALUES
    (1, 'disable RLS', $$ ALTER TABLE atk_docs DISABLE ROW LEVEL SECURITY $$),
    (2, 'drop policy', $$ DROP POLICY tenant_isolation ON atk_docs $$),
    (3, 'drop truncate guard', $$ DROP TRIGGER relay_tenant_truncate_guard ON atk_docs $$)
  ) s(n, attempt, stmt), LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
ROLLBACK;
RESET ROLE;
RESET SESSION AUTHORIZATION;
REVOKE atk_owner FROM atk_app;
SET ROLE atk_app;
SET app.current_tenant_id = 't_a';

-- 14. Planner statistics. After ANALYZE (and extended statistics with an MCV list),
-- the application role sees no row of pg_stats or pg_stats_ext for the table (both
-- hide tables whose row level security applies to the reader), and cannot read
-- pg_statistic or pg_statistic_ext_data at all.
RESET ROLE;
CREATE STATISTICS atk_docs_stats (mcv) ON title, secret FROM atk_docs;
ANALYZE atk_docs;
ANALYZE atk_contacts;
SELECT count(*) AS superuser_sees FROM pg_stats WHERE tablename = 'atk_docs';
SET ROLE atk_app;
SELECT count(*) AS pg_stats_rows FROM pg_stats WHERE tablename IN ('atk_docs', 'atk_contacts');
SELECT attname, most_common_vals FROM pg_stats WHERE tablename = 'atk_contacts' ORDER BY attname;
SELECT count(*) AS pg_stats_ext_rows FROM pg_stats_ext WHERE tablename = 'atk_docs';
SELECT code, message FROM expect_error($$ SELECT stavalues1 FROM pg_statistic $$);
SELECT code, message FROM expect_error($$ SELECT stxdmcv FROM pg_statistic_ext_data $$);

-- 15. Moving an own row into t_b: 42501 (WITH CHECK), the row stays in t_a.
SELECT code, message FROM expect_error($$ UPDATE atk_docs SET tenant_id = 't_b' WHERE id = 'a1' $$);
SELECT code, message FROM expect_error($$ UPDATE atk_notes SET tenant_id = 't_b' $$);
SELECT id, tenant_id FROM atk_docs WHERE id = 'a1';

-- 16. No tenant set: nothing visible, nothing changed, and an INSERT fails (55000).
RESET app.current_tenant_id;
SELECT count(*) AS docs, (SELECT count(*) FROM atk_notes) AS notes FROM atk_docs;
UPDATE atk_docs SET title = 'hijacked' RETURNING id;
DELETE FROM atk_docs RETURNING id;
SELECT code, message FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
-- An empty tenant counts as none.
SET app.current_tenant_id = '';
SELECT count(*) AS docs FROM atk_docs;
SELECT code FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
-- A tenant value that tries SQL injection, or differs from t_b only in case or
-- spacing, matches nothing (the policy compares with =); an insert under it is
-- refused by the foreign key to tenants (23503).
SET app.current_tenant_id = $$t_a' OR '1' = '1$$;
SELECT count(*) AS docs FROM atk_docs;
SELECT code FROM expect_error($$ INSERT INTO atk_docs (id, slug) VALUES ('new', 'new') $$);
SET app.current_tenant_id = 'T_B';
SELECT count(*) AS docs FROM atk_docs;
SET app.current_tenant_id = ' t_b';
SELECT count(*) AS docs FROM atk_docs;
SET app.current_tenant_id = 't_a';

-- 17. Other ways to read: TABLE, TABLESAMPLE, a tuple id probe at t_b's first tuple,
-- scalar sub-selects, EXISTS, LATERAL, aggregates, window functions, GROUP BY
-- ROLLUP, CREATE TABLE AS into a temporary table, and parallel workers. Each sees
-- t_a's rows only.
TABLE atk_docs ORDER BY id;
SELECT id FROM atk_docs TABLESAMPLE SYSTEM (100) REPEATABLE (0) ORDER BY id;
SELECT id FROM atk_docs WHERE ctid = '(0,1)';
SELECT (SELECT secret FROM atk_docs WHERE id = 'b1') AS b1_secret,
       EXISTS (SELECT 1 FROM atk_docs WHERE id = 'b1') AS b1_visible,
       (SELECT count(*) FROM atk_docs WHERE tenant_id <> 't_a') AS other_tenants_rows;
SELECT n.id, d.id AS doc, d.secret
  FROM (VALUES ('nb1'), ('na1')) v(note), LATERAL (SELECT * FROM atk_notes WHERE id = v.note) n,
       LATERAL (SELECT * FROM atk_docs WHERE id = n.doc_id) d ORDER BY n.id;
SELECT count(*), string_agg(secret, ',' ORDER BY secret), min(id), max(id) FROM atk_docs;
SELECT id, count(*) OVER () AS total, row_number() OVER (ORDER BY id) FROM atk_docs ORDER BY id;
SELECT tenant_id, count(*) FROM atk_docs GROUP BY ROLLUP (tenant_id) ORDER BY tenant_id;
CREATE TEMP TABLE atk_copy AS SELECT * FROM atk_docs;
SELECT id, tenant_id FROM atk_copy ORDER BY id;
BEGIN;
SET LOCAL force_parallel_mode = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
SELECT count(*) AS contacts_visible FROM atk_contacts;
COMMIT;

-- 18. Row locks. SELECT ... FOR UPDATE / FOR SHARE NOWAIT of t_b's row returns no
-- row and takes no lock on it (so it neither waits nor fails while t_b holds one).
BEGIN;
SELECT id FROM atk_docs WHERE id = 'b1' FOR UPDATE NOWAIT;
SELECT id FROM atk_docs WHERE id IN ('a1', 'b1') FOR SHARE NOWAIT;
ROLLBACK;

-- 19. Foreign keys. Both tables are tenant-enabled, so relay made the key composite:
-- (tenant_id, doc_id) REFERENCES atk_docs (tenant_id, id). A note of t_a cannot
-- reference t_b's document; the refusal is the same 23503 as for an id that exists
-- nowhere, with no key value in the DETAIL (it is not the caller's row), so it does
-- not tell t_a that b1 exists either.
SELECT * FROM expect_error($$ INSERT INTO atk_notes (id, doc_id, body) VALUES ('na-x', 'b1', 'points at t_b') $$);
SELECT * FROM expect_error($$ INSERT INTO atk_notes (id, doc_id, body) VALUES ('na-y', 'nowhere', 'x') $$);

-- 20. search_path tricks: a temporary relay_policy_tenant that returns t_b, and a
-- temporary table named tenants with a tenant of the attacker's own, change nothing:
-- the policy refers to relay's function by oid, and relay reads its own tables
-- without the caller's search_path (unknown tenant: 22023).
CREATE FUNCTION pg_temp.relay_policy_tenant(regclass) RETURNS text LANGUAGE sql AS $$ SELECT 't_b' $$;
CREATE TEMP TABLE tenants (id text, is_active boolean);
INSERT INTO tenants VALUES ('t_evil', true);
SET search_path = pg_temp, public;
SELECT string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
BEGIN;
SELECT code FROM expect_error($$ SELECT relay_set_tenant('t_evil') $$);
COMMIT;
RESET search_path;
DROP TABLE pg_temp.tenants;
DROP FUNCTION pg_temp.relay_policy_tenant(regclass);

-- 21. EXPLAIN ANALYZE, whose row counts (Rows Removed by Filter) include the rows the
-- policy hides: relay refuses it (42501) for roles row level security applies to,
-- also through a view, a prepared statement, a sub-select and CREATE TABLE AS, and
-- for UPDATE. Plain EXPLAIN, and EXPLAIN ANALYZE of queries on no such table, stay
-- allowed.
\x on
SELECT * FROM expect_error($$ EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM atk_docs $$);
\x off
PREPARE atk_p3 AS SELECT * FROM atk_docs;
SELECT s.attempt, e.code, e.message
  FROM (VALUES
    (1, 'view', $$ EXPLAIN (ANALYZE) SELECT * FROM atk_v_invoker $$),
    (2, 'prepared', $$ EXPLAIN (ANALYZE) EXECUTE atk_p3 $$),
    (3, 'sub-select', $$ EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1 WHERE EXISTS (SELECT FROM atk_contacts) $$),
    (4, 'create table as', $$ EXPLAIN (ANALYZE) CREATE TEMP TABLE atk_x AS SELECT * FROM atk_docs $$),
    (5, 'update', $$ EXPLAIN (ANALYZE) UPDATE atk_docs SET title = title $$),
    (6, 'plain explain', $$ EXPLAIN SELECT * FROM atk_docs $$),
    (7, 'no tenant table', $$ EXPLAIN (ANALYZE) SELECT 1 $$)
  ) s(n, attempt, stmt), LATERAL expect_error(s.stmt) e
 ORDER BY s.n;
DEALLOCATE atk_p3;

-- 22. The same row counts without EXPLAIN: the statistics functions every role may
-- call count the index entries a scan returned and the heap tuples it read, before
-- row level security filters them. With a non-unique index on a column other than
-- tenant_id (atk_contacts.email), t_a can test any value, or any range of values, for
-- t_b's rows: the probe returns no row, but the index counted t_b's entries.
-- This was a breach (found by this test): t_a learned that t_b has 5 contacts with
-- email 'ceo@b.example', none with 'cfo@b.example', and how many t_b emails fall in
-- any range. Closed: CREATE EXTENSION relay_tenancy takes the per-relation counters
-- from PUBLIC (pg_read_all_stats keeps them), so both probes fail with 42501.
-- (The probe steers the planner to that index with settings any role may change, and
-- uses a generic plan so that planning itself reads no index entries.)
CREATE FUNCTION pg_temp.atk_index_probe(lo text, hi text, OUT visible bigint, OUT index_entries bigint)
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE before bigint := pg_stat_get_xact_tuples_returned('atk_contacts_email_idx'::regclass);
BEGIN
  SELECT count(*) INTO visible FROM atk_contacts WHERE email >= lo AND email <= hi;
  index_entries := pg_stat_get_xact_tuples_returned('atk_contacts_email_idx'::regclass) - before;
END $$;
SELECT code, message FROM expect_error($$ SELECT * FROM pg_temp.atk_index_probe('ceo@b.example', 'ceo@b.example') $$);
-- A sequential scan counted every tenant's tuples too (t_a sees 2 documents, the scan
-- read 4): closed the same way.
CREATE FUNCTION pg_temp.atk_seq_probe(OUT visible bigint, OUT tuples_read bigint)
LANGUAGE plpgsql SET enable_indexscan = off SET enable_bitmapscan = off AS $$
DECLARE before bigint := pg_stat_get_xact_tuples_returned('atk_docs'::regclass);
BEGIN
  SELECT count(*) INTO visible FROM atk_docs;
  tuples_read := pg_stat_get_xact_tuples_returned('atk_docs'::regclass) - before;
END $$;
SELECT code, message FROM expect_error($$ SELECT * FROM pg_temp.atk_seq_probe() $$);

-- 23. SIDE CHANNELS that remain (PostgreSQL behavior, not documented in README
-- "Limits"): pg_class, readable by every role, has each table's total row count after
-- ANALYZE (t_a sees 2 documents and 20 contacts; reltuples says 4 and 45);
SELECT relname, reltuples FROM pg_class WHERE relname IN ('atk_docs', 'atk_contacts') ORDER BY relname;
-- and plain EXPLAIN (allowed) estimates rows from the table's statistics, which cover
-- every tenant: the estimate is higher for a value t_b has many times
-- ('ceo@b.example') than for one nobody has ('cfo@b.example').
CREATE FUNCTION pg_temp.atk_estimate(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END $$;
SELECT v.email, pg_temp.atk_estimate(format('SELECT * FROM atk_contacts WHERE email = %L', v.email)) AS estimated_rows,
       (SELECT count(*) FROM atk_contacts c WHERE c.email = v.email) AS visible
  FROM (VALUES ('ceo@b.example'), ('cfo@b.example')) v(email) ORDER BY v.email;

-- 24. The tenant setting itself is not protected in the default (open) context mode
-- (README "Limits", reference NOTES 6): a role that can run SET can name any tenant
-- and then sees its rows. The tenant must come from a trusted layer (the application
-- server or the pooler), never from the end user.
SET app.current_tenant_id = 't_b';
SELECT string_agg(id, ',' ORDER BY id) AS visible FROM atk_docs;
SET app.current_tenant_id = 't_a';

-- After every attack: t_b's rows are exactly as they were.
RESET ROLE;
RESET app.current_tenant_id;
SELECT b.tbl, count(*) AS rows,
       bool_and(b.r = (SELECT row_to_json(d)::text FROM atk_docs d WHERE b.tbl = 'atk_docs' AND d.id = b.id
                       UNION ALL SELECT row_to_json(n)::text FROM atk_notes n WHERE b.tbl = 'atk_notes' AND n.id = b.id
                       UNION ALL SELECT row_to_json(c)::text FROM atk_contacts c WHERE b.tbl = 'atk_contacts' AND c.id = b.id))
         AS unchanged
  FROM atk_b_before b GROUP BY b.tbl ORDER BY b.tbl;
SELECT 'atk_docs' AS tbl, tenant_id, count(*) FROM atk_docs GROUP BY tenant_id
UNION ALL SELECT 'atk_notes', tenant_id, count(*) FROM atk_notes GROUP BY tenant_id
UNION ALL SELECT 'atk_contacts', tenant_id, count(*) FROM atk_contacts GROUP BY tenant_id
ORDER BY 1, 2;

-- Clean up, so later tests see none of this.
DROP VIEW atk_v_definer, atk_v_invoker;
DROP FUNCTION atk_ids_as_superuser();
DROP TABLE atk_b_before;
DELETE FROM relay_tables WHERE relid IN ('atk_docs'::regclass, 'atk_notes'::regclass, 'atk_contacts'::regclass);
DROP OWNED BY atk_app, atk_owner;
DELETE FROM tenants WHERE id IN ('t_a', 't_b');
DROP ROLE atk_app, atk_owner;
