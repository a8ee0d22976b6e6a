#!/usr/bin/env bash
# Installing a new build under a running server (issue 21). Upgrading an extension is
# "install the new files, then ALTER EXTENSION ... UPDATE" on a live server; a copy of
# relay_tenancy.so over the mapped file crashed every server that had it preloaded
# (signal 11). scripts/setup.sh installs through install_staged (a temporary name,
# then a rename). Here: a server with relay preloaded and a session using it across
# the reinstall; then the server, the session and ALTER EXTENSION ... UPDATE. Prints
# TAP lines.
source "$(dirname "$0")/../../scripts/lib.sh"
PORT=${RELAY_TEST_PORT:-5485}
suffix=""
[ "$RELAY_PG" = 15 ] || suffix=-pg$RELAY_PG
stage=$(ls -dt "${CARGO_TARGET_DIR:-$ROOT/target}"/relay-stage-release$suffix "${CARGO_TARGET_DIR:-$ROOT/target}"/relay-stage-debug$suffix 2>/dev/null | head -1 || true)
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
if [ -z "$stage" ] || [ ! -d "$stage" ]; then
  notok "a staged build to install (run scripts/setup.sh first)"
  exit 1
fi
RELAY_EXTRA_CONF="shared_preload_libraries = 'relay_tenancy'" throwaway_cluster "$PORT"
work=$dir
P() { pg "$work" "$PORT" -d postgres "$@"; }
P -c "CREATE EXTENSION relay_tenancy VERSION '0.2.0'" >/dev/null
# A session that uses relay's library before, during and after the reinstall.
(cd "$work" && as_pg "$PG_BIN/psql" -X -At -h "$work" -p "$PORT" -U postgres -d postgres \
   -c "SELECT relay_uuid7() IS NOT NULL" -c "SELECT pg_sleep(3)" -c "SELECT relay_uuid7() IS NOT NULL" \
   >"$work/session.out" 2>&1) &
session=$!
sleep 1
install_staged "$stage"
install_staged "$stage"
if wait "$session" && [ "$(grep -c '^t$' "$work/session.out")" = 2 ]; then
  ok "a session open across the reinstall goes on using relay"
else
  notok "the session across the reinstall"; sed 's/^/#   /' "$work/session.out"
fi
if P -At -c "SELECT relay_uuid7() IS NOT NULL" 2>/dev/null | grep -q '^t$'; then
  ok "the server is up and a new session loads the library"
else
  notok "the server after the reinstall"; tail -20 "$work/server.log" | sed 's/^/#   /'
fi
if ! grep -q "terminated by signal" "$work/server.log"; then ok "no backend crashed"
else notok "a backend crashed"; grep "terminated by signal" "$work/server.log" | sed 's/^/#   /'; fi
version=$(P -At -c "ALTER EXTENSION relay_tenancy UPDATE" -c "SELECT extversion FROM pg_extension WHERE extname = 'relay_tenancy'" 2>&1 | tail -1)
expected=$(sed -nE 's/^version = "(.*)"/\1/p' "$ROOT/Cargo.toml" | head -1)
if [ "$version" = "$expected" ]; then ok "ALTER EXTENSION relay_tenancy UPDATE on the live server: $version"
else notok "ALTER EXTENSION ... UPDATE: $version (expected $expected)"; fi
