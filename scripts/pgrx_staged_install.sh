#!/usr/bin/env bash
# CARGO_PGRX for `cargo pgrx test` (scripts/test.sh). pgrx-tests installs its test
# build with `$CARGO_PGRX pgrx install --test ...`, which copies relay_tenancy.so over
# the installed one in place (a server that has it mapped crashes). This runs
# `cargo pgrx package` with the same arguments into a staging tree and installs it
# through install_staged (a temporary name, then a rename). Any other command goes
# to cargo-pgrx unchanged.
source "$(dirname "$0")/lib.sh"
cargo_pgrx=${RELAY_CARGO_PGRX:-$HOME/.cargo/bin/cargo-pgrx}
[ "${1:-}" = pgrx ] && shift
[ "${1:-}" = install ] || exec "$cargo_pgrx" pgrx "$@"
shift
args=()
release=0
profile=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sudo) ;;                       # root already; install_staged writes the files
    -r | --release) release=1 ;;
    --profile) profile=1; args+=("$1" "$2"); shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ $release = 1 ] || [ $profile = 1 ] || args+=(--debug)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$cargo_pgrx" pgrx package "${args[@]}" --out-dir "$stage" >&2
install_staged "$stage"
