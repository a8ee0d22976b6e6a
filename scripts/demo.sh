#!/usr/bin/env bash
# The demo: a throwaway cluster, the reference application with data, all nine
# tables tenant-enabled, then tenant isolation shown as the application sees it.
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/setup.sh"

dir=$(postgres_tmpdir)
port=${RELAY_DEMO_PORT:-54329}
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
ref=$(reference_dir)
cp "$ref"/app-schema.sql "$ref"/app-data.sql "$dir/"
chown postgres:postgres "$dir"/*.sql

say "starting a throwaway PostgreSQL 15 cluster in $dir (port $port)"
start_cluster "$dir" "$port"
run() { pg "$dir" "$port" -d demo "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE demo"

say "the single-tenant reference application: 9 tables, about 17k rows"
run -f "$dir/app-schema.sql"
run -v scale=1 -f "$dir/app-data.sql"
run -c "SELECT t AS table, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', t), false, true, '')))[1]::text::int AS rows
         FROM unnest(ARRAY['users','skills','ratings','usage_events','skill_versions','skill_embeddings','skill_reviews','api_keys','site_settings']) t ORDER BY 1"

say "CREATE EXTENSION relay_tenancy"
run -c "CREATE EXTENSION relay_tenancy" -c "SELECT id, name, slug FROM tenants"

say "dry run for one table: the steps, the lock each takes, and its SQL"
run -c "SELECT step, lock, statement FROM relay_tenancy_plan('skills')"

say "one call per table (users.email and api_keys.key_hash stay globally unique)"
run <<'SQL'
CREATE TEMP TABLE files AS SELECT relname, relfilenode FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname NOT IN ('tenants', 'relay_tables');
\echo
SELECT relay_enable_tenancy('users', global_unique => ARRAY['email']);
SELECT relay_enable_tenancy('skills');
SELECT relay_enable_tenancy('ratings');
SELECT relay_enable_tenancy('usage_events');
SELECT relay_enable_tenancy('skill_versions');
SELECT relay_enable_tenancy('skill_embeddings');
SELECT relay_enable_tenancy('skill_reviews');
SELECT relay_enable_tenancy('api_keys', global_unique => ARRAY['key_hash']);
SELECT relay_enable_tenancy('site_settings');
\echo 'No table was rewritten (same data file before and after):'
SELECT f.relname AS table, c.relfilenode = f.relfilenode AS same_file
  FROM files f JOIN pg_class c ON c.oid = f.relname::regclass ORDER BY 1;
\echo 'Run again, it changes nothing:'
SELECT relay_enable_tenancy('skills');
SQL

say "isolation, as the application role 'app' sees it"
run <<'SQL'
INSERT INTO tenants (id, name, slug) VALUES ('acme', 'Acme Corp', 'acme');
CREATE ROLE app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app;
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

say "done: stopping the cluster"
