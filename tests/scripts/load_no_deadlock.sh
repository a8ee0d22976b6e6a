#!/usr/bin/env bash
# Conversions under load never deadlock the application (issue 18). Four pgbench
# clients run the application's transactions (read a child row, insert a child row
# whose key references a parent, update a parent: the lock order that met relay's in a
# cycle) while relay enables and disables the referenced table, whose call rewrites the
# child's foreign key: offline, then online (relay_tenancy_plan's lines, one by one),
# then through the schema call.
# Before issue 18 every in-flight application transaction was aborted with 40P01.
# Bounded: the clients run for RELAY_LOAD_SECONDS (default 12), the migrations are a
# fixed list. Prints TAP lines; with RELAY_LOAD_REPORT=1 also the longest application
# transaction (BENCHMARKS).
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5483}
SECS=${RELAY_LOAD_SECONDS:-12}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
max_connections = 50" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" -d load "$@"; }
pg "$work" "$PORT" -d postgres -c "CREATE DATABASE load" >/dev/null
P >/dev/null <<'SQL'
CREATE EXTENSION relay_tenancy;
CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE kids (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parents (id), body text);
INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 1000) g;
INSERT INTO kids SELECT g, g % 1000 + 1, 'k' || g FROM generate_series(1, 20000) g;
SELECT count(*) FROM relay_enable_tenancy('kids');
SQL
# Every client references and updates parents drawn from all 1000: two application
# transactions often insert a child of one parent and then update it, which is
# deadlock-free only while each update takes FOR NO KEY UPDATE. Before relay's column
# was STORAGE PLAIN, the first update of each pre-existing row took FOR UPDATE (see
# tests/isolation/specs/first_update.spec) and such pairs deadlocked after every
# enable: 3 of 3 runs, 2-9 each.
cat >"$work/app.sql" <<'SQL'
\set p random(1, 1000)
\set k random(100000, 2000000000)
BEGIN;
SET LOCAL app.current_tenant_id = 'default-tenant-000-0000-000000000000';
SELECT body FROM kids WHERE id = :p;
INSERT INTO kids (id, parent_id, body) VALUES (:k, :p, 'new') ON CONFLICT DO NOTHING;
UPDATE parents SET name = name WHERE id = :p;
COMMIT;
SQL
chown postgres:postgres "$work/app.sql"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }

# The application stream, in the background, logging every transaction's latency.
(cd "$work" && as_pg "$PG_BIN/pgbench" -n -h "$work" -p "$PORT" -U postgres -c 4 -j 2 -T "$SECS" \
   --max-tries=1 --failures-detailed -l --log-prefix="$work/txlog" -f "$work/app.sql" load >"$work/pgbench.out" 2>&1) &
bench=$!
sleep 1
migrations_ok=1
run() { # run NAME SQL...: one migration, its output kept
  if ! P "$@" >>"$work/migrations.out" 2>&1; then migrations_ok=0; echo "# migration failed: $*" >>"$work/migrations.out"; fi
}
# RELAY_LOAD_NO_MIGRATIONS=1: the application stream alone (its own baseline)
[ -n "${RELAY_LOAD_NO_MIGRATIONS:-}" ] && { wait "$bench" || true; }
# offline: enable the referenced table (rewrites kids' key), disable it, twice
for _ in $([ -n "${RELAY_LOAD_NO_MIGRATIONS:-}" ] || echo 1 2); do
  run -c "SELECT count(*) FROM relay_enable_tenancy('parents')"
  sleep 0.5
  run -c "SELECT count(*) FROM relay_disable_tenancy('parents')"
  sleep 0.5
done
# online: the plan's lines, each in its own transaction
run -At -c "SELECT statement || ';' FROM relay_tenancy_plan('parents', online => true) ORDER BY step" -o "$work/online.sql"
chown postgres:postgres "$work/online.sql" 2>/dev/null || true
run -f "$work/online.sql"
sleep 0.5
run -c "SELECT count(*) FROM relay_disable_tenancy('parents')"
sleep 0.5
# the schema call: every table's locks before the first table changes
run -c "SELECT count(*) FROM relay_enable_tenancy_schema('public')"
sleep 0.5
run -c "SELECT count(*) FROM relay_disable_tenancy('parents')"
wait "$bench" || true

if [ "$migrations_ok" = 1 ]; then ok "every migration succeeded under load (offline enable/disable x2, online enable, disable, schema call, disable)"
else notok "a migration failed under load"; sed 's/^/#   /' "$work/migrations.out" | tail -20; fi
deadlocks=$(sed -nE 's/.*number of deadlock failures: ([0-9]+).*/\1/p' "$work/pgbench.out" | head -1)
done_tx=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$work/pgbench.out")
failed_tx=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$work/pgbench.out")
if grep -q "aborted" "$work/pgbench.out"; then
  notok "the application stream ran to its end"; sed 's/^/#   /' "$work/pgbench.out" | grep -i "error\|abort" | head -10
else ok "the application stream ran to its end ($done_tx transactions)"; fi
if [ "${deadlocks:-x}" = 0 ] && [ "${failed_tx:-x}" = 0 ]; then ok "no application transaction failed (0 deadlocks)"
else notok "application transactions failed: ${failed_tx:-?} (deadlocks: ${deadlocks:-?})"; grep -i "deadlock\|error" "$work/pgbench.out" | head -5 | sed 's/^/#   /'
  grep -A10 "deadlock detected" "$work/server.log" | head -40 | sed 's/^/#   server: /'; fi
# kids' key ended as it was (single-column: parents is disabled again), and the data is whole
state=$(P -At -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'kids'::regclass AND contype = 'f' AND conname = 'kids_parent_id_fkey'")
if [ "$state" = "FOREIGN KEY (parent_id) REFERENCES parents(id)" ]; then ok "kids' key is back to single-column"; else notok "kids' key: $state"; fi
if [ "${RELAY_LOAD_REPORT:-}" = 1 ]; then
  # pgbench log: client_id transaction_no time(us) script_no time_epoch time_us ...
  longest=$(cat "$work"/txlog.* 2>/dev/null | awk '{ if ($3 > m) m = $3 } END { printf "%.1f", m / 1000 }')
  echo "# application: $done_tx transactions, $failed_tx failed, $deadlocks deadlocks; longest transaction ${longest} ms"
fi
