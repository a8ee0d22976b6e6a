#!/usr/bin/env bash
# Benchmark: the cost of row-change capture, side by side in one run, on three
# tables of the same shape:
#   none     no trigger
#   plpgsql  a classic PL/pgSQL AFTER ... FOR EACH ROW trigger (the supa_audit /
#            audit-trigger kind) writing the same audit_logs rows: to_jsonb(NEW/OLD)
#   relay    relay_enable_audit: one native statement-level trigger call per statement
#   chain    the same, with the hash chain on (relay_audit_chain(true)) for that run
#   floor    the storage floor: the plain INSERT (none) plus COPY of the same entries,
#            ready-made (relay's, saved once), into a table shaped exactly like
#            audit_logs (its indexes, time-ordered ids) with no trigger or policy
# Bulk: one INSERT ... SELECT of N rows (default 100k), medians of R runs.
# Single row: pgbench, one client, one INSERT per transaction, T seconds per run.
#   bench/audit_bench.sh [rows] [runs] [seconds]
source "$(dirname "$0")/../scripts/lib.sh"
rows=${1:-100000}
runs=${2:-5}
secs=${3:-10}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54349}
throwaway_cluster "$port"
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
q <<'SQL'
CREATE EXTENSION relay_tenancy;
CREATE FUNCTION plpgsql_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  INSERT INTO relay.audit_logs (actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata)
  VALUES (nullif(current_setting('app.current_actor_id', true), ''),
          nullif(current_setting('app.current_tenant_id', true), ''),
          TG_OP, quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME), r.id::text,
          inet_client_addr()::text,
          CASE TG_OP
            WHEN 'INSERT' THEN jsonb_build_object('table', TG_TABLE_NAME, 'new', to_jsonb(NEW))
            WHEN 'DELETE' THEN jsonb_build_object('table', TG_TABLE_NAME, 'old', to_jsonb(OLD))
            ELSE jsonb_build_object('table', TG_TABLE_NAME, 'old', to_jsonb(OLD), 'new', to_jsonb(NEW))
          END);
  RETURN NULL;
END $$;
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['items_none', 'items_plpgsql', 'items_relay'] LOOP
    EXECUTE format('CREATE TABLE %I (id bigserial PRIMARY KEY, name text NOT NULL, qty int,
                    price numeric(10,2), tags jsonb, created_at timestamptz NOT NULL DEFAULT now())', t);
  END LOOP;
END $$;
CREATE TRIGGER plpgsql_audit AFTER INSERT OR UPDATE OR DELETE ON items_plpgsql
  FOR EACH ROW EXECUTE FUNCTION plpgsql_audit();
SELECT relay_enable_audit('items_relay');
CREATE TABLE audit_floor (LIKE relay.audit_logs INCLUDING ALL);
SQL

# audit_logs is append-only: the benchmark (a superuser) lifts the guard to reset.
reset_sql="ALTER TABLE relay.audit_logs DISABLE TRIGGER relay_append_only_truncate;
TRUNCATE relay.audit_logs, items_none, items_plpgsql, items_relay, relay.relay_audit_chains;
DELETE FROM relay.relay_audit_settings;
ALTER TABLE relay.audit_logs ENABLE ALWAYS TRIGGER relay_append_only_truncate;
CHECKPOINT;"
export PGOPTIONS="-c app.current_tenant_id=default-tenant-000-0000-000000000000 -c app.current_actor_id=bench"

# reset_for TABLE: empty the tables and the log; for items_chain (the relay table with the
# chain on) turn the chain on. Prints the table to write.
reset_for() {
  q -c "$reset_sql" >/dev/null
  if [ "$1" = items_chain ]; then q -c "SELECT relay_audit_chain(true)" >/dev/null; echo items_relay; else echo "$1"; fi
}

bulk_once() {
  local table
  table=$(reset_for "$1")
  seconds q -c "INSERT INTO $table (name, qty, price, tags)
                SELECT 'item ' || g, g % 100, g * 1.5, '{\"color\": \"red\"}' FROM generate_series(1, $rows) g"
}

# The entries relay writes for the bulk statement, saved once for the floor's COPY.
bulk_once items_relay >/dev/null
q -c "COPY (SELECT * FROM relay.audit_logs) TO '$dir/entries.copy'" >/dev/null
floor_once() {
  q -c "TRUNCATE audit_floor" -c "CHECKPOINT" >/dev/null
  seconds q -c "COPY audit_floor FROM '$dir/entries.copy'"
}

echo "bulk: one INSERT ... SELECT of $rows rows ($runs runs, seconds)"
printf '%-4s %9s %9s %9s %9s %9s %14s\n' run none copy plpgsql relay chain relay_vs_floor
b_none=(); b_copy=(); b_pl=(); b_relay=(); b_chain=()
for i in $(seq 1 "$runs"); do
  n=$(bulk_once items_none); f=$(floor_once); p=$(bulk_once items_plpgsql); r=$(bulk_once items_relay); c=$(bulk_once items_chain)
  b_none+=("$n"); b_copy+=("$f"); b_pl+=("$p"); b_relay+=("$r"); b_chain+=("$c")
  printf '%-4s %9s %9s %9s %9s %9s %13sx\n' "$i" "$n" "$f" "$p" "$r" "$c" "$(awk -v n="$n" -v f="$f" -v r="$r" 'BEGIN { printf "%.2f", r / (n + f) }')"
done
q -At -c "SELECT 'audit entries written in the last run: ' || count(*) FROM relay.audit_logs"

mb_none=$(printf '%s\n' "${b_none[@]}" | median)
mb_copy=$(printf '%s\n' "${b_copy[@]}" | median)
mb_pl=$(printf '%s\n' "${b_pl[@]}" | median)
mb_relay=$(printf '%s\n' "${b_relay[@]}" | median)
mb_chain=$(printf '%s\n' "${b_chain[@]}" | median)

# Single-row statements without the commit in between: 20,000 one-row INSERTs in one
# DO block (each its own statement, so relay's statement trigger fires per row), the
# per-statement cost measured without pgbench's per-transaction noise.
loop_once() {
  local table
  table=$(reset_for "$1")
  seconds q -c "DO \$\$ BEGIN FOR i IN 1..20000 LOOP
                  INSERT INTO $table (name, qty, price, tags) VALUES ('one', 1, 2.50, '{\"color\": \"red\"}');
                END LOOP; END \$\$"
}
echo
echo "single-row statements: 20,000 one-row INSERTs in one DO block ($runs runs, seconds)"
printf '%-4s %9s %9s %9s %9s\n' run none plpgsql relay chain
l_none=(); l_pl=(); l_relay=(); l_chain=()
for i in $(seq 1 "$runs"); do
  n=$(loop_once items_none); p=$(loop_once items_plpgsql); r=$(loop_once items_relay); c=$(loop_once items_chain)
  l_none+=("$n"); l_pl+=("$p"); l_relay+=("$r"); l_chain+=("$c")
  printf '%-4s %9s %9s %9s %9s\n' "$i" "$n" "$p" "$r" "$c"
done
ml_none=$(printf '%s\n' "${l_none[@]}" | median)
ml_pl=$(printf '%s\n' "${l_pl[@]}" | median)
ml_relay=$(printf '%s\n' "${l_relay[@]}" | median)
ml_chain=$(printf '%s\n' "${l_chain[@]}" | median)

cat >"$dir/insert_none.sql" <<'SQL'
INSERT INTO items_none (name, qty, price, tags) VALUES ('one', 1, 2.50, '{"color": "red"}');
SQL
sed 's/items_none/items_plpgsql/' "$dir/insert_none.sql" >"$dir/insert_plpgsql.sql"
sed 's/items_none/items_relay/' "$dir/insert_none.sql" >"$dir/insert_relay.sql"
chown postgres:postgres "$dir"/*.sql
tps_once() {
  local script
  script=$(reset_for "items_$1")
  script=${script#items_}
  as_pg env PGOPTIONS="$PGOPTIONS" "$PG_BIN/pgbench" -n -h "$dir" -p "$port" -U postgres -c 1 -T "$secs" \
    -f "$dir/insert_$script.sql" bench 2>/dev/null | awk '/^tps/ {print $3}'
}
echo
echo "single row: pgbench, 1 client, one INSERT per transaction, ${secs}s per run (tps)"
printf '%-4s %10s %10s %10s %10s\n' run none plpgsql relay chain
s_none=(); s_pl=(); s_relay=(); s_chain=()
for i in $(seq 1 "$runs"); do
  n=$(tps_once none); p=$(tps_once plpgsql); r=$(tps_once relay); c=$(tps_once chain)
  s_none+=("$n"); s_pl+=("$p"); s_relay+=("$r"); s_chain+=("$c")
  printf '%-4s %10s %10s %10s %10s\n' "$i" "$n" "$p" "$r" "$c"
done
ms_none=$(printf '%s\n' "${s_none[@]}" | median)
ms_pl=$(printf '%s\n' "${s_pl[@]}" | median)
ms_relay=$(printf '%s\n' "${s_relay[@]}" | median)
ms_chain=$(printf '%s\n' "${s_chain[@]}" | median)

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
awk -v n="$mb_none" -v f="$mb_copy" -v p="$mb_pl" -v r="$mb_relay" -v rows="$rows" 'BEGIN {
  printf "bulk medians: none %.3f s, floor %.3f s (none + COPY %.3f s), plpgsql %.3f s, relay %.3f s\n", n, n + f, f, p, r
  printf "  relay = %.2fx the floor (target <= 1.15x); plpgsql = %.2fx the floor; relay throughput = %.2fx plpgsql\n", r / (n + f), p / (n + f), p / r
  printf "  per-row cost added by the trigger: plpgsql %.2f us, relay %.2f us\n", (p - n) / rows * 1e6, (r - n) / rows * 1e6 }'
awk -v n="$ms_none" -v p="$ms_pl" -v r="$ms_relay" 'BEGIN {
  ap = 1e6 / p - 1e6 / n; ar = 1e6 / r - 1e6 / n
  printf "single-row medians: none %.0f tps, plpgsql %.0f tps, relay %.0f tps\n", n, p, r
  printf "  cost added per INSERT: plpgsql %.1f us, relay %.1f us = %.2f of plpgsql'"'"'s (target <= 0.8)\n", ap, ar, ar / ap }'
awk -v r="$mb_relay" -v c="$mb_chain" -v sr="$ms_relay" -v sc="$ms_chain" 'BEGIN {
  printf "hash chain: bulk %.3f s vs %.3f s without (%.2fx); single row %.0f tps vs %.0f tps (%.2fx)\n", c, r, c / r, sc, sr, sr / sc }'
awk -v n="$ml_none" -v p="$ml_pl" -v r="$ml_relay" -v c="$ml_chain" 'BEGIN {
  ap = (p - n) / 20000 * 1e6; ar = (r - n) / 20000 * 1e6; ac = (c - n) / 20000 * 1e6
  printf "single-row statements (medians): none %.3f s, plpgsql %.3f s, relay %.3f s, chain %.3f s\n", n, p, r, c
  printf "  cost added per statement: plpgsql %.1f us, relay %.1f us = %.2f of plpgsql'"'"'s (target <= 0.8); with the chain %.1f us\n", ap, ar, ar / ap, ac }'
