#!/usr/bin/env bash
# Quick loop while editing: install a debug build and run only pg_regress (or the
# tests named as arguments). The full suite is scripts/test.sh.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RELAY_PROFILE=debug "$ROOT/scripts/setup.sh" >/dev/null
work=$(postgres_tmpdir)
cp -r tests/pg_regress/. "$work/"
major_goldens "$work"
cp -r "$(reference_dir)" "$work/reference"
cp tests/relay-test.conf "$work/relay-test.conf"
chown -R postgres:postgres "$work"
write_test_key "$work"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(grep -v '^#' tests/pg_regress/schedule)
bindir=$(regress_bindir "$work")
(cd "$work" && as_pg "$PGXS/regress/pg_regress" --temp-instance="$work/tmp_check" --temp-config="$work/relay-test.conf" --bindir="$bindir" \
   --inputdir="$work" --outputdir="$work" "${tests[@]}") || true
echo "results in $work/results"
