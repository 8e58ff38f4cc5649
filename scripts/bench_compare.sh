#!/usr/bin/env bash
# One command for a distil-vs-PyTorch benchmark: `distil bench infer|step` then
# scripts/bench_reference.py on the same weights and inputs, back to back, printing the ratio
# and the load average before and after (other jobs on the machine skew CPU timings).
#
#   scripts/bench_compare.sh infer [distil bench infer options]
#   scripts/bench_compare.sh step  [distil bench step options]
#
# The reference repeats each of distil's step runs at the same precision
# (`--precision fp32,bf16-autocast,bf16`), batch size and sequence length.
#
# DISTIL (default: the release binary of the cargo target dir) and BENCH_DIR (default: a
# temporary directory) can be set; results stay in BENCH_DIR/{distil,reference}.json.
set -euo pipefail

bench=${1:?usage: bench_compare.sh infer|step [options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
distil=${DISTIL:-$target/release/distil}
python=${DISTIL_VENV:+$DISTIL_VENV/bin/python}
python=${python:-python3}
dir=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir"

cd "$root"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$distil" --device "${DISTIL_DEVICE:-cpu}" bench "$bench" "$@" --save-inputs "$dir" --out "$dir/distil.json"
"$python" scripts/bench_reference.py "$bench" --dir "$dir"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); results in $dir"
