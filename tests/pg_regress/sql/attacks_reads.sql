-- Row level security attacks (include/attacks_setup.sql says how they are run): other
-- ways to read t_b's rows, and row locks.
\i include/fixtures.sql
\i include/attacks_setup.sql

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
-- (force_parallel_mode, called debug_parallel_query from PostgreSQL 16 on)
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', true) AS parallel;
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

\i include/attacks_teardown.sql
