#!/usr/bin/env bash
# Benchmark: whole schemas in one call (relay_enable_tenancy_schema).
#   1. A synthetic schema of N tables (default 100, 1,000 and 3,000), each with a
#      primary key, a unique key, 10 rows and a foreign key to the previous table (so
#      every call also makes a key composite): total time and time per table, then
#      `SELECT count(*) FROM relay_tenancy_status` (median of 3 after a warm-up) and its
#      time per table. Neither per-table figure may grow with the schema's size.
#   2. The reference schema at scale S (default 100), one schema call against the nine
#      per-table calls, medians of R runs, side by side in one run.
#   bench/schema_bench.sh ["100 1000 3000"] [scale] [runs]
source "$(dirname "$0")/../scripts/lib.sh"
sizes=${1:-100 1000 3000}
scale=${2:-100}
runs=${3:-3}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54329}
# One transaction converting N tables holds a few locks per table until it commits.
export RELAY_EXTRA_CONF="max_locks_per_transaction = 1024"
throwaway_cluster "$port"
q() { pg "$dir" "$port" "$@"; }
ms_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.0f", (b - a) / 1e6 }'; }

echo "== synthetic schemas"
printf '%-8s %12s %14s %12s %16s\n' tables total_ms ms_per_table status_ms status_ms_per_table
for n in $sizes; do
  q -d postgres -c "CREATE DATABASE syn_$n" >/dev/null
  q -d "syn_$n" >/dev/null <<SQL
CREATE EXTENSION relay_tenancy;
CREATE SCHEMA app;
DO \$\$
BEGIN
  FOR i IN 1..$n LOOP
    EXECUTE format('CREATE TABLE app.%I (id int PRIMARY KEY, code text UNIQUE, prev_id int %s)',
                   't' || lpad(i::text, 5, '0'),
                   CASE WHEN i > 1 THEN format('REFERENCES app.%I (id)', 't' || lpad((i - 1)::text, 5, '0')) ELSE '' END);
    EXECUTE format('INSERT INTO app.%I SELECT g, %L || g, NULL FROM generate_series(1, 10) g',
                   't' || lpad(i::text, 5, '0'), 'c');
  END LOOP;
END \$\$;
SQL
  q -d postgres -c "CHECKPOINT" >/dev/null
  start=$(date +%s%N)
  lines=$(q -d "syn_$n" -At -c "SELECT count(*) FROM relay_enable_tenancy_schema('app')")
  total=$(ms_since "$start")
  composite=$(q -d "syn_$n" -At -c "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND array_length(conkey, 1) = 2")
  status=$(for _ in 1 2 3 4; do
    q -d "syn_$n" -At -c '\timing on' -c 'SELECT count(*) FROM relay.relay_tenancy_status' | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'
  done | tail -3 | median)
  printf '%-8s %12s %14s %12s %16s   (%s lines, %s composite keys)\n' "$n" "$total" \
    "$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.1f", t / n }')" "$status" \
    "$(awk -v t="$status" -v n="$n" 'BEGIN { printf "%.4f", t / n }')" "$lines" "$composite"
  q -d postgres -c "DROP DATABASE syn_$n" >/dev/null
done

echo
echo "== the reference schema at scale $scale: one schema call vs nine per-table calls"
ref=$(reference_dir)
cp "$ref"/app-schema.sql "$ref"/app-data.sql "$dir/"
cp "$ROOT/scripts/enable-reference.sql" "$dir/relay.sql"
chown postgres:postgres "$dir"/*.sql
q -d postgres -c "CREATE DATABASE base" >/dev/null
q -d base -f "$dir/app-schema.sql" >/dev/null
q -d base -v scale="$scale" -f "$dir/app-data.sql" >/dev/null
q -d base -c "VACUUM ANALYZE" >/dev/null
# timed_copy PSQL_ARGS...: ms to run psql with these arguments on a fresh copy of base
timed_copy() {
  q -d postgres -c "CREATE DATABASE run TEMPLATE base" >/dev/null
  q -d run -c "CREATE EXTENSION relay_tenancy" >/dev/null
  q -d postgres -c "CHECKPOINT" >/dev/null
  local start
  start=$(date +%s%N)
  q -d run "$@" >/dev/null
  ms_since "$start"
  q -d postgres -c "DROP DATABASE run" >/dev/null
}
one=(); nine=()
for i in $(seq 1 "$runs"); do
  one+=("$(timed_copy -c "SELECT count(*) FROM relay_enable_tenancy_schema('public', global_unique => ARRAY['users.email', 'api_keys.key_hash'])")")
  nine+=("$(timed_copy -f "$dir/relay.sql")")
  echo "run $i: schema call ${one[-1]} ms, nine calls ${nine[-1]} ms"
done
m1=$(printf '%s\n' "${one[@]}" | median)
m9=$(printf '%s\n' "${nine[@]}" | median)
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -d postgres -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
echo "reference scale $scale medians: schema call $m1 ms, nine per-table calls $m9 ms"
