#!/usr/bin/env bash
# Install whatever is missing, then build and install relay_tenancy into PostgreSQL 15
# (Debian's; RELAY_PG=18: PostgreSQL 18.6 in $RELAY_PG18_DIR, fetched when missing).
# Idempotent: on a machine that has everything it only rebuilds.
#   scripts/setup.sh            release build (demo, benchmarks)
#   RELAY_PROFILE=debug scripts/setup.sh
#   RELAY_SKIP_INSTALL=1 scripts/setup.sh   toolchain only
source "$(dirname "$0")/lib.sh"

# postgresql-15-partman: the partitions test creates partitions with pg_partman.
packages=(postgresql-15 postgresql-server-dev-15 clang libclang-dev pkg-config sudo postgresql-15-partman)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo pgrx --version 2>/dev/null | grep -q ' 0\.18\.0'; then
  say "installing cargo-pgrx 0.18.0 (about 4 minutes)"
  cargo install cargo-pgrx --version 0.18.0 --locked
fi
if ! grep -qs '^pg15' "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  cargo pgrx init --pg15 /usr/bin/pg_config
fi
if [ "$RELAY_PG" = 18 ]; then
  ensure_pg18
  # The partitions test runs pg_partman. None is packaged for this PostgreSQL 18; the
  # extension's files from Debian's postgresql-15-partman (4.7.2) are SQL and PL/pgSQL
  # only (its optional background worker is not used), so they are copied across.
  ext18=$("$PG_CONFIG" --sharedir)/extension
  if [ ! -f "$ext18/pg_partman.control" ]; then
    for f in /usr/share/postgresql/15/extension/pg_partman*; do
      cp "$f" "$ext18/.$(basename "$f").relay-new" && mv -f "$ext18/.$(basename "$f").relay-new" "$ext18/$(basename "$f")"
    done
  fi
fi

[ "${RELAY_SKIP_INSTALL:-}" = 1 ] && exit 0
cd "$ROOT"
profile=${RELAY_PROFILE:-release}
say "building and installing relay_tenancy ($profile, PostgreSQL $RELAY_PG)"
# Built into a staging tree, then installed file by file through a temporary name and
# a rename (install_staged): never over a library a running server has mapped.
stage=${CARGO_TARGET_DIR:-$ROOT/target}/relay-stage-$profile
[ "$RELAY_PG" = 15 ] || stage=$stage-pg$RELAY_PG
rm -rf "$stage"
build=(--pg-config "$PG_CONFIG" --no-default-features --features "pg$RELAY_PG" --out-dir "$stage")
[ "$profile" = release ] || build+=(--debug)
cargo pgrx package "${build[@]}" >/dev/null
# Earlier versions' full scripts, so CREATE EXTENSION relay_tenancy VERSION '0.1.0'
# works (the upgrade test starts there); the package holds only the current version's
# script and the upgrade scripts.
sharedir=$("$PG_CONFIG" --sharedir)
cp sql/archive/relay_tenancy--* "$stage$sharedir/extension/"
install_staged "$stage"
echo "installed: $(ls "$sharedir"/extension/relay_tenancy--*.sql | xargs -n1 basename | tr '\n' ' ')"
