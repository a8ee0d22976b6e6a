#!/usr/bin/env bash
# The Citus tests (tests/citus): a coordinator and two workers on loopback, the
# golden files run by pg_regress against the coordinator. Builds Citus from
# ../shared/vendor when it is there and Citus is missing (a failed build fails the
# suite); with no Citus and no source, reports the tests skipped with the reason.
# Prints TAP lines.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$ROOT/scripts/citus.sh"
BASE=${RELAY_CITUS_PORT:-55410}
if ! reason=$(citus_ready); then
  # CI always has ../shared/vendor: when the Citus source is there and cannot be
  # built, the suite fails. Only a machine with no Citus source at all skips it.
  if [ -f "$CITUS_VENDOR/build-citus.sh" ]; then
    echo "not ok 1 - citus: $reason"
    exit 1
  fi
  echo "# skipped: $reason"
  exit 0
fi
work=$(postgres_tmpdir)
trap 'citus_down "$work/nodes"; [ -n "${keep:-}" ] || rm -rf "$work"' EXIT
# The signed-mode test needs the same key on every node.
RELAY_CITUS_CONF="citus.shard_count = 4
relay.token_key = '0123456789abcdef0123456789abcdef'" citus_up "$work/nodes" "$BASE" relay_citus
cp -r "$ROOT/tests/citus"/. "$work/"
cp -r "$(reference_dir)" "$work/reference"
mkdir -p "$work/results"
chown -R postgres:postgres "$work"
tests=$(cd "$ROOT/tests/citus/sql" && ls *.sql | sed 's/\.sql$//')
out=$(cd "$work" && as_pg "$PGXS/regress/pg_regress" --use-existing --host=127.0.0.1 --port="$BASE" --user=postgres \
        --dbname=relay_citus --bindir="$PG_BIN" --inputdir="$work" --outputdir="$work" $tests 2>&1) || true
n=0
for t in $tests; do
  n=$((n + 1))
  if echo "$out" | grep -qE "(^ok [0-9]+ +[-+]? *$t |^test $t +\.\.\. ok| $t +\.\.\. ok)"; then
    echo "ok $n - citus $t"
  else
    echo "not ok $n - citus $t"
    keep=1
  fi
done
if [ -n "${keep:-}" ]; then
  echo "$out" | sed 's/^/# /'
  [ -f "$work/regression.diffs" ] && sed 's/^/# /' "$work/regression.diffs" | head -200
  echo "# kept $work for inspection"
fi
