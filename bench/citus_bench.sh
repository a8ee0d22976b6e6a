#!/usr/bin/env bash
# Benchmark: tenant queries on a three-node Citus cluster (coordinator + two workers on
# loopback, 32 shards). The reference schema is converted with per-tenant keys and
# distributed by relay_distribute; users get 1000 rows in each of 64 tenants. pgbench
# as the application role, one transaction per request (relay_set_tenant, then one
# primary-key lookup), side by side in one run, medians of R runs of T seconds:
#   explicit  WHERE id = :id AND tenant_id = :t     (what Citus needs to route)
#   rls       WHERE id = :id                        (relay adds the tenant: one shard)
#   fan-out   WHERE id = :id, relay.route_tenant_queries = off (every shard)
# each with pgbench's simple and prepared protocols (prepared statements re-plan
# when the tenant changes, which it does from one transaction to the next here).
#   bench/citus_bench.sh [runs] [seconds] [clients]
source "$(dirname "$0")/../scripts/lib.sh"
source "$ROOT/scripts/citus.sh"
runs=${1:-5}
secs=${2:-10}
clients=${3:-4}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh" >/dev/null
reason=$(citus_ready) || { echo "skipped: $reason"; exit 0; }
base=${RELAY_BENCH_PORT:-55430}
work=$(postgres_tmpdir)
trap 'citus_down "$work/nodes"; rm -rf "$work"' EXIT
RELAY_CITUS_CONF="citus.shard_count = 32
max_connections = 200" citus_up "$work/nodes" "$base" bench
cp -r "$(reference_dir)" "$work/reference"
chown -R postgres:postgres "$work"
q() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$base" -U postgres -d bench "$@"; }
echo "converting and distributing the reference schema..."
(cd "$work" && q) <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION relay_tenancy;
\i reference/app-schema.sql
\i reference/app-data.sql
SELECT count(*) FROM relay_enable_tenancy_schema('public', primary_key => 'tenant');
ALTER TABLE usage_events DROP CONSTRAINT usage_events_skill_id_fkey,
  ADD CONSTRAINT usage_events_skill_id_fkey FOREIGN KEY (tenant_id, skill_id) REFERENCES skills (tenant_id, id) ON DELETE CASCADE;
SELECT count(*) FROM relay_distribute('public');
INSERT INTO relay.tenants (id, name, slug) SELECT 't' || g, 'Tenant ' || g, 't' || g FROM generate_series(1, 64) g;
INSERT INTO users (tenant_id, id, email, name)
SELECT 't' || t, 'u' || i, 'user' || i || '@t' || t || '.test', 'User ' || i
FROM generate_series(1, 64) t, generate_series(1, 1000) i;
VACUUM ANALYZE users;
CREATE ROLE app LOGIN;
GRANT SELECT ON users TO app;
SQL

w() { printf '%s\n' "$2" >"$work/$1.sql"; }
head=$'\\set t random(1, 64)\n\\set i random(1, 1000)\nBEGIN;\nSELECT relay_set_tenant(\'t\' || :t);'
w explicit "$head"$'\nSELECT name FROM users WHERE id = \'u\' || :i AND tenant_id = \'t\' || :t;\nCOMMIT;'
w rls      "$head"$'\nSELECT name FROM users WHERE id = \'u\' || :i;\nCOMMIT;'
w fanout   "$head"$'\nSET LOCAL relay.route_tenant_queries = off;\nSELECT name FROM users WHERE id = \'u\' || :i;\nCOMMIT;'
chown postgres:postgres "$work"/*.sql

echo
echo "plans (as the application role, tenant t7):"
for opt in on off; do
  as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$base" -U app -d bench <<SQL | grep -E 'Task Count|Custom Scan|^ *->  Task' | sed "s/^/  route_tenant_queries=$opt: /"
BEGIN;
SELECT relay_set_tenant('t7') \\g /dev/null
SET LOCAL relay.route_tenant_queries = $opt;
EXPLAIN (COSTS OFF) SELECT name FROM users WHERE id = 'u42';
COMMIT;
SQL
done

tps() { # script, protocol
  as_pg "$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$base" -U app -M "$2" -c "$clients" -j "$clients" \
    -T "$secs" -f "$work/$1.sql" bench 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'
}
printf '\n%-10s %-9s %8s   %s\n' "query" "protocol" "median" "runs (tps, $clients clients)"
declare -A med
for proto in simple prepared; do
  declare -A all=()
  for i in $(seq 1 "$runs"); do
    for s in explicit rls fanout; do all[$s]+="$(tps "$s" "$proto") "; done
  done
  for s in explicit rls fanout; do
    med[$s.$proto]=$(printf '%s\n' ${all[$s]} | median)
    printf '%-10s %-9s %8s   %s\n' "$s" "$proto" "${med[$s.$proto]}" "${all[$s]}"
  done
done
echo
for proto in simple prepared; do
  awk -v p="$proto" -v e="${med[explicit.$proto]}" -v r="${med[rls.$proto]}" -v f="${med[fanout.$proto]}" \
    'BEGIN { printf "%-9s rls / explicit = %.2f   rls / fan-out = %.2f\n", p, r / e, r / f }'
done
