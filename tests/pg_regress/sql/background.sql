-- Online conversion from a migration tool: relay_enable_tenancy_background(tbl, ...)
-- queues the online path (relay_tenancy_plan(..., online => true)) for a background
-- worker and returns at once, even inside the transaction a migration tool wraps
-- every migration in (where CREATE INDEX CONCURRENTLY is refused, 25001). The worker
-- starts when that transaction commits and runs each statement in a transaction of its
-- own, as the role that queued it; CALL relay_online_wait(tbl) waits for it, outside a
-- transaction block; relay.online_conversions reports every job. Played here by the
-- roles of a real deployment: a non-superuser migration role that owns the tables, an
-- application role, and the superuser operator (the test's own role).
\i include/fixtures.sql
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE ROLE bg_migrator;
CREATE ROLE bg_other;
CREATE SCHEMA background AUTHORIZATION bg_migrator;
GRANT REFERENCES ON relay.tenants TO bg_migrator;
SET ROLE bg_migrator;
SET search_path = background, public;
CREATE TABLE orders (id int PRIMARY KEY, ref text UNIQUE, total int);
INSERT INTO orders SELECT g, 'ORD-' || g, g % 97 FROM generate_series(1, 3000) g;
CREATE TABLE order_lines (id int PRIMARY KEY, order_id int REFERENCES orders (id), qty int);
INSERT INTO order_lines SELECT g, g % 3000 + 1, 1 FROM generate_series(1, 6000) g;

-- 1. Inside the migration's transaction the call returns at once: it checks the plan
-- (a table relay cannot convert is refused here, with the error relay_enable_tenancy
-- would raise) and queues it. Nothing has changed yet: no row level security, and
-- no lock on the table beyond the dry run's ACCESS SHARE.
BEGIN;
SELECT * FROM relay_enable_tenancy_background('orders');
-- Asked twice, it queues once.
SELECT * FROM relay_enable_tenancy_background('orders');
SELECT relrowsecurity FROM pg_class WHERE oid = 'orders'::regclass;
SELECT mode FROM pg_locks WHERE relation = 'orders'::regclass AND pid = pg_backend_pid();
-- Waiting inside the transaction that queued it would wait forever (the worker starts
-- at commit, and its concurrent index builds wait for older transactions): refused.
CALL relay_online_wait('orders');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Rolled back: nothing was queued, no worker started.
SELECT count(*) AS jobs FROM relay.online_conversions;

-- 2. Queued for real (autocommit, as a migration tool's transaction would commit),
-- then waited for.
SELECT * FROM relay_enable_tenancy_background('orders');
CALL relay_online_wait('orders') \gset
SELECT "table", state, step = steps AS every_step_ran, error_sqlstate, worker, queued_by,
       longest_lock_ms > 0 AS lock_time_recorded
  FROM relay.online_conversions;
-- What the worker's catalog runs said, in order.
SELECT unnest(lines) AS line FROM relay.online_conversions WHERE "table" = 'background.orders';
-- The end state is relay_enable_tenancy's: isolated, registered, every index valid.
RESET ROLE;
SELECT table_name, problems, not_valid_constraints FROM relay.relay_tenancy_status WHERE table_name = 'background.orders'::regclass;
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index WHERE indrelid = 'background.orders'::regclass ORDER BY 1;
SELECT relay_enable_tenancy('background.orders');
-- Tenants are apart: a second tenant's row is invisible to the first.
SELECT relay_create_tenant('BG Acme', 'bg-acme', id => 'bg_acme') AS created;
GRANT USAGE ON SCHEMA background TO bg_other;
GRANT SELECT, INSERT ON background.orders TO bg_other;
SET ROLE bg_other;
BEGIN;
SELECT relay_set_tenant('bg_acme');
INSERT INTO background.orders VALUES (5001, 'ACME-1', 10);
SELECT count(*) AS acme_rows FROM background.orders;
COMMIT;

-- 3. Only the role that queued a job (a member of it, or a superuser) may wait for it:
-- its outcome may quote rows of the table. Other roles do not see it in the view.
SELECT count(*) AS jobs_seen FROM relay.online_conversions;
CALL relay_online_wait('background.orders');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 4. A job that fails: the worker runs as the role that queued it, with that role's
-- privileges at the time it runs. Here the grant it needs is revoked after queueing.
SET ROLE bg_migrator;
BEGIN;
SELECT * FROM relay_enable_tenancy_background('order_lines');
RESET ROLE;
REVOKE REFERENCES ON relay.tenants FROM bg_migrator;
COMMIT;
SET ROLE bg_migrator;
-- The wait raises the job's error with its SQLSTATE, and the statement it was running.
CALL relay_online_wait('order_lines');
\echo :LAST_ERROR_SQLSTATE
SELECT "table", state, error_sqlstate, worker FROM relay.online_conversions WHERE "table" = 'background.order_lines';
-- Fixed, queued again: the new job resumes from the table as it is.
RESET ROLE;
GRANT REFERENCES ON relay.tenants TO bg_migrator;
SET ROLE bg_migrator;
SELECT * FROM relay_enable_tenancy_background('order_lines');
CALL relay_online_wait('order_lines') \gset
SELECT "table", state, error_sqlstate FROM relay.online_conversions ORDER BY id;
RESET ROLE;
SELECT table_name, problems FROM relay.relay_tenancy_status WHERE table_name = 'background.order_lines'::regclass;

-- 5. Errors: a table with nothing queued; NULL; a table relay refuses (its own error,
-- at once, in the caller's transaction).
CREATE TABLE background.plain (id int PRIMARY KEY);
CALL relay_online_wait('background.plain');
\echo :LAST_ERROR_SQLSTATE
CALL relay_online_wait(NULL);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE background.parted (id int, at date) PARTITION BY RANGE (at);
SELECT * FROM relay_enable_tenancy_background('background.parted');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS jobs FROM relay.online_jobs WHERE table_name LIKE 'background.p%';

-- The queue is relay's: no application or migration role may write it.
SET ROLE bg_migrator;
INSERT INTO relay.online_jobs (relid, table_name, options, run_as) VALUES ('background.plain'::regclass, 'x', '{}', 10);
\echo :LAST_ERROR_SQLSTATE
UPDATE relay.online_jobs SET run_as = 10;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP SCHEMA background CASCADE;
SELECT count(*) > 0 AS deleted FROM relay_delete_tenant('bg_acme');
REVOKE REFERENCES ON relay.tenants FROM bg_migrator;
DROP ROLE bg_migrator, bg_other;
-- The jobs of a dropped role stay in relay.online_jobs; the view leaves them out
-- (rather than failing on a role that is gone).
SELECT count(*) AS jobs_listed, (SELECT count(*) FROM relay.online_jobs) AS jobs_kept FROM relay.online_conversions;
DELETE FROM relay.online_jobs;
