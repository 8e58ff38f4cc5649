#!/usr/bin/env bash
# Installs the Gloo headers (Debian/Ubuntu `libgloo-dev`) that crates/distil-distributed
# compiles its c10d shim against: the torch wheel ships c10d's headers but not Gloo's.
# Idempotent; prints only to stderr, so it can run inside `setup-libtorch.sh --print-env`.
# Env: GLOO_INCLUDE_DIR  a directory holding gloo/ (skips the package).
set -euo pipefail

log() { echo "[setup-gloo] $*" >&2; }

include="${GLOO_INCLUDE_DIR:-/usr/include}"
if [[ -f "$include/gloo/context.h" ]]; then
  log "Gloo headers present in $include"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "no Gloo headers in $include and no apt-get: install Gloo's headers and set GLOO_INCLUDE_DIR"
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  log "the Gloo headers are missing: run 'sudo apt-get install -y libgloo-dev' (needs root)"
  exit 1
fi
log "installing libgloo-dev (Gloo headers for the c10d shim)"
# CI runs with no standard input: never let a package prompt.
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y --no-install-recommends libgloo-dev ||
  { apt-get update && apt-get install -y --no-install-recommends libgloo-dev; }; } >&2
