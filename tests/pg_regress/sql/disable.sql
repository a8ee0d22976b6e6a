-- relay_disable_tenancy: a down migration. It takes a tenant-enabled table back to
-- what it was before relay first touched it, from the registry's history: policies,
-- row level security flags, unique keys, foreign keys (in either direction),
-- indexes, the column default, and the tenant column when asked.
\i include/fixtures.sql
\set VERBOSITY verbose
CREATE SCHEMA undo;
SET search_path = undo, public;
\set ECHO none
\i reference/app-schema.sql
\set scale 1
\i reference/app-data.sql
\set ECHO all

-- Everything the round trip must give back: one line per column (type, NOT NULL,
-- default), constraint, index, policy, trigger and row level security flag.
\i include/shape.sql
CREATE TEMP TABLE original AS SELECT * FROM pg_temp.shape('undo');
CREATE TEMP TABLE original_rows AS
SELECT 'users' AS t, count(*) FROM users UNION ALL SELECT 'skills', count(*) FROM skills
UNION ALL SELECT 'ratings', count(*) FROM ratings UNION ALL SELECT 'usage_events', count(*) FROM usage_events;

-- Convert the reference application, as enable_reference does.
\i include/enable_reference.sql

-- The dry run prints the undo of skills, changing nothing: the keys skills' rows
-- and its neighbours' rows share go back to single-column, slug becomes globally
-- unique again (after a check that no two tenants share a slug), relay's index and
-- foreign key to tenants go, and the column goes too when asked.
SELECT step, lock, statement FROM relay_disable_tenancy_plan('skills', drop_column => true) ORDER BY step;

-- Errors, each before anything is changed.
-- Not tenant-enabled: nothing recorded to undo.
CREATE TABLE undo.plain (id int PRIMARY KEY);
SELECT relay_disable_tenancy('plain');
DROP TABLE undo.plain;
-- NULL arguments.
SELECT relay_disable_tenancy(NULL);
SELECT relay_disable_tenancy('skills', drop_column => NULL);
-- Only the table's owner may.
CREATE ROLE undo_stranger;
GRANT USAGE ON SCHEMA undo TO undo_stranger;
SET ROLE undo_stranger;
SELECT relay_disable_tenancy('skills');
RESET ROLE;

-- A key that goes back to global must hold across tenants: two tenants now share a
-- slug (allowed while the key is per tenant), so skills cannot be disabled, the
-- values and tenants are named, and nothing changes.
SELECT relay_create_tenant('Undo A', 'undo-a', id => 'undo-a');
SELECT relay_create_tenant('Undo B', 'undo-b', id => 'undo-b');
INSERT INTO skills (id, tenant_id, name, slug, author_id)
SELECT 'undo-skill-' || t, t, 'Shared', 'shared-slug', NULL FROM unnest(ARRAY['undo-a', 'undo-b']) t;
SELECT relay_disable_tenancy('skills');
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'skills'::regclass;
SELECT count(*) FROM relay.relay_tables WHERE relid = 'skills'::regclass;
DELETE FROM skills WHERE id LIKE 'undo-skill-%';

-- A foreign key made composite by someone else after enabling depends on relay's
-- per-tenant keys: refused, naming it.
ALTER TABLE ratings ADD CONSTRAINT ratings_mine_fkey FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id);
SELECT relay_disable_tenancy('skills');
ALTER TABLE ratings DROP CONSTRAINT ratings_mine_fkey;

-- The whole schema back, children first, dropping the column relay added.
SELECT t AS "table", count(*) AS steps
  FROM unnest(ARRAY['site_settings', 'api_keys', 'skill_reviews', 'skill_embeddings', 'skill_versions',
                    'usage_events', 'ratings', 'skills', 'users']) t,
       relay_disable_tenancy(t::regclass, drop_column => true)
 GROUP BY t ORDER BY t;
-- Exactly as before: no difference in either direction...
(SELECT * FROM pg_temp.shape('undo') EXCEPT SELECT * FROM original)
UNION ALL
(SELECT * FROM original EXCEPT SELECT * FROM pg_temp.shape('undo'));
-- ...every row still there, no longer registered.
SELECT o.t, o.count = n.count AS same_rows
  FROM original_rows o
  JOIN (SELECT 'users' AS t, count(*) FROM users UNION ALL SELECT 'skills', count(*) FROM skills
        UNION ALL SELECT 'ratings', count(*) FROM ratings UNION ALL SELECT 'usage_events', count(*) FROM usage_events) n
    ON n.t = o.t ORDER BY o.t;
SELECT count(*) FROM relay.relay_tables WHERE relid::oid IN (SELECT oid FROM pg_class WHERE relnamespace = 'undo'::regnamespace);

-- Enabling again starts a new history.
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('skills');
SELECT jsonb_array_length(history) FROM relay.relay_tables WHERE relid = 'skills'::regclass;
SELECT count(*) AS steps FROM relay_disable_tenancy('skills', drop_column => true);

-- An adopted column (it was there before relay: nullable, with a default of its
-- own) is given back as it was, and kept when drop_column asks to drop it.
CREATE TABLE undo.notes (id int PRIMARY KEY, org text DEFAULT 'none', body text);
INSERT INTO undo.notes VALUES (1, NULL, 'first'), (2, 'undo-a', 'second');
SELECT relay_enable_tenancy('notes', tenant_column => 'org');
SELECT relay_disable_tenancy('notes', drop_column => true);
\d undo.notes
SELECT * FROM undo.notes ORDER BY id;

-- A view relay made security_invoker (views => 'invoker') reads with its owner's
-- rights again.
CREATE VIEW undo.note_bodies AS SELECT id, body FROM undo.notes;
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('notes', tenant_column => 'org', views => 'invoker');
SELECT reloptions FROM pg_class WHERE oid = 'undo.note_bodies'::regclass;
SELECT count(*) AS steps FROM relay_disable_tenancy('notes');
SELECT reloptions FROM pg_class WHERE oid = 'undo.note_bodies'::regclass;

-- The column relay added, kept (drop_column => false, the default): it loses relay's
-- default and its NOT NULL, so inserts that do not name it work again (NULL), as they
-- did before the table was enabled.
CREATE TABLE undo.kept (id int PRIMARY KEY, body text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('undo.kept');
SELECT line FROM relay_disable_tenancy('undo.kept') line WHERE line LIKE 'kept column%' OR line LIKE 'dropped relay''s default%';
INSERT INTO undo.kept (id, body) VALUES (1, 'after the undo') RETURNING id, tenant_id;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'undo.kept'::regclass AND attname = 'tenant_id';
DROP TABLE undo.kept;

-- A non-superuser owner disables its own table: the DDL guard, which refuses NO
-- FORCE and dropping relay's policies on tenant-enabled tables, lets relay's own
-- steps through for the table being disabled only.
CREATE ROLE undo_owner;
GRANT USAGE, CREATE ON SCHEMA undo TO undo_owner;
GRANT REFERENCES ON relay.tenants TO undo_owner;
SET ROLE undo_owner;
CREATE TABLE undo.owned (id int PRIMARY KEY, body text);
SELECT count(*) > 0 AS enabled FROM relay_enable_tenancy('undo.owned');
ALTER TABLE undo.owned NO FORCE ROW LEVEL SECURITY;
SELECT relay_disable_tenancy('undo.owned', drop_column => true);
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'undo.owned'::regclass;
RESET ROLE;

SELECT line FROM unnest(ARRAY['undo-a', 'undo-b']) t, relay_delete_tenant(t) line WHERE line LIKE 'deleted tenant%';
DROP SCHEMA undo CASCADE;
REVOKE REFERENCES ON relay.tenants FROM undo_owner;
DROP ROLE undo_stranger, undo_owner;
RESET search_path;
