#!/usr/bin/env bash
# Online conversion by the background worker (relay_enable_tenancy_background) when
# things go wrong (issue 23, item 5): the server crashes in the middle of a job's
# concurrent index build and the job resumes by itself after the restart (relay is in
# shared_preload_libraries: the launcher starts a worker); the worker is terminated
# during a build and CALL relay_online_wait starts another, which resumes; the
# application's stream of reads and updates goes on through a whole job with no
# failed transaction. After each, the end state is relay_enable_tenancy's (registered,
# isolated, every index valid). Bounded: fixed sizes, each wait polled at most 60 s.
# Prints TAP.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5486}
# synchronous_commit on, PostgreSQL's default (lib.sh turns it off for speed): the crash
# below comes as soon as the worker is building, and with it off the migration's own
# commit (the queued job) could still sit in the WAL buffers and be lost with them: no
# job to resume. The worker's catalog runs commit with it off either way (a lost run is
# run again; the job's later commits flush it).
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
restart_after_crash = off
synchronous_commit = on" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" -d bg "$@"; }
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }
is() { # is NAME EXPECTED SQL
  local got
  got=$(P -At -c "$3" 2>"$work/is.stderr") || true
  if [ "$got" = "$2" ]; then ok "$1"; else
    not_ok "$1"; echo "#   expected: $2"; echo "#   got:      $got"; sed 's/^/#   stderr: /' "$work/is.stderr"; fi
}
wait_until() { # wait_until SQL: poll until it returns t, 60 s at most
  for _ in $(seq 1 600); do
    [ "$(P -At -c "$1" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  return 1
}
building() { # a worker is running a concurrent index build on table $1
  wait_until "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'relay online conversion'
                               AND state = 'active' AND query LIKE 'CREATE %INDEX CONCURRENTLY % ON public.$1 %')"
}
converted() { # the end state of table $1
  echo "SELECT (SELECT count(*) FROM relay.relay_tables WHERE relid = '$1'::regclass)
            || ' ' || (SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = '$1'::regclass)
            || ' ' || (SELECT count(*) FROM pg_index WHERE indrelid = '$1'::regclass AND NOT indisvalid)
            || ' ' || (SELECT coalesce(array_length(problems, 1), 0) FROM relay.relay_tenancy_status WHERE table_name = '$1'::regclass)"
}

pg "$work" "$PORT" -d postgres -c "CREATE DATABASE bg" >/dev/null
P >/dev/null <<'SQL'
CREATE EXTENSION relay_tenancy;
-- Tables whose concurrent builds take seconds (a unique key over a slow expression),
-- so that a crash or a terminate lands in the middle of one.
CREATE FUNCTION slow_key(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
  AS $$ BEGIN PERFORM pg_catalog.pg_sleep(0.0003); RETURN t; END $$;
CREATE TABLE crashy (id int PRIMARY KEY, code text NOT NULL, v int NOT NULL DEFAULT 0);
INSERT INTO crashy SELECT g, 'c' || g FROM generate_series(1, 8000) g;
CREATE UNIQUE INDEX crashy_code_key ON crashy (public.slow_key(code));
CREATE TABLE killed (LIKE crashy INCLUDING ALL);
INSERT INTO killed SELECT * FROM crashy;
CREATE TABLE busy (id int PRIMARY KEY, email text NOT NULL UNIQUE, v int NOT NULL DEFAULT 0);
INSERT INTO busy SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 400000) g;
CHECKPOINT;
SQL

# 1. A crash in the middle of a job: the server restarts, the launcher starts a worker,
# which finds the job running with no worker and resumes it from the table as it is
# (the INVALID index the cut-off build left is dropped and built again).
P -c "SELECT relay_enable_tenancy_background('crashy')" >/dev/null
if building crashy; then ok "crash: the worker is building an index concurrently"; else not_ok "crash: the worker is building an index concurrently"; fi
as_pg "$PG_BIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
as_pg "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
if wait_until "SELECT state = 'done' FROM relay.online_conversions WHERE \"table\" = 'public.crashy'"; then
  ok "crash: after the restart the job resumed by itself and is done"
else
  not_ok "crash: after the restart the job resumed by itself and is done"
  P -c "SELECT * FROM relay.online_conversions" | sed 's/^/#   /'
fi
is "crash: the job took two workers" "2" "SELECT attempts FROM relay.online_conversions WHERE \"table\" = 'public.crashy'"
is "crash: converted (registered, isolated, no INVALID index, no problem)" "1 true 0 0" "$(converted crashy)"

# 2. The worker terminated during a build: the job stays running with no worker;
# relay_online_wait starts another, which resumes it.
P -c "SELECT relay_enable_tenancy_background('killed')" >/dev/null
if building killed; then ok "terminate: the worker is building an index concurrently"; else not_ok "terminate: the worker is building an index concurrently"; fi
P -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'relay online conversion'" >/dev/null
wait_until "SELECT NOT worker FROM relay.online_conversions WHERE \"table\" = 'public.killed'" || true
is "terminate: the job is left running, with no worker" "running false" \
  "SELECT state || ' ' || worker FROM relay.online_conversions WHERE \"table\" = 'public.killed'"
if P -c "CALL relay_online_wait('killed', timeout => '60 s')" >/dev/null 2>"$work/wait.err"; then
  ok "terminate: CALL relay_online_wait started a worker and returned when it was done"
else not_ok "terminate: CALL relay_online_wait started a worker and returned when it was done"; sed 's/^/#   /' "$work/wait.err"; fi
is "terminate: converted (registered, isolated, no INVALID index, no problem)" "1 true 0 0" "$(converted killed)"

# 3. Under the application's load: 4 clients read and update by id through the whole
# job; none fails (no deadlock, no lock timeout reaches the application).
cat >"$work/stream.sql" <<'SQL'
\set id random(1, 400000)
SELECT v FROM busy WHERE id = :id;
UPDATE busy SET v = v + 1 WHERE id = :id;
SQL
chown postgres "$work/stream.sql"
(cd "$work" && as_pg "$PG_BIN/pgbench" -n -h "$work" -p "$PORT" -U postgres -c 4 -j 2 -T 15 -f "$work/stream.sql" bg \
   >"$work/pgbench.out" 2>&1; echo $? >"$work/pgbench.rc") &
stream=$!
sleep 2
P -c "SELECT relay_enable_tenancy_background('busy')" >/dev/null
if P -c "CALL relay_online_wait('busy', timeout => '60 s')" >/dev/null 2>"$work/wait.err"; then
  ok "load: the job finished while the stream ran"
else not_ok "load: the job finished while the stream ran"; sed 's/^/#   /' "$work/wait.err"; fi
wait "$stream" || true
if [ "$(cat "$work/pgbench.rc")" = 0 ] && ! grep -q "aborted\|failed: [1-9]" "$work/pgbench.out"; then
  ok "load: no transaction of the stream failed ($(grep -o 'number of transactions actually processed: [0-9]*' "$work/pgbench.out"))"
else not_ok "load: no transaction of the stream failed"; sed 's/^/#   /' "$work/pgbench.out"; fi
is "load: converted (registered, isolated, no INVALID index, no problem)" "1 true 0 0" "$(converted busy)"
is "load: the rows the stream wrote belong to the default tenant" "0" "SELECT count(*) FROM busy WHERE tenant_id IS NULL"

echo "1..$n"
[ "$failed" = 0 ]
