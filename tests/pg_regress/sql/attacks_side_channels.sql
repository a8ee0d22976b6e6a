-- Row level security attacks (include/attacks_setup.sql says how they are run): side
-- channels. Planner statistics, EXPLAIN ANALYZE, the statistics counters, and what
-- remains (reltuples, plain EXPLAIN's estimates).
\i include/fixtures.sql
\i include/attacks_setup.sql

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

-- (atk_v_invoker, the security_invoker view of block 7 in attacks_views_functions, made
-- here too for the EXPLAIN ANALYZE through a view below)
RESET ROLE;
CREATE VIEW atk_v_invoker WITH (security_invoker = on) AS SELECT id, secret, tenant_id FROM atk_docs;
GRANT SELECT ON atk_v_invoker TO atk_app;
SET ROLE atk_app;
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

-- The view the superuser owns goes first (the rest: include/attacks_teardown.sql).
RESET ROLE;
DROP VIEW atk_v_invoker;
\i include/attacks_teardown.sql
