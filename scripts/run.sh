#!/usr/bin/env bash
# The README's main command: installs libtorch when absent, builds `distil` in release mode and
# runs the main job on the data shipped in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-libtorch.sh --print-env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/distil/target}"
cargo build --release --quiet -p distil-cli
distil="$CARGO_TARGET_DIR/release/distil"
"$distil" env
# The teacher: all-MiniLM-L6-v2 from the PyPI package setup-libtorch.sh installs (offline).
"$distil" reproduce --config configs/reproduce/mini-cpu.yaml --set teacher.source="$DISTIL_MINILM_DIR"
