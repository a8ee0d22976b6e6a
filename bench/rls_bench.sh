#!/usr/bin/env bash
# Benchmark: what row level security costs. One 1M-row table spread over 1000
# tenants, in two copies with the same data and indexes: `rls_accounts`
# (tenant-enabled by relay: RLS forced, the tenant from the session) and
# `plain_accounts` (no RLS; queries name tenant_id themselves). pgbench, one client,
# side by side in one run, medians of R runs of T seconds:
#   (a) primary-key lookup     RLS: WHERE id = :id          plain: WHERE id = :id AND tenant_id = :t
#   (b) tenant aggregate       RLS: count/sum over the table plain: ... WHERE tenant_id = :t
#       over a sequential scan (index scans off, as for a large tenant)
#   (c) lookup through an expression index on lower(email)
#   (d) the cost of relay_set_tenant per request, vs SET LOCAL
#   (e) the workaround for (c): a stored generated column email_lower with its own
#       index; `email_lower = ...` uses a leakproof operator, so RLS keeps the index
#   bench/rls_bench.sh [runs] [seconds]        RELAY_BENCH_CASES="d e" runs a subset
source "$(dirname "$0")/../scripts/lib.sh"
runs=${1:-5}
secs=${2:-10}
[ "${RELAY_BENCH_SKIP_SETUP:-}" = 1 ] || "$ROOT/scripts/setup.sh"

port=${RELAY_BENCH_PORT:-54359}
throwaway_cluster "$port"
q() { pg "$dir" "$port" -d bench "$@"; }
pg "$dir" "$port" -d postgres -c "CREATE DATABASE bench"
echo "loading 1M rows over 1000 tenants, twice..."
q <<'SQL' >/dev/null
CREATE EXTENSION relay_tenancy;
INSERT INTO relay.tenants (id, name, slug) SELECT 't' || g, 'Tenant ' || g, 't' || g FROM generate_series(0, 999) g;
CREATE TABLE plain_accounts (
  id bigint PRIMARY KEY, tenant_id text NOT NULL REFERENCES relay.tenants(id),
  email text NOT NULL, balance numeric(12,2) NOT NULL, note text,
  email_lower text GENERATED ALWAYS AS (lower(email)) STORED);
INSERT INTO plain_accounts (id, tenant_id, email, balance, note)
SELECT g, 't' || (g % 1000), 'User' || g || '@Example.com', (g % 997) * 1.25, repeat('x', 40)
FROM generate_series(1, 1000000) g;
CREATE INDEX plain_accounts_tenant_idx ON plain_accounts (tenant_id);
CREATE INDEX plain_accounts_email_idx ON plain_accounts (lower(email));
CREATE INDEX plain_accounts_email_lower_idx ON plain_accounts (email_lower);
-- The same rows with their tenant_id already filled in: relay_enable_tenancy adopts
-- the existing NOT NULL text column and adds the foreign key, index and policy.
CREATE TABLE rls_accounts (id bigint PRIMARY KEY, tenant_id text NOT NULL, email text NOT NULL,
                           balance numeric(12,2) NOT NULL, note text,
                           email_lower text GENERATED ALWAYS AS (lower(email)) STORED);
INSERT INTO rls_accounts (id, tenant_id, email, balance, note) SELECT id, tenant_id, email, balance, note FROM plain_accounts;
CREATE INDEX rls_accounts_email_idx ON rls_accounts (lower(email));
CREATE INDEX rls_accounts_email_lower_idx ON rls_accounts (email_lower);
SELECT relay_enable_tenancy('rls_accounts');
VACUUM (FREEZE, ANALYZE) plain_accounts, rls_accounts;
CREATE ROLE app LOGIN;
GRANT SELECT ON plain_accounts, rls_accounts TO app;
SQL

# Scripts. Tenant t42 owns ids 42, 1042, 2042, ...
w() { printf '%s\n' "$2" >"$dir/$1.sql"; }
w a_rls   $'\\set k random(0, 999)\nSELECT * FROM rls_accounts WHERE id = :k * 1000 + 42;'
w a_plain $'\\set k random(0, 999)\nSELECT * FROM plain_accounts WHERE id = :k * 1000 + 42 AND tenant_id = \'t42\';'
w b_rls   'SELECT count(*), sum(balance) FROM rls_accounts;'
w b_plain "SELECT count(*), sum(balance) FROM plain_accounts WHERE tenant_id = 't42';"
w c_rls   $'\\set k random(0, 999)\nSELECT * FROM rls_accounts WHERE lower(email) = \'user\' || (:k * 1000 + 42) || \'@example.com\';'
w c_plain $'\\set k random(0, 999)\nSELECT * FROM plain_accounts WHERE lower(email) = \'user\' || (:k * 1000 + 42) || \'@example.com\' AND tenant_id = \'t42\';'
w e_rls   $'\\set k random(0, 999)\nSELECT * FROM rls_accounts WHERE email_lower = \'user\' || (:k * 1000 + 42) || \'@example.com\';'
w e_plain $'\\set k random(0, 999)\nSELECT * FROM plain_accounts WHERE email_lower = \'user\' || (:k * 1000 + 42) || \'@example.com\' AND tenant_id = \'t42\';'
w d_set   $'BEGIN;\nSET LOCAL app.current_tenant_id = \'t42\';\nSELECT 1;\nCOMMIT;'
w d_relay $'BEGIN;\nSELECT relay_set_tenant(\'t42\');\nSELECT 1;\nCOMMIT;'
chown postgres:postgres "$dir"/*.sql

tps() { # script, extra PGOPTIONS
  as_pg env PGOPTIONS="-c app.current_tenant_id=t42 $2" "$PG_BIN/pgbench" -n -h "$dir" -p "$port" -U app \
    -c 1 -T "$secs" -f "$dir/$1.sql" bench 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'
}
seqscan="-c enable_indexscan=off -c enable_bitmapscan=off"

echo
echo "plans (as the application role, tenant t42):"
for s in "rls_accounts WHERE id = 42042" "rls_accounts WHERE lower(email) = 'user42042@example.com'" \
         "rls_accounts WHERE email_lower = 'user42042@example.com'"; do
  as_pg env PGOPTIONS="-c app.current_tenant_id=t42" "$PG_BIN/psql" -X -q -h "$dir" -p "$port" -U app -d bench \
    -c "EXPLAIN (COSTS OFF) SELECT * FROM $s" | sed 's/^/  /'
done

declare -A results
printf '\n%-34s %s\n' "query (tps, one client)" "runs"
cases=${RELAY_BENCH_CASES:-a b c d e}
for pair in "a:" "b:$seqscan" "c:" "d:" "e:"; do
  case=${pair%%:*}; opts=${pair#*:}
  [[ " $cases " == *" $case "* ]] || continue
  if [ "$case" = d ]; then left=d_set; right=d_relay; else left=${case}_plain; right=${case}_rls; fi
  l=(); r=()
  for i in $(seq 1 "$runs"); do l+=("$(tps "$left" "$opts")"); r+=("$(tps "$right" "$opts")"); done
  results[$left]=$(printf '%s\n' "${l[@]}" | median)
  results[$right]=$(printf '%s\n' "${r[@]}" | median)
  printf '%-34s %s\n' "$left" "${l[*]}" "$right" "${r[*]}"
done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, PostgreSQL $(q -At -c 'SHOW server_version'), $(date -u +%Y-%m-%d)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
[ -n "${results[a_plain]:-}" ] && echo "(a) PK lookup: explicit ${results[a_plain]} tps, RLS ${results[a_rls]} tps, RLS/explicit = $(ratio "${results[a_rls]}" "${results[a_plain]}") (target >= 0.95)"
[ -n "${results[b_plain]:-}" ] && echo "(b) seq-scan aggregate: explicit ${results[b_plain]} tps, RLS ${results[b_rls]} tps, RLS/explicit = $(ratio "${results[b_rls]}" "${results[b_plain]}") (target >= 0.95)"
[ -n "${results[c_plain]:-}" ] && echo "(c) lower(email) lookup: explicit ${results[c_plain]} tps, RLS ${results[c_rls]} tps, RLS/explicit = $(ratio "${results[c_rls]}" "${results[c_plain]}")"
[ -n "${results[e_plain]:-}" ] && echo "(e) email_lower (generated column) lookup: explicit ${results[e_plain]} tps, RLS ${results[e_rls]} tps, RLS/explicit = $(ratio "${results[e_rls]}" "${results[e_plain]}")"
[ -n "${results[d_set]:-}" ] && awk -v s="${results[d_set]}" -v r="${results[d_relay]}" 'BEGIN {
  printf "(d) per request: SET LOCAL %.0f tps, relay_set_tenant %.0f tps: relay_set_tenant costs %.1f us more per transaction\n", s, r, 1e6 / r - 1e6 / s }'
exit 0
