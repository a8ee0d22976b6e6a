#!/usr/bin/env bash
# Benchmark: what setting the tenant per request costs. One transaction per request,
# as an application behind a pooler runs it: BEGIN, set the tenant, one primary-key
# lookup in a tenant-enabled table (100k rows over 100 tenants), COMMIT. pgbench, one
# client, side by side in one run (cases alternate), medians of R runs of T seconds:
#   set_config   SELECT set_config('app.current_tenant_id', 't42', true)   (the floor)
#   relay        SELECT public.relay_set_tenant('t42')                     (open mode)
#   token+config a token fetched from a table of pre-minted ones, then set_config
#                (open mode: the floor of the signed request below)
#   signed       the same token fetch, then SELECT public.relay_set_tenant('t42', :'token')
#                in relay.context_mode = signed, each token single-use
# Reports relay / set_config (target 1.15x) and signed / token+config (target 1.5x),
# as the ratio of the median time per transaction.
#   bench/context_bench.sh [runs] [seconds]
#   RELAY_BENCH_PROTOCOL=simple: pgbench's simple protocol (values spliced into the SQL
#   text, as the issue's first measurement ran it) instead of -M prepared
source "$(dirname "$0")/../scripts/lib.sh"
runs=${1:-5}
secs=${2:-5}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54369}
keydir=$(postgres_tmpdir)
write_test_key "$keydir"
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
relay.token_key_file = '$keydir/relay_token.key'
relay.token_replay_slots = 2097152" throwaway_cluster "$port"
trap 'stop_cluster "$dir"; rm -rf "$dir" "$keydir"' EXIT
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
# Enough single-use tokens for every signed transaction of every run.
tokens=$((runs * secs * 6000 + 10000))
echo "loading 100k rows over 100 tenants; minting $tokens tokens..."
q <<SQL >/dev/null
CREATE EXTENSION relay_tenancy;
INSERT INTO relay.tenants (id, name, slug) SELECT 't' || g, 'Tenant ' || g, 't' || g FROM generate_series(0, 99) g;
CREATE TABLE accounts (id bigint PRIMARY KEY, tenant_id text NOT NULL, email text NOT NULL, balance numeric(12,2));
INSERT INTO accounts SELECT g, 't' || (g % 100), 'user' || g || '@example.com', g % 997 FROM generate_series(1, 100000) g;
SELECT relay_enable_tenancy('accounts');
CREATE TABLE bench_tokens (id bigint PRIMARY KEY, token text NOT NULL);
INSERT INTO bench_tokens SELECT g, relay_tenant_token('t42', '1 hour') FROM generate_series(1, $tokens) g;
CREATE SEQUENCE bench_token_seq;
VACUUM (FREEZE, ANALYZE);
CREATE ROLE app LOGIN;
CREATE ROLE app_signed LOGIN;
ALTER ROLE app_signed SET relay.context_mode = signed;
GRANT SELECT ON accounts, bench_tokens TO app, app_signed;
GRANT USAGE ON SEQUENCE bench_token_seq TO app, app_signed;
SQL

w() { printf '%s\n' "$2" >"$dir/$1.sql"; }
lookup=$'\\set k random(0, 999)\nSELECT * FROM accounts WHERE id = :k * 100 + 42;'
fetch="SELECT token FROM bench_tokens WHERE id = (SELECT nextval('bench_token_seq')) \\gset"
w set_config   "BEGIN;"$'\n'"SELECT set_config('app.current_tenant_id', 't42', true);"$'\n'"$lookup"$'\n'"COMMIT;"
w relay        "BEGIN;"$'\n'"SELECT public.relay_set_tenant('t42');"$'\n'"$lookup"$'\n'"COMMIT;"
w token_config "$fetch"$'\n'"BEGIN;"$'\n'"SELECT set_config('app.current_tenant_id', 't42', true);"$'\n'"$lookup"$'\n'"COMMIT;"
protocol=${RELAY_BENCH_PROTOCOL:-prepared}
token_arg=":token"; [ "$protocol" = simple ] && token_arg="':token'"
w signed       "$fetch"$'\n'"BEGIN;"$'\n'"SELECT public.relay_set_tenant('t42', $token_arg);"$'\n'"$lookup"$'\n'"COMMIT;"
chown postgres:postgres "$dir"/*.sql

tps() { # script role
  as_pg "$PG_BIN/pgbench" -n -h "$dir" -p "$port" -U "$2" -M "$protocol" -c 1 -T "$secs" -f "$dir/$1.sql" bench 2>/dev/null |
    awk '/^tps/ {printf "%.0f", $3}'
}
# every case works before it is timed (a failing script would report 0 tps)
for c in set_config:app relay:app token_config:app signed:app_signed; do
  out=$(as_pg "$PG_BIN/pgbench" -n -h "$dir" -p "$port" -U "${c#*:}" -M "$protocol" -c 1 -t 3 -f "$dir/${c%%:*}.sql" bench 2>&1) ||
    { echo "case ${c%%:*} fails:"; echo "$out" | grep -v "^pgbench (\|^transaction type\|^scaling\|^query mode\|^number of clients\|^number of threads" | head -20; exit 1; }
done

declare -A results
printf '\n%-14s %s\n' "case (tps)" "runs"
all=()
for c in set_config relay token_config signed; do all+=("$c"); done
declare -A samples
for i in $(seq 1 "$runs"); do
  for c in "${all[@]}"; do
    role=app; [ "$c" = signed ] && role=app_signed
    samples[$c]+="$(tps "$c" "$role") "
  done
done
for c in "${all[@]}"; do
  results[$c]=$(printf '%s\n' ${samples[$c]} | median)
  printf '%-14s %s\n' "$c" "${samples[$c]}"
done
used=$(q -At -c "SELECT last_value FROM bench_token_seq")
echo
echo "protocol: $protocol"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d); tokens spent: $used"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
echo "relay_set_tenant / set_config: $(ratio "${results[set_config]}" "${results[relay]}")x per transaction (${results[relay]} vs ${results[set_config]} tps; target 1.15x)"
echo "signed single-use / token + set_config: $(ratio "${results[token_config]}" "${results[signed]}")x per transaction (${results[signed]} vs ${results[token_config]} tps; target 1.5x)"
echo "signed single-use / set_config: $(ratio "${results[set_config]}" "${results[signed]}")x per transaction"
