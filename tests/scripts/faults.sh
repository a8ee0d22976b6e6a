#!/usr/bin/env bash
# Faults that must lose nothing (issue 18): a crash (immediate shutdown, as after
# kill -9 of the postmaster) during a conversion, during the online path's concurrent
# index build, and during audited writes with the hash chain on; a cancelled
# conversion; failover to a streaming standby during chained audited writes. After each, the table is either converted or untouched (never half),
# every committed change has its audit entry, the chain verifies, and the conversion
# then goes through. Bounded: fixed sizes, each wait polled at most 30 s. Prints TAP.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5484}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
restart_after_crash = off" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" -d faults "$@"; }
n=0
failed=0
is() { # is NAME EXPECTED SQL
  n=$((n + 1))
  local got
  got=$(P -At -c "$3" 2>"$work/is.stderr") || true
  if [ "$got" = "$2" ]; then echo "ok $n - $1"; else
    echo "not ok $n - $1"; echo "#   expected: $2"; echo "#   got:      $got"; sed 's/^/#   stderr: /' "$work/is.stderr"; failed=$((failed + 1)); fi
}
# wait_until SQL: poll (as a separate session) until it returns t, 30 s at most
wait_until() {
  for _ in $(seq 1 300); do
    [ "$(P -At -c "$1" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  return 1
}
crash_and_restart() {
  as_pg "$PG_BIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  as_pg "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
}
running() { # running PATTERN: a statement matching PATTERN is executing
  wait_until "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE state = 'active' AND query LIKE '$1' AND pid <> pg_backend_pid())"
}

pg "$work" "$PORT" -d postgres -c "CREATE DATABASE faults" >/dev/null
P >/dev/null <<'SQL'
CREATE EXTENSION relay_tenancy;
CREATE TABLE big (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, body text);
INSERT INTO big SELECT g, 'c' || g, repeat('x', 50) FROM generate_series(1, 1500000) g;
CREATE TABLE big_kids (id bigint PRIMARY KEY, big_id bigint REFERENCES big (id));
INSERT INTO big_kids SELECT g, g FROM generate_series(1, 300000) g;
-- the child first: enabling big then rewrites the child's key too
SELECT count(*) FROM relay_enable_tenancy('big_kids');
-- A table whose conversion takes seconds (a unique key over a slow expression, rebuilt
-- per tenant), so that a crash or a cancel lands in the middle of it.
CREATE FUNCTION slow_key(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
  AS $$ BEGIN PERFORM pg_catalog.pg_sleep(0.0003); RETURN t; END $$;
CREATE TABLE slow (id int PRIMARY KEY, code text NOT NULL);
INSERT INTO slow SELECT g, 'c' || g FROM generate_series(1, 8000) g;
CREATE UNIQUE INDEX slow_code_key ON slow (public.slow_key(code));
CHECKPOINT;
SQL
state_of() { # the tenant column, the registry row, row level security of table $1
  echo "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = '$1'::regclass AND attname = 'tenant_id' AND NOT attisdropped)
                || ' ' || (SELECT count(*) FROM relay.relay_tables WHERE relid = '$1'::regclass)
                || ' ' || (SELECT relrowsecurity FROM pg_class WHERE oid = '$1'::regclass)"
}
untouched=$(state_of big)

# 1. Crash during relay_enable_tenancy (offline): the whole call is one transaction.
slow_enable() { P -c "SELECT count(*) FROM relay_enable_tenancy('slow')"; }
(slow_enable >/dev/null 2>&1 &)
running '%relay_enable_tenancy(%slow%' && sleep 1
still=$(P -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%relay_enable_tenancy(''slow'')%' AND state = 'active' AND pid <> pg_backend_pid()")
crash_and_restart
n=$((n + 1))
if [ "$still" = 1 ]; then echo "ok $n - the conversion was running when the server crashed"; else echo "not ok $n - the conversion was running when the server crashed"; failed=$((failed + 1)); fi
is "crash during a conversion: the table is untouched (no column, not registered, no RLS), not half-converted" "0 0 false" "$(state_of slow)"
is "crash during a conversion: relay_verify finds no error" "0" "SELECT count(*) FROM relay_verify() WHERE severity = 'error'"

# 2. A cancelled conversion: the same; then it goes through.
(slow_enable >/dev/null 2>&1 &)
running '%relay_enable_tenancy(%slow%' && sleep 1
P -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%relay_enable_tenancy(''slow'')%' AND pid <> pg_backend_pid()" >/dev/null
wait_until "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE '%relay_enable_tenancy(''slow'')%' AND state = 'active' AND pid <> pg_backend_pid())" || true
is "cancelled conversion: the table is untouched" "0 0 false" "$(state_of slow)"
slow_enable >/dev/null 2>&1
is "after the crash and the cancel, the conversion goes through" "1 1 true" "$(state_of slow)"

# 3. Crash during the online path's concurrent index build: the first catalog run
# committed (the table is isolated and registered); the build leaves an INVALID index;
# the plan, run again, drops it, builds it and finishes.
P -At -c "SELECT statement || ';' FROM relay_tenancy_plan('big', online => true) ORDER BY step" -o "$work/online.sql"
chown postgres:postgres "$work/online.sql"
(P -v ON_ERROR_STOP=1 -f "$work/online.sql" >/dev/null 2>&1 &)
running '%CREATE UNIQUE INDEX CONCURRENTLY%' && sleep 0.3
crash_and_restart
is "crash during the online path: the table is isolated and registered already" "1 1 true" "$untouched"
P -At -c "SELECT statement || ';' FROM relay_tenancy_plan('big', online => true) ORDER BY step" -o "$work/online2.sql"
chown postgres:postgres "$work/online2.sql"
n=$((n + 1))
if P -v ON_ERROR_STOP=1 -f "$work/online2.sql" >"$work/online2.out" 2>&1; then echo "ok $n - the online plan, run again after the crash, completes"
else echo "not ok $n - the online plan, run again after the crash, completes"; tail -5 "$work/online2.out" | sed 's/^/#   /'; failed=$((failed + 1)); fi
is "after the crash and the rerun: no INVALID index, no relay_verify error" "0 0" \
   "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'big'::regclass AND NOT indisvalid) || ' ' || (SELECT count(*) FROM relay_verify() WHERE severity = 'error')"
is "after the crash and the rerun: the keys are per tenant and composite" "2" \
   "SELECT count(*) FROM pg_constraint WHERE conname IN ('big_code_key', 'big_kids_big_id_fkey') AND pg_get_constraintdef(oid) LIKE '%tenant_id%'"

# 4. Crash during audited writes with the chain on: every committed row has its entry,
# no entry survives without its row, and the chain verifies.
P >/dev/null <<'SQL'
CREATE TABLE notes (id bigint PRIMARY KEY, body text);
SELECT count(*) FROM relay_enable_tenancy('notes');
SELECT count(*) FROM relay_enable_audit('notes');
SELECT relay_audit_chain(true);
CREATE SEQUENCE notes_ids;
SQL
cat >"$work/writes.sql" <<'SQL'
BEGIN;
SET LOCAL app.current_tenant_id = 'default-tenant-000-0000-000000000000';
INSERT INTO notes SELECT nextval('notes_ids'), 'row' FROM generate_series(1, 5);
COMMIT;
SQL
chown postgres:postgres "$work/writes.sql"
(as_pg "$PG_BIN/pgbench" -n -h "$work" -p "$PORT" -U postgres -c 4 -j 2 -T 20 -f "$work/writes.sql" faults >/dev/null 2>&1 &)
wait_until "SELECT count(*) > 2000 FROM notes" || true
crash_and_restart
is "crash during audited writes: every committed row has its entry, and no more" "t" \
   "SELECT (SELECT count(*) FROM notes) = (SELECT count(*) FROM relay.audit_logs WHERE resource_type = 'public.notes') AND (SELECT count(*) FROM notes) > 0"
is "crash during audited writes: every chain verifies" "0" "SELECT count(*) FROM relay_audit_verify() WHERE status <> 'ok'"
n=$((n + 1))
if P -c "BEGIN" -c "SET LOCAL app.current_tenant_id = 'default-tenant-000-0000-000000000000'" \
     -c "INSERT INTO notes VALUES (-1, 'after the crash')" -c "COMMIT" >/dev/null 2>&1; then
  echo "ok $n - writes go on after the crash, chained"
else echo "not ok $n - writes go on after the crash, chained"; failed=$((failed + 1)); fi
is "the chain still verifies after new writes" "0" "SELECT count(*) FROM relay_audit_verify() WHERE status <> 'ok'"

# 5. Failover to a streaming standby during chained audited writes: the promoted standby
# has every row it received with its entries (no row without its entry, no entry
# without its row), its chains verify, and it takes writes, chained.
SPORT=$((PORT + 1))
standby=$(postgres_tmpdir)
trap 'stop_cluster "$standby"; rm -rf "$standby"; stop_cluster "$work"; rm -rf "$work"' EXIT
P -c "CREATE ROLE replicator LOGIN REPLICATION" >/dev/null
echo "local replication replicator trust" >>"$work/data/pg_hba.conf"
P -c "SELECT pg_reload_conf()" >/dev/null
as_pg "$PG_BIN/pg_basebackup" -h "$work" -p "$PORT" -U replicator -D "$standby/data" -R -X stream >/dev/null 2>&1
cat >>"$standby/data/postgresql.conf" <<CONF
port = $SPORT
unix_socket_directories = '$standby'
CONF
as_pg "$PG_BIN/pg_ctl" -D "$standby/data" -l "$standby/server.log" -w start >/dev/null
S() { pg "$standby" "$SPORT" -d faults "$@"; }
(as_pg "$PG_BIN/pgbench" -n -h "$work" -p "$PORT" -U postgres -c 4 -j 2 -T 20 -f "$work/writes.sql" faults >/dev/null 2>&1 &)
before=$(P -At -c "SELECT count(*) FROM notes")
for _ in $(seq 1 300); do
  [ "$(S -At -c "SELECT count(*) > $before + 2000 FROM notes" 2>/dev/null)" = t ] && break
  sleep 0.1
done
as_pg "$PG_BIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
as_pg "$PG_BIN/pg_ctl" -D "$standby/data" -w promote >/dev/null
n=$((n + 1))
got=$(S -At -c "SELECT (SELECT count(*) FROM notes) = (SELECT count(*) FROM relay.audit_logs WHERE resource_type = 'public.notes')
                       AND (SELECT count(*) FROM notes) > $before" 2>&1)
if [ "$got" = t ]; then echo "ok $n - failover: the promoted standby has every row it received with its entry, and no more"
else echo "not ok $n - failover: rows and entries on the promoted standby ($got)"; failed=$((failed + 1)); fi
n=$((n + 1))
got=$(S -At -c "SELECT count(*) FROM relay_audit_verify() WHERE status <> 'ok'" 2>&1)
if [ "$got" = 0 ]; then echo "ok $n - failover: every chain verifies on the promoted standby"
else echo "not ok $n - failover: chains on the promoted standby ($got not ok)"; failed=$((failed + 1)); fi
n=$((n + 1))
if S -c "BEGIN" -c "SET LOCAL app.current_tenant_id = 'default-tenant-000-0000-000000000000'" \
     -c "INSERT INTO notes VALUES (-2, 'after the failover')" -c "COMMIT" >/dev/null 2>&1 &&
   [ "$(S -At -c "SELECT count(*) FROM relay_audit_verify() WHERE status <> 'ok'")" = 0 ]; then
  echo "ok $n - failover: the promoted standby takes writes, chained"
else echo "not ok $n - failover: the promoted standby takes writes, chained"; failed=$((failed + 1)); fi
