#!/usr/bin/env bash
# Set up what is missing, then run every test:
#   1. cargo pgrx test: plain unit tests (planner, quoting) and #[pg_test]s in Postgres
#   2. pg_regress golden tests (tests/pg_regress), against the installed extension
#   3. pg_isolation_regress concurrency specs (tests/isolation)
#   4. scripts (tests/scripts): dump/restore round trips, logical replication
# after the code gates (fmt, clippy, module cycles and function length).
# Ends with one line "summary: N passed, M failed".
# Both majors by default, PostgreSQL 15 then 18; RELAY_PG=15 or RELAY_PG=18 runs one.
# On 18 (fetched when missing) the Citus suite is not run (Citus 12.1 supports 14-16)
# and neither is the packages test (the 15 run covers both majors' packages).
# Without RELAY_PG: both majors, 15 then 18, and one summary line for both.
if [ -z "${RELAY_PG:-}" ]; then
  total_passed=0 total_failed=0 rc=0
  for major in 15 18; do
    out=$(mktemp)
    RELAY_PG=$major bash "$0" "$@" 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
    line=$(grep -E '^summary: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    if [ -z "$line" ]; then
      echo "not ok - PostgreSQL $major: the test command ended without its summary line"
      total_failed=$((total_failed + 1)); rc=1
    else
      p=$(echo "$line" | sed -E 's/^summary: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
      f=$(echo "$line" | sed -E 's/^summary: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
      total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
      [ "$f" -eq 0 ] || rc=1
    fi
    rm -f "$out"
  done
  echo
  echo "summary: $total_passed passed, $total_failed failed (PostgreSQL 15 and 18)"
  exit $rc
fi
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

RELAY_SKIP_INSTALL=1 "$ROOT/scripts/setup.sh"

passed=0
failed=0
status=0
log=$(mktemp)

say "code gates: cargo fmt --check, cargo clippy -D warnings, module cycles, function length"
gate() { # gate NAME CMD...: one TAP-counted check
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then echo "ok - $name"; passed=$((passed + 1))
  else echo "not ok - $name"; sed 's/^/#   /' "$log" | tail -40; failed=$((failed + 1)); status=1; fi
}
gate "cargo fmt --check" cargo fmt --check
gate "cargo clippy --all-targets -D warnings" \
  cargo clippy --all-targets --no-default-features --features "pg$RELAY_PG" -- -D warnings
gate "no module cycle, no function over 150 lines (scripts/check_layout.py)" python3 "$ROOT/scripts/check_layout.py"

say "cargo pgrx test (unit tests and #[pg_test], PostgreSQL $RELAY_PG)"
pgdata=$(postgres_tmpdir)
# CARGO_PGRX: pgrx-tests installs the test build through install_staged, not in place.
if CARGO_PGRX="$ROOT/scripts/pgrx_staged_install.sh" \
   cargo pgrx test "pg$RELAY_PG" --no-default-features --features "pg$RELAY_PG" --runas postgres --pgdata "$pgdata/data" 2>&1 | tee "$log" | grep -E '^test |^test result|panicked|^error'; then :; fi
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
  sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$log")
grep -q '^test result: ok' "$log" && ! grep -q '^test result: FAILED' "$log" || { status=1; tail -50 "$log"; }
rm -rf "$pgdata"

# cargo pgrx test installed its pg_test build; install the real one for what follows.
"$ROOT/scripts/setup.sh" >/dev/null

# run_pg_regress DRIVER SUITE_DIR LIST...: copy the suite where postgres can read it
# (the clone may sit under /root), run it there, count the results.
run_suite() {
  local driver=$1 suite=$2
  shift 2
  local work
  work=$(postgres_tmpdir)
  cp -r "$suite"/. "$work/"
  major_goldens "$work"
  cp -r "$(reference_dir)" "$work/reference"
  cp "$ROOT/tests/relay-test.conf" "$work/relay-test.conf"
  mkdir -p "$work/results"
  chown -R postgres:postgres "$work"
  write_test_key "$work"
  local out bindir=$PG_BIN
  [ "$(basename "$driver")" = pg_regress ] && bindir=$(regress_bindir "$work")
  out=$(cd "$work" && as_pg "$driver" --temp-instance="$work/tmp_check" --temp-config="$work/relay-test.conf" --bindir="$bindir" \
          --inputdir="$work" --outputdir="$work" "$@" 2>&1) || true
  echo "$out" | grep -E '^(test|ok|not ok|#|\s+[a-z_]+ +\.\.\.)' || echo "$out"
  local ok bad
  ok=$(echo "$out" | grep -cE '^ok [0-9]+|^test .* \.\.\. ok|^\s+[a-z0-9_]+ +\.\.\. ok' || true)
  bad=$(echo "$out" | grep -cE '^not ok [0-9]+|\.\.\. FAILED' || true)
  passed=$((passed + ok)); failed=$((failed + bad))
  if [ "$bad" -gt 0 ] || ! echo "$out" | grep -qE 'All [0-9]+ tests passed|# All [0-9]+ tests passed'; then
    status=1
    [ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
    echo "(kept $work for inspection)"
  else
    rm -rf "$work"
  fi
}

say "pg_regress (tests/pg_regress)"
run_suite "$PGXS/regress/pg_regress" "$ROOT/tests/pg_regress" $(grep -v '^#' "$ROOT/tests/pg_regress/schedule")

if [ -d "$ROOT/tests/isolation/specs" ]; then
  say "pg_isolation_regress (tests/isolation)"
  run_suite "$PGXS/isolation/pg_isolation_regress" "$ROOT/tests/isolation" \
    --load-extension=relay_tenancy $(grep -v '^#' "$ROOT/tests/isolation/schedule")
fi

# Scripts that need more than one database session or a client program (pg_dump,
# pg_restore, logical replication): each prints TAP lines (ok N / not ok N).
for script in "$ROOT"/tests/scripts/*.sh; do
  case "$RELAY_PG:$(basename "$script")" in
    18:citus.sh | 18:packages.sh) continue ;; # 15 only (see the top of this file)
  esac
  say "script $(basename "$script")"
  code=0
  out=$(bash "$script" 2>&1) || code=$?
  echo "$out" | grep -E '^(ok|not ok|#)' || echo "$out" | tail -20
  ok=$(echo "$out" | grep -c '^ok ' || true)
  bad=$(echo "$out" | grep -c '^not ok ' || true)
  # A script that dies before it reports (a crashed server) is a failure too, counted.
  if [ "$code" -ne 0 ] && [ "$bad" -eq 0 ]; then
    echo "not ok - $(basename "$script") exited with status $code before reporting a failure"
    echo "$out" | tail -20 | sed 's/^/# /'
    bad=1
  fi
  passed=$((passed + ok)); failed=$((failed + bad))
  [ "$bad" -eq 0 ] || status=1
done

echo
echo "summary: $passed passed, $failed failed (PostgreSQL $RELAY_PG)"
rm -f "$log"
exit $status
