#!/usr/bin/env bash
# The client packages against a real server through PgBouncer in transaction mode,
# as the roles a deployment has (a migration role that owns the tables, an
# application login role):
# - clients/python: Alembic migrations up (relay's operations log their lines),
#   `alembic check` (autogenerate) finds no difference on the converted schema, down
#   and up again; pooled SQLAlchemy requests stay isolated and relay's errors come
#   out typed (tests/clients/python);
# - clients/drizzle: `drizzle-kit migrate`, `drizzle-kit generate` finds no change,
#   the database matches drizzle's snapshot of the schema (tenantColumn,
#   relayPolicies, .enableRLS()), concurrent withTenant() requests stay isolated and
#   relay's errors come out typed (tests/clients/drizzle).
# Installs PgBouncer (Debian), the Python packages (PyPI, into a virtualenv) and the
# npm packages when missing: a machine that cannot fails here, it does not skip.
# Prints TAP lines.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5486}
BPORT=$((PORT + 1))
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null 2>&1; } || true
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$PGBOUNCER" ] && ok "PgBouncer is installed ($("$PGBOUNCER" --version | head -1))" || { notok "PgBouncer could not be installed"; exit 1; }

RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" "$@"; }
trap 'as_pg kill "$(cat "$work/pgbouncer.pid" 2>/dev/null)" 2>/dev/null; stop_cluster "$work"; rm -rf "$work"' EXIT

venv=$work/venv
cp -r "$ROOT/clients/python" "$work/pypkg"   # (pip builds in the source tree)
python3 -m venv "$venv"
if "$venv/bin/pip" install -q "sqlalchemy>=2,<3" "alembic>=1.13,<2" "psycopg[binary]>=3.1,<4" "$work/pypkg" >"$work/pip.log" 2>&1; then
  ok "clients/python installs with SQLAlchemy, Alembic and psycopg ($("$venv/bin/python" -c 'import sqlalchemy, alembic, psycopg; print(sqlalchemy.__version__, alembic.__version__, psycopg.__version__)'))"
else
  notok "pip install"; tail -5 "$work/pip.log" | sed 's/^/#   /'; exit 1
fi

write_test_key "$work"
P -d postgres >/dev/null <<SQL
ALTER SYSTEM SET relay.token_key_file = '$work/relay_token.key';
SELECT pg_reload_conf();
SQL
P -d postgres >/dev/null <<'SQL'
CREATE ROLE migrator LOGIN;
CREATE ROLE app LOGIN;
-- the same application in signed mode: its tenant is set only with a token
CREATE ROLE app_signed LOGIN;
ALTER ROLE app_signed SET relay.context_mode = 'signed';
CREATE DATABASE app OWNER migrator;
\c app
CREATE EXTENSION relay_tenancy;
GRANT REFERENCES ON relay.tenants TO migrator;   -- README "Deployment rules"
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT relay_create_tenant('Globex', 'globex', id => 'globex');
SELECT relay_create_tenant('Paused', 'paused', id => 'paused');
SELECT relay_suspend_tenant('paused');
CREATE DATABASE dzapp OWNER migrator;
\c dzapp
CREATE EXTENSION relay_tenancy;
GRANT REFERENCES ON relay.tenants TO migrator;
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT relay_create_tenant('Globex', 'globex', id => 'globex');
SELECT relay_create_tenant('Paused', 'paused', id => 'paused');
SELECT relay_suspend_tenant('paused');
SQL
printf '"migrator" ""\n"app" ""\n"app_signed" ""\n"postgres" ""\n' >"$work/userlist.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
app = host=$work port=$PORT dbname=app
dzapp = host=$work port=$PORT dbname=dzapp
[pgbouncer]
listen_addr =
unix_socket_dir = $work
listen_port = $BPORT
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 3
max_client_conn = 50
ignore_startup_parameters = extra_float_digits
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
chown postgres:postgres "$work/pgbouncer.ini" "$work/userlist.txt"
as_pg "$PGBOUNCER" -d "$work/pgbouncer.ini"
for _ in $(seq 1 50); do [ -S "$work/.s.PGSQL.$BPORT" ] && break; sleep 0.1; done

app=$work/app
cp -r "$ROOT/tests/clients/python" "$app"
export DATABASE_URL="postgresql+psycopg://migrator@/app?host=$work&port=$BPORT"
export APP_URL="postgresql+psycopg://app@/app?host=$work&port=$BPORT"
export SIGNED_URL="postgresql+psycopg://app_signed@/app?host=$work&port=$BPORT"
export MINT_URL="postgresql+psycopg://postgres@/app?host=$work&port=$PORT"   # the trusted tier, direct
signed_grants() { P -d "$1" -c "GRANT SELECT, INSERT, UPDATE, DELETE ON projects, tasks TO app_signed; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app_signed" >/dev/null; }
alembic() { (cd "$app" && "$venv/bin/alembic" -c alembic.ini "$@"); }

if alembic upgrade head >"$work/up.log" 2>&1 && grep -q "relay_tenancy.*registered public.projects in relay.relay_tables" "$work/up.log"; then
  ok "alembic upgrade head through PgBouncer: op.relay_enable_tenancy logs relay's lines"
else notok "alembic upgrade head"; tail -15 "$work/up.log" | sed 's/^/#   /'; fi
if alembic check >"$work/check.log" 2>&1; then
  ok "alembic check: autogenerate finds no difference on the converted schema"
else notok "alembic check found differences"; tail -15 "$work/check.log" | sed 's/^/#   /'; fi
# (without relay's filter it finds what relay changed: the check above compares)
if RELAY_NO_FILTER=1 alembic check >"$work/check_raw.log" 2>&1; then notok "without the filter autogenerate found nothing"
else ok "without relay's include_object, autogenerate proposes $(grep -cE 'Detected (removed|added|changed)' "$work/check_raw.log" || true) changes (relay's keys, indexes and foreign keys: the filter is what hides them)"; fi
signed_grants app
if (cd "$app" && "$venv/bin/python" app_check.py "$n") >"$work/app.log" 2>&1; then :; fi
cat "$work/app.log" | grep -E '^(ok|not ok|#)'
n=$((n + $(grep -cE '^(ok|not ok) ' "$work/app.log" || true))); failed=$((failed + $(grep -c '^not ok ' "$work/app.log" || true)))
grep -qE '^(ok|not ok) ' "$work/app.log" || { notok "app_check.py ran"; tail -15 "$work/app.log" | sed 's/^/#   /'; }
if alembic downgrade 0001 >"$work/down.log" 2>&1 && [ "$(P -d app -At -c "SELECT count(*) FROM relay.relay_tables")" = 0 ] \
   && [ "$(P -d app -At -c "SELECT count(*) FROM pg_attribute WHERE attname = 'tenant_id' AND attrelid IN ('projects'::regclass, 'tasks'::regclass)")" = 0 ]; then
  ok "alembic downgrade: op.relay_disable_tenancy takes both tables back (no tenant column left)"
else notok "alembic downgrade"; tail -15 "$work/down.log" | sed 's/^/#   /'; fi
if alembic upgrade head >"$work/up2.log" 2>&1 && alembic check >"$work/check2.log" 2>&1; then
  ok "up again, and still no difference"
else notok "up again"; tail -15 "$work/up2.log" "$work/check2.log" | sed 's/^/#   /'; fi

# Drizzle: the package built and packed, installed with drizzle-orm, drizzle-kit, pg.
dz=$work/dz
mkdir -p "$dz" && cp -r "$ROOT/tests/clients/drizzle/." "$dz/" && cp -r "$ROOT/clients/drizzle" "$work/dzpkg"
(cd "$dz" && npm init -y >/dev/null && npm install -s --no-audit --no-fund drizzle-orm@0.45 drizzle-kit@0.31 pg@8 typescript@5 tsx@4 @types/pg @types/node) >"$work/npm.log" 2>&1 \
  && ln -s "$dz/node_modules" "$work/dzpkg/node_modules" \
  && (cd "$work/dzpkg" && "$dz/node_modules/.bin/tsc" -p . && npm pack -s) >>"$work/npm.log" 2>&1 \
  && (cd "$dz" && npm install -s --no-audit --no-fund "$work"/dzpkg/relay-tenancy-drizzle-*.tgz) >>"$work/npm.log" 2>&1 \
  && ok "clients/drizzle builds (tsc) and installs with drizzle-orm $(node -p "require('$dz/node_modules/drizzle-orm/package.json').version"), drizzle-kit $(node -p "require('$dz/node_modules/drizzle-kit/package.json').version")" \
  || { notok "npm install / build of clients/drizzle"; tail -15 "$work/npm.log" | sed 's/^/#   /'; }
export DATABASE_URL="postgresql://migrator@localhost/dzapp?host=$work&port=$BPORT"
export APP_URL="postgresql://app@localhost/dzapp?host=$work&port=$BPORT"
export SIGNED_URL="postgresql://app_signed@localhost/dzapp?host=$work&port=$BPORT"
export MINT_URL="postgresql://postgres@localhost/dzapp?host=$work&port=$PORT"
dk() { (cd "$dz" && "$dz/node_modules/.bin/drizzle-kit" "$@"); }
if dk migrate >"$work/dzmigrate.log" 2>&1 && [ "$(P -d dzapp -At -c "SELECT string_agg(relid::text, ',' ORDER BY relid::text) FROM relay.relay_tables")" = "projects,tasks" ]; then
  ok "drizzle-kit migrate through PgBouncer: the custom migration's relay_enable_tenancy calls enable both tables"
else notok "drizzle-kit migrate"; tail -15 "$work/dzmigrate.log" | sed 's/^/#   /'; fi
before=$(ls "$dz/migrations" | wc -l)
if dk generate >"$work/dzgen.log" 2>&1 && grep -q "No schema changes" "$work/dzgen.log" && [ "$(ls "$dz/migrations" | wc -l)" = "$before" ]; then
  ok "drizzle-kit generate on the converted schema: no schema changes, no migration written"
else notok "drizzle-kit generate"; tail -15 "$work/dzgen.log" | sed 's/^/#   /'; fi
if got=$(cd "$dz" && node_modules/.bin/tsx check_snapshot.mts 2>&1); then
  ok "the database matches drizzle's snapshot of schema.ts (tenantColumn, relayPolicies, .enableRLS(), relay's keys): $got"
else notok "the database differs from schema.ts"; echo "$got" | sed 's/^/#   /'; fi
signed_grants dzapp
(cd "$dz" && node_modules/.bin/tsx app_check.mts "$n") >"$work/dzapp.log" 2>&1 || true
grep -E '^(ok|not ok|#)' "$work/dzapp.log"
n=$((n + $(grep -cE '^(ok|not ok) ' "$work/dzapp.log" || true))); failed=$((failed + $(grep -c '^not ok ' "$work/dzapp.log" || true)))
grep -qE '^(ok|not ok) ' "$work/dzapp.log" || { notok "app_check.mts ran"; tail -15 "$work/dzapp.log" | sed 's/^/#   /'; }
# Online conversion from drizzle-kit migrate, which wraps every migration in one
# transaction: relay_enable_tenancy_background returns at once inside it; the worker
# starts at commit; CALL relay_online_wait (a deploy step, through PgBouncer) waits.
dkbg() { (cd "$dz/background" && "$dz/node_modules/.bin/drizzle-kit" "$@"); }
if dkbg migrate >"$work/dzbg.log" 2>&1; then
  ok "drizzle-kit migrate: a migration queues the online conversion of big inside drizzle's transaction"
else notok "drizzle-kit migrate (background)"; tail -15 "$work/dzbg.log" | sed 's/^/#   /'; fi
if as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$BPORT" -U migrator -d dzapp \
     -c "CALL relay_online_wait('big', timeout => '120 s')" >"$work/dzwait.log" 2>&1 \
   && [ "$(P -d dzapp -At -c "SELECT state || ' ' || (queued_by::text) FROM relay.online_conversions WHERE \"table\" = 'public.big'")" = "done migrator" ] \
   && [ "$(P -d dzapp -At -c "SELECT problems = '{}' AND not_valid_constraints IS NULL FROM relay.relay_tenancy_status WHERE table_name = 'big'::regclass")" = t ]; then
  ok "CALL relay_online_wait through PgBouncer: the worker converted big as migrator, online (no problem, every key valid)"
else notok "CALL relay_online_wait (drizzle)"; tail -15 "$work/dzwait.log" | sed 's/^/#   /'
  P -d dzapp -c "SELECT * FROM relay.online_conversions" | sed 's/^/#   /'; fi
echo "# clients: $((n - failed)) of $n passed"
[ "$failed" -eq 0 ]
