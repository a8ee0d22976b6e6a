#!/usr/bin/env bash
# Dump and restore round trips of a database with relay_tenancy: the reference
# application converted, one table audited, a second tenant with rows and audit
# entries, the default tenant's row edited. Every restore must give back what
# tests/scripts/summary.sql prints for the original. Prints "ok N - ..." or
# "not ok N - ..." per check (TAP), like pg_regress.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5481}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'" throwaway_cluster "$PORT"
work=$dir
cp "$(reference_dir)"/app-schema.sql "$(reference_dir)"/app-data.sql "$ROOT/scripts/enable-reference.sql" \
   "$ROOT/tests/scripts/summary.sql" "$work/"
chown postgres:postgres "$work"/*.sql
P() { pg "$work" "$PORT" "$@"; }
n=0
failed=0
check() { # check NAME DB: the database's summary equals the original's
  n=$((n + 1))
  # Only the summary's own output is compared; what a tool says on stderr is shown
  # when the check fails, never compared.
  local rc=0
  P -d "$2" -At -f "$work/summary.sql" >"$work/$2.summary" 2>"$work/$2.stderr" || rc=$?
  if [ "$rc" -eq 0 ] && diff -u "$work/src.summary" "$work/$2.summary" >"$work/$2.diff"; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"; sed 's/^/#   /' "$work/$2.diff" "$work/$2.stderr" 2>/dev/null | head -40; failed=$((failed + 1))
  fi
}
expect() { # expect NAME COMMAND...: the command succeeds
  n=$((n + 1))
  local name=$1; shift
  if out=$("$@" 2>&1); then echo "ok $n - $name"; else echo "not ok $n - $name"; echo "$out" | sed 's/^/#   /' | head -20; failed=$((failed + 1)); fi
}
refuse() { # refuse NAME PATTERN COMMAND...: the command fails, saying PATTERN
  n=$((n + 1))
  local name=$1 pattern=$2; shift 2
  if out=$("$@" 2>&1); then echo "not ok $n - $name (it succeeded)"; failed=$((failed + 1));
  elif echo "$out" | grep -q "$pattern"; then echo "ok $n - $name";
  else echo "not ok $n - $name"; echo "$out" | sed 's/^/#   /' | head -20; failed=$((failed + 1)); fi
}
fresh() { P -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>&1 | grep -v "does not exist, skipping" || true; }
dump() { as_pg "$PG_BIN/pg_dump" -h "$work" -p "$PORT" -U postgres "$@"; }
restore() { as_pg "$PG_BIN/pg_restore" -h "$work" -p "$PORT" -U postgres "$@"; }

# The original.
fresh src
P -d src -v scale=1 -f "$work/app-schema.sql" -f "$work/app-data.sql" >/dev/null
P -d src -c "CREATE EXTENSION relay_tenancy" -f "$work/enable-reference.sql" >/dev/null
P -d src >/dev/null <<'SQL'
SELECT relay_enable_audit('skills');
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
BEGIN;
SELECT relay_set_tenant('acme', true);
INSERT INTO users (id, email, name) VALUES ('acme-user', 'ceo@acme.example', 'Acme CEO');
INSERT INTO skills (id, name, slug, author_id) VALUES ('acme-skill', 'Acme skill', 'acme-skill', 'acme-user');
UPDATE skills SET name = 'Acme skill, renamed' WHERE id = 'acme-skill';
COMMIT;
-- The default tenant's row, edited: the edit must survive a dump.
UPDATE relay.tenants SET name = 'Default Org', plan = 'enterprise' WHERE id = 'default-tenant-000-0000-000000000000';
SQL
P -d src -At -f "$work/summary.sql" >"$work/src.summary"

# 1. Plain format, restored with psql.
dump -d src -f "$work/plain.sql"
fresh r_plain
expect "plain dump restores with psql" P -d r_plain -f "$work/plain.sql"
check "plain dump: everything back" r_plain
# ...and says nothing to worry about: relay's DDL guard judges each statement, not the
# table's state half-way through the restore (before the policies are created).
fresh r_quiet
n=$((n + 1))
P -d r_quiet -f "$work/plain.sql" >"$work/quiet.out" 2>&1 || true
if grep -q "WARNING" "$work/quiet.out"; then
  echo "not ok $n - plain dump restores without a WARNING"; grep -m5 WARNING "$work/quiet.out" | sed 's/^/#   /'; failed=$((failed + 1))
else echo "ok $n - plain dump restores without a WARNING ($(grep -c . "$work/quiet.out") lines of output)"; fi

# 2. Custom format, restored serially.
dump -d src -Fc -f "$work/custom.dump"
fresh r_custom
expect "custom dump restores with pg_restore" restore -d r_custom --exit-on-error "$work/custom.dump"
check "custom dump: everything back" r_custom

# 3. Parallel restore by sections (README): all data before any key.
fresh r_sections
sections() {
  restore -d r_sections --exit-on-error --section=pre-data "$work/custom.dump" &&
  restore -d r_sections --exit-on-error -j 4 --section=data "$work/custom.dump" &&
  restore -d r_sections --exit-on-error -j 4 --section=post-data "$work/custom.dump"
}
expect "pg_restore -j by sections" sections
check "pg_restore -j by sections: everything back" r_sections

# 4. Parallel restore in one go: keys to tenants may be created before tenants'
#    rows (pg_restore does not order extension tables' rows before them);
#    relay_repair() re-applies every table from the registry.
fresh r_parallel
restore -d r_parallel -j 4 "$work/custom.dump" >"$work/parallel.log" 2>&1 || true
grep -E "error" "$work/parallel.log" | sed "s/^/# pg_restore -j: /" | head -5 || true
expect "relay_repair() after pg_restore -j" P -d r_parallel -c "SELECT count(*) FROM relay_repair()"
check "pg_restore -j then relay_repair(): everything back" r_parallel

# 5. Schema-only, then data-only. Capture triggers would record every restored row
#    again: a data-only load into audited tables is refused loudly...
dump -d src -s -f "$work/schema.sql"
dump -d src -a -f "$work/data.sql"
dump -d src -a --disable-triggers -f "$work/data-notriggers.sql"
fresh r_split
expect "schema-only dump restores" P -d r_split -f "$work/schema.sql"
refuse "data-only restore into audited tables is refused" "row_security" P -d r_split -1 -f "$work/data.sql"
# ...and with --disable-triggers it loads, records nothing twice, and relay's guards,
# which ENABLE TRIGGER ALL demotes, are put back to ALWAYS on the spot.
expect "data-only restore with --disable-triggers" P -d r_split -1 -f "$work/data-notriggers.sql"
check "schema-only + data-only (--disable-triggers): everything back" r_split

echo "# dump/restore: $((n - failed)) of $n passed"
[ "$failed" -eq 0 ]
