# A three-node Citus cluster on loopback for the Citus tests and the bench (sourced
# after lib.sh): a coordinator and two workers, each a throwaway PostgreSQL 15 with
# shared_preload_libraries = 'citus,relay_tenancy' (relay after Citus: its planner
# hook must run before Citus's).

CITUS_VENDOR=${RELAY_CITUS_VENDOR:-$ROOT/../shared/vendor}

# citus_ready: Citus is installed in the system PostgreSQL, building it from
# ../shared/vendor when that is present. Otherwise prints why not and fails.
citus_ready() {
  local libdir
  libdir=$(/usr/bin/pg_config --pkglibdir)
  [ -f "$libdir/citus.so" ] && return 0
  if [ -x "$CITUS_VENDOR/build-citus.sh" ] || [ -f "$CITUS_VENDOR/build-citus.sh" ]; then
    bash "$CITUS_VENDOR/build-citus.sh" >&2 || { echo "building Citus from $CITUS_VENDOR failed"; return 1; }
    [ -f "$libdir/citus.so" ] && return 0
  fi
  echo "Citus is not installed in $libdir and no Citus source is at $CITUS_VENDOR (install Citus 12 for PostgreSQL 15 from Citus's packages)"
  return 1
}

# citus_up DIR BASEPORT DB: start the three nodes under DIR (ports BASEPORT..+2),
# create DB with the citus extension on each, and register the nodes.
citus_up() {
  local dir=$1 base=$2 db=$3 i=0 n
  for n in coordinator worker1 worker2; do
    mkdir -p "$dir/$n"
    chown postgres:postgres "$dir/$n"
    RELAY_EXTRA_CONF="listen_addresses = '127.0.0.1'
shared_preload_libraries = 'citus,relay_tenancy'
max_prepared_transactions = 20
relay.progress = -1
${RELAY_CITUS_CONF:-}" start_cluster "$dir/$n" $((base + i))
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $((base + i)) -U postgres -d postgres \
      -c "CREATE DATABASE $db" >/dev/null
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $((base + i)) -U postgres -d "$db" \
      -c "SET client_min_messages = warning; CREATE EXTENSION citus" >/dev/null
    i=$((i + 1))
  done
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$base" -U postgres -d "$db" >/dev/null <<SQL
SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', $base);
SELECT pg_catalog.citus_add_node('127.0.0.1', $((base + 1)));
SELECT pg_catalog.citus_add_node('127.0.0.1', $((base + 2)));
SQL
}

# citus_down DIR: stop the three nodes.
citus_down() {
  local n
  for n in coordinator worker1 worker2; do
    [ -d "$1/$n" ] && stop_cluster "$1/$n"
  done
  return 0
}
