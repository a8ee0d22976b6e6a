#!/usr/bin/env bash
# Install whatever is missing, then build and install relay_tenancy into the system
# PostgreSQL 15. Idempotent: on a machine that has everything it only rebuilds.
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

[ "${RELAY_SKIP_INSTALL:-}" = 1 ] && exit 0
cd "$ROOT"
profile=${RELAY_PROFILE:-release}
say "building and installing relay_tenancy ($profile)"
# Built into a staging tree, then installed file by file through a temporary name and
# a rename (install_staged): never over a library a running server has mapped.
stage=${CARGO_TARGET_DIR:-$ROOT/target}/relay-stage-$profile
rm -rf "$stage"
if [ "$profile" = release ]; then
  cargo pgrx package --pg-config /usr/bin/pg_config --out-dir "$stage" >/dev/null
else
  cargo pgrx package --pg-config /usr/bin/pg_config --debug --out-dir "$stage" >/dev/null
fi
# Earlier versions' full scripts, so CREATE EXTENSION relay_tenancy VERSION '0.1.0'
# works (the upgrade test starts there); the package holds only the current version's
# script and the upgrade scripts.
cp sql/archive/relay_tenancy--*.sql "$stage$(/usr/bin/pg_config --sharedir)/extension/"
install_staged "$stage"
echo "installed: $(ls /usr/share/postgresql/15/extension/relay_tenancy--*.sql | xargs -n1 basename | tr '\n' ' ')"
