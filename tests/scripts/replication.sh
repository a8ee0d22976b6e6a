#!/usr/bin/env bash
# Logical replication of a tenant-enabled table, tenants and the audit log from a
# publisher database to a subscriber database (one cluster, wal_level = logical):
# rows and audit entries arrive, the subscriber's capture triggers add nothing, and
# relay_audit_purge on the publisher is applied on the subscriber without stopping
# it. Prints TAP lines.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5482}
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'
wal_level = logical" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" "$@"; }
n=0
failed=0
is() { # is NAME EXPECTED DB SQL: the query's single value equals EXPECTED
  n=$((n + 1))
  # stdout is compared; stderr (a tool's warning, an error) is shown on failure only.
  local got
  got=$(P -d "$3" -At -c "$4" 2>"$work/is.stderr") || true
  if [ "$got" = "$2" ]; then echo "ok $n - $1"; else
    echo "not ok $n - $1"; echo "#   expected: $2"; echo "#   got:      $got"; sed 's/^/#   stderr: /' "$work/is.stderr"; failed=$((failed + 1)); fi
}
# wait_for DB SQL: until the query returns t (30 s at most)
wait_for() {
  for _ in $(seq 1 300); do
    [ "$(P -d "$1" -At -c "$2" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  return 1
}

# Both sides: the same table, tenant-enabled, audited. The subscriber converts its
# own copy (relay_enable_tenancy runs on each side: DDL is not replicated).
for db in pub sub; do
  P -d postgres -c "CREATE DATABASE $db" >/dev/null
  P -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION relay_tenancy;
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT relay_enable_tenancy('notes');
SELECT relay_enable_audit('notes');
SQL
done
# Publish the tenants (but the default one, which each side's CREATE EXTENSION
# made), the tenant table and the audit log.
P -d pub >/dev/null <<'SQL'
SELECT relay_create_tenant('Acme', 'acme', id => 'acme');
SELECT relay_audit_chain(true);
CREATE PUBLICATION relay_pub
  FOR TABLE relay.tenants WHERE (id <> 'default-tenant-000-0000-000000000000'), notes, relay.audit_logs;
SELECT pg_create_logical_replication_slot('relay_sub', 'pgoutput');
SQL
P -d sub -c "CREATE SUBSCRIPTION relay_sub CONNECTION 'host=$work port=$PORT dbname=pub user=postgres'
             PUBLICATION relay_pub WITH (create_slot = false, slot_name = 'relay_sub')" >/dev/null
# Changes on the publisher, as the application makes them.
P -d pub >/dev/null <<'SQL'
BEGIN;
SELECT relay_set_tenant('acme', true);
INSERT INTO notes VALUES (1, 'first'), (2, 'second');
UPDATE notes SET body = 'second, edited' WHERE id = 2;
SELECT relay_audit('note.shared', 'note', '1');
COMMIT;
SQL
# one entry per captured row (two inserted, one updated) and the relay_audit one
# (relay's own entries about enabling the tables, in the default tenant's log, are
# each side's own and left out here)
entries=$(P -d pub -At -c "SELECT count(*) FROM relay.audit_logs WHERE tenant_id = 'acme'")
wait_for sub "SELECT count(*) = $entries FROM relay.audit_logs WHERE tenant_id = 'acme'" || true
# and until every table's initial copy is done (two copy workers per subscription: the
# third table's copy can finish after the streamed changes of the others arrive)
wait_for sub "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel" || true
is "rows arrive with their tenant" "acme:2" sub "SELECT string_agg(DISTINCT tenant_id, ',') || ':' || count(*) FROM notes"
is "tenants arrive (the default one is each side's own)" "acme,default-tenant-000-0000-000000000000" sub \
   "SELECT string_agg(id, ',' ORDER BY id) FROM relay.tenants"
is "audit entries arrive; the subscriber's capture adds none" "4" sub "SELECT count(*) FROM relay.audit_logs WHERE tenant_id = 'acme'"
is "isolation holds on the subscriber" "0" sub "SELECT count(*) FROM relay.relay_tenancy_status WHERE problems <> '{}'"
# The entries arrive hash-chained; the chain's head stays with the publisher.
is "the publisher's chain verifies" "ok" pub "SELECT status FROM relay_audit_verify('acme')"
is "relay_audit_verify on the subscriber says the head is the publisher's" "replica:4:true" sub \
   "SELECT status || ':' || entries || ':' || (detail LIKE '%subscription relay_sub%') FROM relay_audit_verify('acme')"

# Retention on the publisher: relay_audit_purge deletes the entries, in replica mode
# the subscriber applies the DELETEs through the append-only guard.
sleep 1
P -d pub -c "SELECT relay_audit_purge(now())" >/dev/null
wait_for sub "SELECT count(*) = 1 AND bool_and(action = 'relay.audit_purged') FROM relay.audit_logs WHERE tenant_id = 'acme'" || true
is "the purge is applied on the subscriber" "relay.audit_purged:4" sub \
   "SELECT string_agg(action || ':' || (metadata->>'deleted'), ',') FROM relay.audit_logs WHERE tenant_id = 'acme'"
is "the subscription keeps running (no apply errors)" "0" sub \
   "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 'relay_sub'"
P -d pub -c "BEGIN; SELECT relay_set_tenant('acme', true); INSERT INTO notes VALUES (3, 'after the purge'); COMMIT;" >/dev/null
wait_for sub "SELECT count(*) = 3 FROM notes" || true
is "changes after the purge still arrive" "3" sub "SELECT count(*) FROM notes"

P -d sub -c "DROP SUBSCRIPTION relay_sub" >/dev/null 2>&1
echo "# replication: $((n - failed)) of $n passed"
[ "$failed" -eq 0 ]
