#!/usr/bin/env bash
# The README's main command: sets up what is missing (scripts/setup.sh), builds `distil` in
# release mode and runs the main job on the data shipped in data/.
#   DISTIL_VENV        torch virtualenv (default ~/.cache/distil/venv; created when absent)
#   CARGO_TARGET_DIR   build cache (default ~/.cache/distil/target)
#   DISTIL_CONFIG      the reproduction config (default configs/reproduce/mini-cpu.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup.sh --print-env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/distil/target}"
cargo build --release --quiet -p distil-cli
distil="$CARGO_TARGET_DIR/release/distil"
"$distil" env
# The teacher: all-MiniLM-L6-v2 from the PyPI package setup.sh installs (offline).
"$distil" reproduce --config "${DISTIL_CONFIG:-configs/reproduce/mini-cpu.yaml}" \
  --set teacher.source="$DISTIL_MINILM_DIR" "$@"
