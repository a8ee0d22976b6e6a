#!/usr/bin/env bash
# The Python client (clients/python) against a real server through PgBouncer in
# transaction mode, as the roles a deployment has (a migration role that owns the
# tables, an application login role): Alembic migrations up (relay's operations log
# their lines), `alembic check` (autogenerate) finds no difference on the converted
# schema, down and up again; pooled SQLAlchemy requests stay isolated and relay's
# errors come out typed (tests/clients/python/app_check.py). Installs PgBouncer
# (Debian) and the Python packages (PyPI, into a virtualenv) when missing: a machine
# that cannot fails here, it does not skip. Prints TAP lines.
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
python3 -m venv "$venv"
if "$venv/bin/pip" install -q "sqlalchemy>=2,<3" "alembic>=1.13,<2" "psycopg[binary]>=3.1,<4" "$ROOT/clients/python" >"$work/pip.log" 2>&1; then
  ok "clients/python installs with SQLAlchemy, Alembic and psycopg ($("$venv/bin/python" -c 'import sqlalchemy, alembic, psycopg; print(sqlalchemy.__version__, alembic.__version__, psycopg.__version__)'))"
else
  notok "pip install"; tail -5 "$work/pip.log" | sed 's/^/#   /'; exit 1
fi

P -d postgres >/dev/null <<'SQL'
CREATE ROLE migrator LOGIN;
CREATE ROLE app LOGIN;
CREATE DATABASE app OWNER migrator;
\c app
CREATE EXTENSION relay_tenancy;
GRANT REFERENCES ON relay.tenants TO migrator;   -- README "Deployment rules"
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT relay_create_tenant('Globex', 'globex', id => 'globex');
SELECT relay_create_tenant('Paused', 'paused', id => 'paused');
SELECT relay_suspend_tenant('paused');
SQL
printf '"migrator" ""\n"app" ""\n"postgres" ""\n' >"$work/userlist.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
app = host=$work port=$PORT dbname=app
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
echo "# clients: $((n - failed)) of $n passed"
[ "$failed" -eq 0 ]
