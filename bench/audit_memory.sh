#!/usr/bin/env bash
# Benchmark: the capture trigger's memory as a statement grows. One audited table;
# a single INSERT ... SELECT of N rows (one audit entry each), for N = 1M and 10M by
# default, each in a new session, into an audited table and, for comparison, into a
# plain one (what the INSERT itself needs). The backend's anonymous (private) resident memory,
# RssAnon from /proc, is sampled every 50 ms while the statement runs: its peak is
# what the statement needed beyond shared buffers. Flat = bounded.
#   bench/audit_memory.sh ["1000000 10000000"]
source "$(dirname "$0")/../scripts/lib.sh"
sizes=${1:-"1000000 10000000"}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"
port=${RELAY_BENCH_PORT:-54363}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'" throwaway_cluster "$port"
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
q -c "CREATE EXTENSION relay_tenancy" >/dev/null
echo "rows      table      peak RssAnon of the backend   statement"
for n in $sizes; do
 for kind in plain audited; do
  q -c "CREATE TABLE items_${kind}_$n (id bigint PRIMARY KEY, name text, price numeric, at timestamptz)" >/dev/null
  [ "$kind" = audited ] && q -c "SELECT relay_enable_audit('items_${kind}_$n')" >/dev/null
  # the statement, in its own session; its backend's pid first
  fifo=$(mktemp -u); mkfifo "$fifo"; chmod 666 "$fifo"
  ( q -At -v ON_ERROR_STOP=1 <<SQL >"$fifo"
SELECT pg_backend_pid();
SELECT relay_set_tenant('default-tenant-000-0000-000000000000', false) IS NOT NULL;
\\timing on
INSERT INTO items_${kind}_$n SELECT g, 'item ' || g, g * 1.5, now() FROM generate_series(1, $n) g;
SQL
  ) &
  exec 3<"$fifo"
  read -r pid <&3
  peak=0
  while kill -0 "$pid" 2>/dev/null && [ -e "/proc/$pid/status" ]; do
    kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
    if ! read -r -t 0.05 line <&3; then continue; fi
    case "$line" in Time:*) took=$line; break;; esac
  done
  wait || true
  exec 3<&-; rm -f "$fifo"
  printf "%-9s %-10s %6.1f MB                     %s\n" "$n" "$kind" "$(echo "$peak / 1024" | bc -l)" "${took:-?}"
 done
done
q -At -c "SELECT 'audit entries: ' || count(*) FROM relay.audit_logs"
