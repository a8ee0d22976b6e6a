-- Online conversion of a big table. relay_tenancy_plan(..., online => true) returns
-- the statements of the online path in order: runs of catalog changes (one call of
-- relay_enable_tenancy(..., online => true) each, under a short lock_timeout; the
-- first run isolates and registers the table), and the long steps as statements of
-- their own that do not block reads or writes: CREATE [UNIQUE] INDEX CONCURRENTLY,
-- VALIDATE CONSTRAINT. PostgreSQL refuses CONCURRENTLY in a transaction block or a
-- function, so psql's \gexec (or a migration tool's non-transactional migration)
-- runs them one by one. The end state is relay_enable_tenancy's.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA online;
SET search_path = online, public;
CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE, name text);
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'user ' || g FROM generate_series(1, 2000) g;
CREATE TABLE sessions (id int PRIMARY KEY, account_id int REFERENCES accounts (id), started date);
INSERT INTO sessions SELECT g, g % 2000 + 1, date '2026-01-01' + g % 300 FROM generate_series(1, 5000) g;
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('sessions');

-- The same tables converted offline, to compare end states with.
CREATE TABLE accounts_offline (LIKE accounts INCLUDING ALL);
CREATE TABLE sessions_offline (id int PRIMARY KEY, account_id int REFERENCES accounts_offline (id), started date);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('sessions_offline');
CREATE FUNCTION pg_temp.shape(t regclass) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT format('column %s %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT format('constraint %s %s valid=%s', replace(conname, t::text, 'T'), pg_get_constraintdef(oid), convalidated)
    FROM pg_constraint WHERE conrelid = t AND contype <> 'n'  -- NOT NULL: the column lines
  UNION ALL SELECT format('index %s valid=%s', replace(replace(pg_get_indexdef(indexrelid), t::text, 'T'), 'online.', ''), indisvalid)
    FROM pg_index WHERE indrelid = t
  UNION ALL SELECT format('rls %s force %s', relrowsecurity, relforcerowsecurity) FROM pg_class WHERE oid = t
  UNION ALL SELECT format('policy %s %s', polname, replace(pg_get_expr(polqual, polrelid), t::text, 'T')) FROM pg_policy WHERE polrelid = t
  UNION ALL SELECT format('trigger %s %s', tgname, tgenabled) FROM pg_trigger WHERE tgrelid = t AND NOT tgisinternal
$$;

-- The plan: one row per statement.
SELECT step, lock, statement FROM relay_tenancy_plan('accounts', online => true) ORDER BY step;
-- Run it.
SELECT statement FROM relay_tenancy_plan('accounts', online => true) ORDER BY step \gexec

-- relay_enable_tenancy has nothing left to do, and the table is registered with the
-- state it had before (relay_disable_tenancy can undo it).
SELECT relay_enable_tenancy('accounts');
SELECT table_name, problems, not_valid_constraints FROM relay.relay_tenancy_status WHERE table_name = 'accounts'::regclass;
-- The same end state as relay_enable_tenancy's (index names aside).
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('accounts_offline');
(SELECT replace(s, '_offline', '') FROM pg_temp.shape('accounts_offline') s EXCEPT SELECT * FROM pg_temp.shape('accounts'))
UNION ALL
(SELECT * FROM pg_temp.shape('accounts') EXCEPT SELECT replace(s, '_offline', '') FROM pg_temp.shape('accounts_offline') s);

-- Resuming. A concurrent build that failed leaves an INVALID index (simulated here);
-- the plan, computed from the table as it is, drops it first and builds it again under
-- the same name (a resumed run ends with the names the offline call gives).
CREATE TABLE invoices (id int PRIMARY KEY, number text UNIQUE);
INSERT INTO invoices SELECT g, 'INV-' || g FROM generate_series(1, 1000) g;
SELECT statement FROM relay_tenancy_plan('invoices', online => true) ORDER BY step LIMIT 2 \gexec
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'invoices_number_key_relay_tmp'::regclass;
SELECT step, lock, statement FROM relay_tenancy_plan('invoices', online => true) ORDER BY step;
SELECT statement FROM relay_tenancy_plan('invoices', online => true) ORDER BY step \gexec
SELECT relay_enable_tenancy('invoices');
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'invoices'::regclass ORDER BY 1;
-- A call that finds a statement that runs on its own next (here: the index build was
-- skipped; a failed or cancelled one is the same) raises, naming it, and changes
-- nothing: with ON_ERROR_STOP (or a migration tool) the migration stops there instead
-- of ending half-converted with exit code 0.
CREATE TABLE notes (id int PRIMARY KEY, body text UNIQUE);
SELECT relay_enable_tenancy('notes', online => true);
SELECT relay_enable_tenancy('notes', online => true);

-- The undo of an online conversion is the undo of any other.
SELECT count(*) > 0 AS disabled FROM relay_disable_tenancy('accounts', drop_column => true);
\d accounts

-- Refused: partitioned tables (no concurrent builds there), NULL.
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
SELECT * FROM relay_tenancy_plan('events', online => true);
SELECT * FROM relay_tenancy_plan('notes', online => NULL);

-- A concurrent build that fails (here: duplicates within a tenant) leaves an INVALID
-- index, still maintained on every write: relay_verify and relay_security_check report
-- it, and relay_disable_tenancy drops it with the rest.
CREATE TABLE dups (id int PRIMARY KEY, body text);
INSERT INTO dups VALUES (1, 'same'), (2, 'same');
SELECT count(*) > 0 AS first_run FROM relay_enable_tenancy('dups', online => true);
CREATE UNIQUE INDEX CONCURRENTLY dups_body_relay_tmp ON dups (tenant_id, body);
SELECT severity, object, problem FROM relay_verify() WHERE object LIKE 'index %dups%';
SELECT check_name, ok FROM relay_security_check() WHERE check_name = 'indexes_valid';
-- relay_tenancy_status lists valid tenant indexes only
SELECT tenant_indexes FROM relay.relay_tenancy_status WHERE table_name = 'dups'::regclass;
SELECT line FROM relay_disable_tenancy('dups') line WHERE line LIKE '%INVALID%';
SELECT count(*) AS invalid_left FROM pg_index WHERE indrelid = 'dups'::regclass AND NOT indisvalid;
DROP SCHEMA online CASCADE;
RESET search_path;
