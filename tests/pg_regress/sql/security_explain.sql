-- Security (how these tests run: include/security_setup.sql): EXPLAIN ANALYZE and the
-- statistics counters.
\i include/fixtures.sql
\i include/security_setup.sql

-- (the owner's restrictive policy of block 6, in security_owner, made here too: the
-- plan below shows it)
SET ROLE sec_owner;
CREATE POLICY titled ON sec_docs AS RESTRICTIVE USING (title IS NOT NULL);
RESET ROLE;
-- 8. EXPLAIN ANALYZE counts the rows row level security filtered out ("Rows Removed
-- by Filter"), an oracle for other tenants' values: refused for roles subject to
-- row level security on any table the plan reads. Plain EXPLAIN is fine.
SET ROLE sec_app;
SET app.current_tenant_id = 'sec_a';
SELECT * FROM expect_error($$ EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM sec_docs WHERE secret > 'b' $$);
SELECT code, message FROM expect_error($$ EXPLAIN (ANALYZE true, BUFFERS) SELECT count(*) FROM sec_docs $$);
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE UPDATE sec_docs SET title = title WHERE id > 'a' $$);
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE SELECT * FROM relay.audit_logs $$);
-- (PostgreSQL 17 and later print InitPlans differently and drop an IS NOT NULL test of a
-- NOT NULL column; 18 prints row counts with two decimals: expected-pg18/.)
EXPLAIN (COSTS OFF) SELECT * FROM sec_docs WHERE id = 'b1';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT 1 AS no_tenant_table;
RESET ROLE;
-- through a view with security_invoker, the view's tables count
CREATE VIEW sec_docs_v WITH (security_invoker = on) AS SELECT id, title FROM sec_docs;
GRANT SELECT ON sec_docs_v TO sec_app;
SET ROLE sec_app;
SELECT code, message FROM expect_error($$ EXPLAIN ANALYZE SELECT * FROM sec_docs_v $$);
RESET ROLE;
-- roles that see every tenant may
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT count(*) FROM sec_docs;
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

-- The view the superuser owns goes first (the rest: include/security_teardown.sql).
DROP VIEW sec_docs_v;
\i include/security_teardown.sql
