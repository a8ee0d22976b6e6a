#!/usr/bin/env bash
# Benchmark: how long the application stalls while a big table is converted.
# A table of N rows (default 5M; primary key, a unique email, a referencing child
# table) under a pgbench stream of single-row reads and updates (4 clients, random
# ids, per-transaction latencies logged). The table is converted either by
# relay_enable_tenancy (one transaction: ACCESS EXCLUSIVE while the indexes build and
# the foreign key validates) or by the online path (relay_tenancy_plan(...,
# online => true) \gexec), or by the background worker (relay_enable_tenancy_background,
# then CALL relay_online_wait); a control run converts nothing for as long as the
# background path took, to show the stream's own longest latency on this machine. The
# stall is the longest latency of any transaction of the stream during the conversion;
# medians of R runs, every path in every run.
#   bench/online_bench.sh [runs] [rows]
source "$(dirname "$0")/../scripts/lib.sh"
runs=${1:-3}
rows=${2:-5000000}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54361}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
max_connections = 50" throwaway_cluster "$port"
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
q -c "CREATE EXTENSION relay_tenancy" >/dev/null
cat >"$dir/stream.sql" <<SQL
\set id random(1, $rows)
SELECT v FROM big WHERE id = :id;
UPDATE big SET v = v + 1 WHERE id = :id;
SQL
chown postgres "$dir/stream.sql"

load() {
  q >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS big_child, big;
DELETE FROM relay.relay_tables;
DELETE FROM relay.online_jobs;
CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, v int NOT NULL DEFAULT 0);
INSERT INTO big (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, $rows) g;
CREATE TABLE big_child (id bigint PRIMARY KEY, big_id bigint REFERENCES big (id));
INSERT INTO big_child SELECT g, g FROM generate_series(1, $rows / 10) g;
SELECT relay_enable_tenancy('big_child');
VACUUM ANALYZE big;
VACUUM ANALYZE big_child;
CHECKPOINT;
SQL
}

# stall PATH: convert big by PATH (offline | online) under the stream; prints the
# longest latency (ms) of the stream while the conversion ran, and its duration (s).
stall() {
  local path=$1 log="$dir/pgbench_$1"
  rm -f "$log".*
  (cd "$dir" && as_pg "$PG_BIN/pgbench" -n -h "$dir" -p "$port" -U postgres -c 4 -j 2 -T 600 \
      -f "$dir/stream.sql" -l --log-prefix="$log" bench >/dev/null 2>&1) &
  local bench=$!
  sleep 3
  local t0 t1
  t0=$(date +%s%N)
  if [ "$path" = offline ]; then
    q -c "SET relay.progress = -1" -c "SELECT count(*) FROM relay_enable_tenancy('big')" >/dev/null
  elif [ "$path" = background ]; then
    q -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM relay_enable_tenancy_background('big')" -c "CALL relay_online_wait('big')" >/dev/null
  elif [ "$path" = control ]; then
    sleep "${control_s:-30}"
  else
    q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET relay.progress = -1;
SELECT statement FROM relay_tenancy_plan('big', online => true) ORDER BY step \gexec
SQL
  fi
  t1=$(date +%s%N)
  sleep 2
  pg "$dir" "$port" -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbench'" >/dev/null
  wait "$bench" 2>/dev/null || true
  # The background worker's lock windows (each try of a catalog run: start, ms).
  local windows=""
  [ "$path" = background ] && windows=$(q -At -c "SELECT string_agg((w ->> 'at') || ':' || (w ->> 'ms') || ':' || coalesce(w ->> 'held_ms', '0') || ':' || coalesce(w ->> 'read_again', 'false')
                                     || ':' || coalesce(w ->> 'asked_ms', '0') || ':' || coalesce(w ->> 'ok', 'true'), ' ')
      FROM relay.online_jobs j, jsonb_array_elements(j.lock_windows) w WHERE j.id = (SELECT max(id) FROM relay.online_jobs)")
  # pgbench -l: client tx latency_us script epoch_s epoch_us (time the transaction ended).
  # Prints: the longest latency while the conversion ran (ms), its duration (s), the
  # longest a catalog run held its locks (ms, from the first lock to the commit), the
  # longest latency of a transaction that overlapped a catalog run's transaction (ms:
  # its whole transaction, the planning before the lock included); how many catalog
  # runs read the catalog again under their locks (an invalidation message arrived
  # since they read it); the longest latency of a transaction that overlapped relay's
  # lock, from its request (new transactions queue behind it) to its release: what the
  # ACCESS EXCLUSIVE runs cost the stream; how many tries timed out on the lock.
  cat "$log".* | awk -v t0="$t0" -v t1="$t1" -v windows="$windows" '
    BEGIN { nw = split(windows, w, " "); for (i = 1; i <= nw; i++) { split(w[i], p, ":");
              ws[i] = p[1] * 1e9; we[i] = p[1] * 1e9 + p[2] * 1e6; if (p[3] > hmax) hmax = p[3]
              ls[i] = (p[5] > 0) ? we[i] - p[5] * 1e6 : we[i] + 1   # (no lock taken: no window)
              if (p[4] == "true") reread++
              if (p[6] == "false") failed++ } }
    { end_ns = ($5 * 1000000 + $6) * 1000; start_ns = end_ns - $3 * 1000;
      if (end_ns >= t0 && start_ns <= t1 && $3 > max) max = $3
      for (i = 1; i <= nw; i++) {
        if (start_ns <= we[i] && end_ns >= ws[i] && $3 > omax) omax = $3
        if (ls[i] <= we[i] && start_ns <= we[i] && end_ns >= ls[i] && $3 > lmax) lmax = $3 } }
    END { printf "%.1f %.1f %.1f %.1f %d %.1f %d\n", max / 1000, (t1 - t0) / 1e9, hmax, omax / 1000, reread, lmax / 1000, failed }'
}

q -c "SELECT 1" >/dev/null
echo "table: $rows rows (primary key, unique email), child: $((rows / 10)) rows; stream: 4 clients, SELECT + UPDATE by random id"
for p in offline online background control; do : >"$dir/$p"; done
for r in $(seq 1 "$runs"); do
  load; read -r s d _ < <(stall offline); echo "$s $d" >>"$dir/offline"; echo "run $r offline:    longest stall ${s} ms, conversion ${d} s"
  load; read -r s d _ < <(stall online);  echo "$s $d" >>"$dir/online";  echo "run $r online:     longest stall ${s} ms, conversion ${d} s"
  load; read -r s d lw lo rr ll tf < <(stall background); echo "$s $d $lw $lo $ll" >>"$dir/background"
  echo "run $r background: longest stall ${s} ms, conversion ${d} s; locks held at most ${lw} ms per catalog run (${rr} read the catalog again under the locks, ${tf} tries timed out on the lock), longest latency of a transaction overlapping a catalog run ${lo} ms, overlapping relay's lock (from its request to its release) ${ll} ms"
  control_s=${d%.*}; read -r s d _ < <(stall control); echo "$s $d" >>"$dir/control"; echo "run $r control (no conversion, ${d} s): longest latency ${s} ms"
done
med() { cut -d' ' -f"$2" "$dir/$1" | median; }
echo
echo "median longest stall: relay_enable_tenancy $(med offline 1) ms (conversion $(med offline 2) s); online path $(med online 1) ms (conversion $(med online 2) s); background worker $(med background 1) ms (conversion $(med background 2) s)"
echo "median longest latency with no conversion (control): $(med control 1) ms"
echo "background worker: median longest lock hold of a catalog run $(med background 3) ms; median longest latency of a stream transaction overlapping a catalog run $(med background 4) ms, overlapping relay's lock $(med background 5) ms"
awk -v a="$(med offline 1)" -v b="$(med online 1)" -v c="$(med background 1)" -v z="$(med control 1)" 'BEGIN {
  printf "ratio: the online path stalls the stream %.0fx less than relay_enable_tenancy, the background worker %.0fx less\n", a / b, a / c
  printf "above the control: online path %+.1f ms, background worker %+.1f ms\n", b - z, c - z }'
