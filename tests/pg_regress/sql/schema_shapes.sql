-- Shapes of real schemas that tripped the schema call (issue 22), each reproduced in a
-- small schema of its own.
\i include/fixtures.sql
\set VERBOSITY verbose

-- 1. A unique key another table references, with primary keys kept global (the
-- default). By name login_sessions comes first, but its key on login_id can be made
-- per tenant only together with user_events' foreign key into it, which needs
-- user_events enabled: the call takes user_events first. Its dry run shows the same
-- order and every key it rewrites.
CREATE SCHEMA shapes_order;
CREATE TABLE shapes_order.login_sessions (id bigint PRIMARY KEY, login_id bigint NOT NULL);
CREATE UNIQUE INDEX index_login_sessions_on_login_id ON shapes_order.login_sessions (login_id);
CREATE TABLE shapes_order.user_events (id bigint PRIMARY KEY,
  login_id bigint REFERENCES shapes_order.login_sessions (login_id));
INSERT INTO shapes_order.login_sessions VALUES (1, 100);
INSERT INTO shapes_order.user_events VALUES (1, 100);
SELECT table_name, step, action
  FROM relay_tenancy_schema_plan('shapes_order') WITH ORDINALITY p(table_name, step, lock, action, statement, n)
 WHERE action LIKE '%login_id%' OR action LIKE '%foreign key%' OR step = 1
 ORDER BY n;
SELECT table_name, count(*) > 0 AS enabled FROM relay_enable_tenancy_schema('shapes_order') GROUP BY 1 ORDER BY 1;
SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'shapes_order'::regnamespace AND contype IN ('u', 'f') ORDER BY 1, 2;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid = 'shapes_order.login_sessions'::regclass AND NOT indisprimary;
