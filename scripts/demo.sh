#!/usr/bin/env bash
# The demo: a throwaway cluster, the reference application with data, all nine
# tables tenant-enabled, then tenant isolation shown as the application sees it.
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/setup.sh"

port=${RELAY_DEMO_PORT:-54329}
say "starting a throwaway PostgreSQL 15 cluster (port $port)"
throwaway_cluster "$port"
ref=$(reference_dir)
cp "$ref"/app-schema.sql "$ref"/app-data.sql "$ROOT/scripts/enable-reference.sql" "$dir/"
chown postgres:postgres "$dir"/*.sql
run() { (cd "$dir" && pg "$dir" "$port" -d demo "$@"); }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE demo"

say "the single-tenant reference application: 9 tables, about 17k rows, owned by 'migrator' (a LOGIN role, not a superuser)"
run -c "CREATE ROLE migrator LOGIN" -c "GRANT CREATE ON SCHEMA public TO migrator"
# (app-data.sql ends with a database-wide ANALYZE: quiet about tables migrator does not own)
run -c "SET ROLE migrator" -c "SET client_min_messages = error" -f "$dir/app-schema.sql"
run -c "SET ROLE migrator" -c "SET client_min_messages = error" -v scale=1 -f "$dir/app-data.sql"
run -c "SELECT t AS table, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', t), false, true, '')))[1]::text::int AS rows
         FROM unnest(ARRAY['users','skills','ratings','usage_events','skill_versions','skill_embeddings','skill_reviews','api_keys','site_settings']) t ORDER BY 1"

say "CREATE EXTENSION relay_tenancy (a superuser, once); the migration role gets REFERENCES on relay.tenants"
run -c "CREATE EXTENSION relay_tenancy" -c "GRANT REFERENCES ON relay.tenants TO migrator" -c "SELECT id, name, slug FROM relay.tenants"

say "dry run for one table, as migrator: the steps, the lock each takes, and its SQL"
run -c "SET ROLE migrator" -c "SELECT step, lock, statement FROM relay_tenancy_plan('skills')"

say "one call per table, run by the migration role with no tenant set (users.email and api_keys.key_hash stay globally unique)"
run <<'SQL'
SET ROLE migrator;
CREATE TEMP TABLE files AS SELECT relname, relfilenode FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r';
\echo
\i enable-reference.sql
\echo 'No table was rewritten (same data file before and after):'
SELECT f.relname AS table, c.relfilenode = f.relfilenode AS same_file
  FROM files f JOIN pg_class c ON c.oid = f.relname::regclass ORDER BY 1;
\echo 'Run again, it changes nothing:'
SELECT relay_enable_tenancy('skills');
\echo 'Every foreign key was validated against the rows of every tenant, as migrator:'
SELECT conrelid::regclass AS table, conname, convalidated FROM pg_constraint
 WHERE contype = 'f' AND conrelid = 'skills'::regclass ORDER BY 2;
RESET ROLE;
SQL

say "isolation, as the application role 'app' sees it"
run <<'SQL'
INSERT INTO relay.tenants (id, name, slug) VALUES ('acme', 'Acme Corp', 'acme');
CREATE ROLE app;
-- the application's tables only: relay's own tables stay closed (relay.audit_logs is
-- readable by everyone already, and written by relay alone)
GRANT SELECT, INSERT, UPDATE, DELETE ON users, skills, ratings, usage_events, skill_versions,
  skill_embeddings, skill_reviews, api_keys, site_settings TO app;
GRANT TRUNCATE ON site_settings TO app;   -- as a sloppy GRANT ALL would
SET ROLE app;
\echo '-- the default tenant sees the rows that were there before:'
BEGIN;
SET LOCAL app.current_tenant_id = 'default-tenant-000-0000-000000000000';
SELECT count(*) AS skills_visible FROM skills;
COMMIT;
\echo '-- tenant acme sees none of them:'
BEGIN;
SET LOCAL app.current_tenant_id = 'acme';
SELECT count(*) AS skills_visible FROM skills;
\echo '-- an insert that does not name tenant_id lands in acme (slug skill-1 is free per tenant):'
INSERT INTO skills (name, slug) VALUES ('Acme onboarding', 'skill-1') RETURNING name, slug, tenant_id;
\echo '-- an update of the default tenant''s skill s1 touches nothing:'
UPDATE skills SET name = 'hijacked' WHERE id = 's1' RETURNING id;
SELECT count(*) AS skills_visible FROM skills;
\echo '-- foreign keys between tenant tables are composite: acme cannot point at s1'
SAVEPOINT before_reference;
\set ON_ERROR_STOP 0
INSERT INTO usage_events (tool_name, skill_id) VALUES ('search', 's1');
\set ON_ERROR_STOP 1
ROLLBACK TO before_reference;
\echo '-- and TRUNCATE, which ignores row level security, is refused even when granted:'
SAVEPOINT before_truncate;
\set ON_ERROR_STOP 0
TRUNCATE site_settings;
\set ON_ERROR_STOP 1
ROLLBACK TO before_truncate;
COMMIT;
\echo '-- with no tenant set, nothing is visible and an insert fails loudly:'
SELECT count(*) AS skills_visible FROM skills;
\set ON_ERROR_STOP 0
INSERT INTO skills (name, slug) VALUES ('orphan', 'orphan');
\set ON_ERROR_STOP 1
RESET ROLE;
\echo '-- as the superuser (which bypasses RLS): s1 untouched, acme has its one row'
SELECT id, name, tenant_id FROM skills WHERE id = 's1' OR tenant_id = 'acme' ORDER BY tenant_id;
SQL

say "tenant context, fail-loud mode, and the audit trail"
run <<'SQL'
SELECT relay_enable_audit('skills');
SET ROLE app;
\echo '-- relay_set_tenant checks the tenant and sets it for this transaction only:'
BEGIN;
SELECT relay_set_tenant('acme');
SET LOCAL app.current_actor_id = 'user-7';
UPDATE skills SET name = 'Acme onboarding v2' WHERE slug = 'skill-1' RETURNING name;
COMMIT;
\echo '-- the next transaction starts with no tenant:'
SELECT relay_current_tenant() IS NULL AS no_tenant;
\echo '-- relay.require_tenant = on turns "no rows" into an error naming the table:'
SET relay.require_tenant = on;
\set ON_ERROR_STOP 0
SELECT count(*) FROM skills;
\set ON_ERROR_STOP 1
RESET relay.require_tenant;
\echo '-- the change is in the audit log, visible to acme only:'
BEGIN;
SELECT relay_set_tenant('acme');
SELECT action, actor_id, resource_id, metadata -> 'changed' AS changed,
       metadata -> 'old' ->> 'name' AS old_name, metadata -> 'new' ->> 'name' AS new_name
  FROM relay.audit_logs ORDER BY created_at;
\echo '-- and the application cannot rewrite it:'
\set ON_ERROR_STOP 0
DELETE FROM relay.audit_logs;
\set ON_ERROR_STOP 1
COMMIT;
RESET ROLE;
\set ON_ERROR_STOP 0
\echo '-- not even the superuser:'
TRUNCATE relay.audit_logs;
SQL

say "done: stopping the cluster"
