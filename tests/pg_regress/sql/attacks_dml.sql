-- Row level security attacks (include/attacks_setup.sql says how they are run): DML
-- aimed at t_b's rows. INSERT ... ON CONFLICT, MERGE, UPDATE / DELETE ... RETURNING,
-- CTEs, COPY, moving a row into t_b, foreign keys.
\i include/fixtures.sql
\i include/attacks_setup.sql

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
-- (PostgreSQL 18 raises nothing here, as no row is updated; t_b's row stays as it
-- was all the same: expected-pg18/.)
SELECT * FROM expect_error($$
  INSERT INTO atk_docs (id, slug, title, secret) VALUES ('b1', 'atk-new', 'x', 'x')
  ON CONFLICT (id) DO UPDATE SET title = 'hijacked' WHERE false $$);
\x off
-- t_b's row b1 as t_b sees it: unchanged.
SET app.current_tenant_id = 't_b';
SELECT id, title, secret FROM atk_docs WHERE id = 'b1';
SET app.current_tenant_id = 't_a';
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

-- 15. Moving an own row into t_b: 42501 (WITH CHECK), the row stays in t_a.
SELECT code, message FROM expect_error($$ UPDATE atk_docs SET tenant_id = 't_b' WHERE id = 'a1' $$);
SELECT code, message FROM expect_error($$ UPDATE atk_notes SET tenant_id = 't_b' $$);
SELECT id, tenant_id FROM atk_docs WHERE id = 'a1';

-- 19. Foreign keys. Both tables are tenant-enabled, so relay made the key composite:
-- (tenant_id, doc_id) REFERENCES atk_docs (tenant_id, id). A note of t_a cannot
-- reference t_b's document; the refusal is the same 23503 as for an id that exists
-- nowhere, with no key value in the DETAIL (it is not the caller's row), so it does
-- not tell t_a that b1 exists either.
SELECT * FROM expect_error($$ INSERT INTO atk_notes (id, doc_id, body) VALUES ('na-x', 'b1', 'points at t_b') $$);
SELECT * FROM expect_error($$ INSERT INTO atk_notes (id, doc_id, body) VALUES ('na-y', 'nowhere', 'x') $$);

\i include/attacks_teardown.sql
