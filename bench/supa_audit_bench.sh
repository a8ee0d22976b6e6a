#!/usr/bin/env bash
# Benchmark: single-row capture against supa_audit, side by side in one run. supa_audit
# is not packaged for Debian and its source is not part of this repository: pass its
# install script (supa_audit--0.3.1.sql from github.com/supabase/supa_audit) as the
# first argument. Its record_id casts the primary key to uuid, so all four tables here
# have a uuid key (gen_random_uuid()):
#   none     no trigger
#   plpgsql  the lean PL/pgSQL row trigger of bench/audit_bench.sh
#   relay    relay_enable_audit
#   supa     audit.enable_tracking (supa_audit's row trigger)
# Each run: 20,000 one-row INSERT statements in one DO block per table, tables and
# audit tables emptied first; medians of R runs.
#   bench/supa_audit_bench.sh /path/to/supa_audit--0.3.1.sql [runs]
source "$(dirname "$0")/../scripts/lib.sh"
supa_sql=${1:?usage: bench/supa_audit_bench.sh /path/to/supa_audit--0.3.1.sql [runs]}
runs=${2:-5}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"
port=${RELAY_BENCH_PORT:-54361}
throwaway_cluster "$port"
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench" >/dev/null
q -q -c 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"' >/dev/null
# (its pg_extension_config_dump calls only work inside CREATE EXTENSION: left out)
grep -v pg_extension_config_dump "$supa_sql" | q -q >/dev/null
# audit_bench.sh's set-up (extension, PL/pgSQL trigger, tables), with uuid keys
sed -n '/^q <<.SQL.$/,/^SQL$/p' "$ROOT/bench/audit_bench.sh" | sed '1d;$d' \
  | sed "s/id bigserial PRIMARY KEY/id uuid PRIMARY KEY DEFAULT gen_random_uuid()/; s/'items_none', 'items_plpgsql', 'items_relay'/'items_none', 'items_plpgsql', 'items_relay', 'items_supa'/" \
  | q -q >/dev/null
q -q -c "SELECT audit.enable_tracking('items_supa')" >/dev/null
export PGOPTIONS="-c app.current_tenant_id=default-tenant-000-0000-000000000000 -c app.current_actor_id=bench"
reset_sql="ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_truncate;
TRUNCATE relay.audit_logs, audit.record_version, items_none, items_plpgsql, items_relay, items_supa;
ALTER TABLE relay.audit_logs ENABLE ALWAYS TRIGGER relay_append_only_truncate;
CHECKPOINT;"
loop_once() {
  q -q -c "$reset_sql" >/dev/null
  seconds q -q -c "DO \$\$ BEGIN FOR i IN 1..20000 LOOP
                     INSERT INTO $1 (name, qty, price, tags) VALUES ('one', 1, 2.50, '{\"color\": \"red\"}');
                   END LOOP; END \$\$"
}
echo "20,000 one-row INSERT statements per table ($runs runs, seconds)"
printf '%-4s %9s %9s %9s %9s\n' run none plpgsql relay supa
n=(); p=(); r=(); s=()
for i in $(seq 1 "$runs"); do
  a=$(loop_once items_none); b=$(loop_once items_plpgsql); c=$(loop_once items_relay); d=$(loop_once items_supa)
  n+=("$a"); p+=("$b"); r+=("$c"); s+=("$d")
  printf '%-4s %9s %9s %9s %9s\n' "$i" "$a" "$b" "$c" "$d"
done
mn=$(printf '%s\n' "${n[@]}" | median); mp=$(printf '%s\n' "${p[@]}" | median)
mr=$(printf '%s\n' "${r[@]}" | median); ms=$(printf '%s\n' "${s[@]}" | median)
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
awk -v n="$mn" -v p="$mp" -v r="$mr" -v s="$ms" 'BEGIN {
  printf "medians: none %.3f s, plpgsql %.3f s, relay %.3f s, supa_audit %.3f s\n", n, p, r, s
  printf "  single-row throughput: relay %.0f/s, supa_audit %.0f/s = %.2fx (target >= 3x)\n", 20000 / r, 20000 / s, s / r
  printf "  cost added per statement: plpgsql %.1f us, relay %.1f us (%.2f of plpgsql), supa_audit %.1f us\n", (p - n) / 20000 * 1e6, (r - n) / 20000 * 1e6, (r - n) / (p - n), (s - n) / 20000 * 1e6 }'
