#!/usr/bin/env bash
# The test command must pass wherever the clone sits, including a directory the
# postgres user cannot enter (root's home, mode 700). Every command the scripts run as
# postgres goes through as_pg (scripts/lib.sh); from such a directory it must start
# somewhere postgres can enter, so no tool prints "could not change directory" into a
# compared result. Prints TAP lines. (.ci/run also runs the whole suite from a mode-700
# copy.)
source "$(dirname "$0")/../../scripts/lib.sh"
private=$(mktemp -d)   # mode 700, owned by root
trap 'rm -rf "$private"' EXIT
n=0
for tool in psql pg_dump pg_restore pgbench initdb pg_ctl; do
  n=$((n + 1))
  err=$(cd "$private" && as_pg "$PG_BIN/$tool" --version 2>&1 >/dev/null) || true
  if [ -z "$err" ]; then echo "ok $n - $tool as postgres from a mode-700 directory: nothing on stderr"
  else echo "not ok $n - $tool as postgres from a mode-700 directory"; echo "$err" | sed 's/^/#   /'; fi
done
n=$((n + 1))
here=$(cd "$ROOT" && as_pg pwd)
if [ "$(runuser -u postgres -- test -x "$ROOT" && echo y || echo n)" = y ]; then want=$ROOT; else want=/; fi
if [ "$here" = "$want" ]; then echo "ok $n - as_pg starts in the caller's directory when postgres can enter it, else in /"
else echo "not ok $n - as_pg started in $here, expected $want"; fi
