#!/usr/bin/env bash
# The whole test suite, as CI runs it: sets up what is missing (scripts/setup.sh), then
# formatting, lints and every test of the workspace.
#   DISTIL_VENV        torch virtualenv (default ~/.cache/distil/venv; created when absent)
#   CARGO_TARGET_DIR   build cache (default ~/.cache/distil/target)
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/setup.sh --print-env)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/distil/target}"
export HF_HUB_OFFLINE=1

step() { echo "==> $*"; }
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo check -p distil-distributed --features nccl"
cargo check -p distil-distributed --features nccl --quiet
step "cargo test --workspace"
cargo test --workspace --no-fail-fast 2>&1 | tee "${CARGO_TARGET_DIR}/last-test.log"
summary=$(grep -E '^test result:' "${CARGO_TARGET_DIR}/last-test.log" |
  awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed, %d failed, %d skipped\n", p, f, i}')
echo "$summary"
