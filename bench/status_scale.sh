#!/usr/bin/env bash
# How relay_tenancy_status scales with the number of tenant-enabled tables: for each N,
# a throwaway cluster, N one-column tables in one schema converted by one schema call,
# then `SELECT count(*) FROM relay_tenancy_status` timed (median of 3 runs after a
# warm-up), printed with the time per table. No baseline: the target is a flat time
# per table.
#   bench/status_scale.sh ["300 1200 3000"]
source "$(dirname "$0")/../scripts/lib.sh"
counts=${1:-300 1200 3000}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh" >/dev/null
port=${RELAY_BENCH_PORT:-54371}
echo "tables  status_ms  ms_per_table"
for n in $counts; do
  # every lock of the schema call is taken up front: a few per table
  RELAY_EXTRA_CONF="max_locks_per_transaction = 512" throwaway_cluster "$port"
  q() { pg "$dir" "$port" -d postgres "$@"; }
  q -c "CREATE EXTENSION relay_tenancy" -c "CREATE SCHEMA s" >/dev/null
  q >/dev/null <<SQL
SELECT format('CREATE TABLE s.t%s (id int PRIMARY KEY)', g) FROM generate_series(1, $n) g \\gexec
SQL
  q -c "SELECT count(*) FROM relay_enable_tenancy_schema('s')" >/dev/null
  times=$(for _ in 1 2 3 4; do
    q -At -c '\timing on' -c 'SELECT count(*) FROM relay.relay_tenancy_status' | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p'
  done | tail -3)
  ms=$(echo "$times" | median)
  awk -v n="$n" -v ms="$ms" 'BEGIN { printf "%6d  %9.1f  %12.4f\n", n, ms, ms / n }'
  stop_cluster "$dir"; rm -rf "$dir"; trap - EXIT
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $RELAY_PG, $(date +%F)"
