#!/usr/bin/env bash
# Benchmark: the reference migrations 0003-0005 (nullable column, full-table UPDATE
# backfill, enforcement) against nine relay_enable_tenancy calls, side by side on
# identical copies of the same data, in one run.
#   bench/enable_bench.sh [scale] [runs]      defaults: scale 200 (2M usage_events), 5 runs
#   RELAY_ENABLE_SQL=bench/enable-reference-single-column-fks.sql: relay keeps the foreign
#   keys single-column, as the reference does (like for like)
# Prints each run and the medians: wall time of each, the ratio, and the total size
# of the nine tables (heap + indexes + toast) before and after.
source "$(dirname "$0")/../scripts/lib.sh"
scale=${1:-200}
runs=${2:-5}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54339}
throwaway_cluster "$port"
ref=$(reference_dir)
cp "$ref"/app-schema.sql "$ref"/app-data.sql "$dir/"
# The timed part of the reference: migrations 0003, 0004 and 0005. 0002 (the
# tenants table) is set-up, as CREATE EXTENSION is for relay.
sed -n '/^-- ==== 0002/,/^-- ==== 0003/p' "$ref/reference-migrations.sql" >"$dir/ref-0002.sql"
sed -n '/^-- ==== 0003/,/^-- ==== 0006/p' "$ref/reference-migrations.sql" >"$dir/ref-0003-0005.sql"
cp "${RELAY_ENABLE_SQL:-$ROOT/scripts/enable-reference.sql}" "$dir/relay.sql"
chown postgres:postgres "$dir"/*.sql
q() { pg "$dir" "$port" "$@"; }

SIZE_SQL="SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
    AND c.relname IN ('users','skills','ratings','usage_events','skill_versions',
                      'skill_embeddings','skill_reviews','api_keys','site_settings')"

echo "loading the reference schema at scale $scale into a template database..."
q -d postgres -c "CREATE DATABASE base"
q -d base -f "$dir/app-schema.sql"
t0=$(date +%s)
q -d base -v scale="$scale" -f "$dir/app-data.sql"
q -d base -c "VACUUM ANALYZE"
echo "loaded in $(( $(date +%s) - t0 )) s"
q -d base -At -c "SELECT relname || ': ' || n_live_tup || ' rows, ' || pg_size_pretty(pg_total_relation_size(relid))
                  FROM pg_stat_user_tables ORDER BY n_live_tup DESC" | sed 's/^/  /'
size_before=$(q -d base -At -c "$SIZE_SQL")

# seconds.nanoseconds of one psql -f run
timed() {
  local db=$1 file=$2 start end
  q -d postgres -c "CHECKPOINT" >/dev/null
  start=$(date +%s%N)
  q -d "$db" -f "$file" >/dev/null
  end=$(date +%s%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

run_reference() {
  q -d postgres -c "CREATE DATABASE ref_run TEMPLATE base"
  q -d ref_run -f "$dir/ref-0002.sql" >/dev/null
  ref_s=$(timed ref_run "$dir/ref-0003-0005.sql")
  ref_size=$(q -d ref_run -At -c "$SIZE_SQL")
  q -d postgres -c "DROP DATABASE ref_run"
}
run_relay() {
  q -d postgres -c "CREATE DATABASE relay_run TEMPLATE base"
  q -d relay_run -c "CREATE EXTENSION relay_tenancy"
  relay_s=$(timed relay_run "$dir/relay.sql")
  relay_size=$(q -d relay_run -At -c "$SIZE_SQL")
  # the indexes relay added: every index of the nine tables that leads with tenant_id
  relay_new_idx=$(q -d relay_run -At -c "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0)
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE a.attname = 'tenant_id' AND i.indrelid IN (SELECT relid FROM relay.relay_tables)")
  q -d postgres -c "DROP DATABASE relay_run"
}

printf '\n%-4s %10s %10s %8s %12s %12s\n' run ref_s relay_s ratio ref_MB relay_MB
results=()
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then run_reference; run_relay; else run_relay; run_reference; fi
  ratio=$(awk -v a="$ref_s" -v b="$relay_s" 'BEGIN { printf "%.2f", a / b }')
  printf '%-4s %10s %10s %8s %12s %12s\n' "$i" "$ref_s" "$relay_s" "${ratio}x" \
    $((ref_size / 1048576)) $((relay_size / 1048576))
  results+=("$ref_s $relay_s $ratio")
done

m_ref=$(printf '%s\n' "${results[@]}" | awk '{print $1}' | median)
m_relay=$(printf '%s\n' "${results[@]}" | awk '{print $2}' | median)
m_ratio=$(printf '%s\n' "${results[@]}" | awk '{print $3}' | median)
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -d postgres -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
echo "scale $scale, $runs runs, medians: reference 0003-0005 ${m_ref} s, relay ${m_relay} s, relay is ${m_ratio}x faster"
echo "size of the nine tables (heap, toast, indexes): before $((size_before / 1048576)) MB;" \
     "after reference $((ref_size / 1048576)) MB; after relay $((relay_size / 1048576)) MB," \
     "within before + relay's new tenant_id-leading indexes ($((size_before / 1048576)) + $((relay_new_idx / 1048576)) MB;" \
     "the global unique indexes they replace were dropped)"
