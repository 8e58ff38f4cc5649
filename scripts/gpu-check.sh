#!/usr/bin/env bash
# The one prepared check for a session that is lent a GPU machine (issue #15), from a `distil`
# binary built elsewhere and carried over, with the machine's own Python torch + transformers
# for the reference side. In order, each part logged to $OUT/logs/PART.log:
#
#   env      `distil env`, and the versions of PYTHON's torch and transformers
#   step-P-L `distil bench step` for each PRECISION:SEQ_LEN of STEP_RUNS (default:
#            bf16-autocast at 128 and 512, fp32 at 128; BERT-base teacher, 6-layer DistilBERT
#            student, batch `auto`), then reference-P-L: scripts/bench_reference.py on the same
#            weights and batches
#   logits   teacher and student MLM logits of `distil encode` against `transformers` on the
#            device, on the weights the first step run saved (scripts/gpu_check_logits.py),
#            twice: fp32 (`--dtype fp32` against transformers in fp32, TF32 off): max |diff|
#            at most 1e-4; and bf16 (`--dtype bf16` against transformers loaded in bf16): max
#            |diff| at most 2e-2 of the largest |transformers logit|. The bf16 bound is
#            relative because bf16's own spacing is 0.0625 near a logit of 8: an absolute
#            2e-2 already fails two correct bf16 implementations (transformers' eager and
#            SDPA attention differ by 0.04, 1.5% of the scale, on a random BERT-base whose
#            logits reach 3) and would say little on small logits
#   infer    `distil bench infer` (STS-B dev, batch 1 and 32)
#   distill  a torchrun job of NPROC rank(s) running `distil distill` for DISTILL_STEPS
#            optimizer steps on the tiny fixture teacher: NCCL on CUDA, Gloo on the CPU
#
# then every figure into $OUT/gpu-check.json and $OUT/gpu-check.md
# (scripts/gpu_check_report.py). A failing part is recorded and the others still run; the
# script exits 1 when any part failed. Sized for under 8 minutes on one H100/H200 (an estimate:
# it has not run on a GPU yet; lower STEP_STEPS or fix STEP_BATCH if a part runs long).
#
#   scripts/gpu-check.sh [DISTIL_BINARY]
#
# The binary must be built with NCCL for the CUDA torchrun part (`cargo build --release
# -p distil-cli -p distil-distributed --features distil-distributed/nccl`), against the same
# torch version as PYTHON's (whose libraries are put on LD_LIBRARY_PATH). Settings:
#   DISTIL          the binary (default: $1, else $CARGO_TARGET_DIR/release/distil, else
#                   ./target/release/distil)
#   PYTHON          Python with torch and transformers (default: python3)
#   OUT             results folder (default ./gpu-check-out; a previous check's results in it
#                   are replaced)
#   DEVICE          cuda (default) or cpu
#   SHAPES          `bench step|infer` model shape flags (default: none, i.e. BERT-base and
#                   DistilBERT; the vocabulary must stay 30522, data/vocab/bert-base-uncased's)
#   STEP_RUNS       "PRECISION:SEQ_LEN ..." (default "bf16-autocast:128 bf16-autocast:512
#                   fp32:128")
#   STEP_BATCH      `bench step --batch-size` (default: auto on CUDA, 8 on the CPU)
#   STEP_STEPS      timed steps per run (default 10); STEP_WARMUP untimed ones (default 2)
#   PEAK_TFLOPS     dense bf16 peak for the bf16 runs' MFU (default 989 on CUDA: H100/H200)
#   LOGIT_LINES     SST-2 dev sentences encoded for the logits part (default 16)
#   INFER_LIMIT     STS-B dev pairs for `bench infer` (default 500); INFER_BATCHES (1,32)
#   DISTILL_STEPS   optimizer steps of the torchrun job (default 20); NPROC ranks (default 1)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

target=${CARGO_TARGET_DIR:-$root/target}
distil=${DISTIL:-${1:-}}
if [[ -z $distil ]]; then
    distil=$target/release/distil
    [[ -x $distil ]] || distil=$root/target/release/distil
fi
python=${PYTHON:-python3}
out=${OUT:-$root/gpu-check-out}
device=${DEVICE:-cuda}
shapes=${SHAPES:-}
step_runs=${STEP_RUNS:-bf16-autocast:128 bf16-autocast:512 fp32:128}
if [[ $device == cuda* ]]; then
    step_batch=${STEP_BATCH:-auto}
    peak=${PEAK_TFLOPS:-989}
else
    step_batch=${STEP_BATCH:-8}
    peak=${PEAK_TFLOPS:-}
fi
step_steps=${STEP_STEPS:-10}
step_warmup=${STEP_WARMUP:-2}
logit_lines=${LOGIT_LINES:-16}
infer_limit=${INFER_LIMIT:-500}
infer_batches=${INFER_BATCHES:-1,32}
distill_steps=${DISTILL_STEPS:-20}
nproc=${NPROC:-1}

if [[ ! -x $distil ]]; then
    echo "gpu-check: no distil binary at $distil (pass its path or set DISTIL)" >&2
    exit 2
fi
if ! torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null); then
    echo "gpu-check: $python cannot import torch (set PYTHON)" >&2
    exit 2
fi
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# The Python side must find the local data files and never reach for the Hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

rm -rf "$out/logs" "$out/parts" "$out/work" "$out/gpu-check.json" "$out/gpu-check.md"
mkdir -p "$out/logs" "$out/parts" "$out/work"
work=$out/work

# part NAME COMMAND...: runs COMMAND with its output in logs/NAME.log and its exit status
# and seconds in parts/NAME.json.
part() {
    local name=$1
    shift
    local started=$SECONDS
    echo "==> $name"
    "$@" >"$out/logs/$name.log" 2>&1
    local rc=$?
    printf '{"rc": %d, "seconds": %d}\n' "$rc" "$((SECONDS - started))" >"$out/parts/$name.json"
    if [[ $rc -ne 0 ]]; then
        echo "    failed (exit $rc); last lines of $out/logs/$name.log:"
        tail -n 15 "$out/logs/$name.log" | sed 's/^/    /'
    fi
    return 0
}

d() { "$distil" --device "$device" "$@"; }

env_report() {
    d env && "$python" -c 'import torch, transformers
print(f"python torch {torch.__version__}, transformers {transformers.__version__}")'
}

step_run() {
    local precision=$1 seq=$2 dir=$3
    local extra=()
    [[ -n $peak && $precision == bf16* ]] && extra+=(--peak-tflops "$peak")
    # shellcheck disable=SC2086 # SHAPES is a list of flags
    d bench step $shapes --precision "$precision" --seq-len "$seq" --batch-size "$step_batch" \
        --steps "$step_steps" --warmup "$step_warmup" "${extra[@]}" \
        --save-inputs "$dir" --out "$dir/distil.json"
}

logits() {
    local models=$1 checks=() model dtype
    tail -n +2 data/glue/SST-2/dev.tsv | head -n "$logit_lines" | cut -f1 >"$work/lines.txt"
    for model in teacher student; do
        for dtype in fp32 bf16; do
            d encode --model "$models/$model" --tokenizer data/vocab/bert-base-uncased \
                --dtype "$dtype" --input "$work/lines.txt" \
                --out "$work/encode-$model-$dtype.safetensors" || return 1
        done
        checks+=(--model "$models/$model" "$work/encode-$model-fp32.safetensors"
            "$work/encode-$model-bf16.safetensors")
    done
    "$python" scripts/gpu_check_logits.py "${checks[@]}" --device "$device" --out "$work/logits.json"
}

infer() {
    # shellcheck disable=SC2086
    d bench infer $shapes --limit "$infer_limit" \
        --batch-sizes "$infer_batches" --out "$work/infer.json"
}

distill() {
    d -q prep --input data/text/books/gutenberg/pg11-carroll-alice-in-wonderland.txt \
        --tokenizer data/fixtures/bert-mlm --max-seq-len 64 --out "$work/shards" || return 1
    cat >"$work/distill.yaml" <<EOF
teacher:
  source: $root/data/fixtures/bert-mlm
student:
  teacher_layers: [0, 2]
data:
  shards: $work/shards
  batch_size: 16
  shuffle_buffer: 500
training:
  device: $device
  max_steps: $distill_steps
output:
  dir: $work/runs
  run_name: torchrun
  log_interval: 1
  checkpoint_interval: $distill_steps
  keep_last: 1
distributed:
  timeout_secs: 120
EOF
    "$python" -m torch.distributed.run --standalone --nproc-per-node "$nproc" --no-python \
        "$distil" -v distill --config "$work/distill.yaml"
}

part env env_report
first_models=
for run in $step_runs; do
    precision=${run%%:*}
    seq=${run##*:}
    dir=$work/step-$precision-$seq
    part "step-$precision-$seq" step_run "$precision" "$seq" "$dir"
    part "reference-$precision-$seq" \
        "$python" scripts/bench_reference.py step --dir "$dir" --out "$dir/reference.json"
    [[ -z $first_models && -d $dir/teacher ]] && first_models=$dir
done
if [[ -n $first_models ]]; then
    part logits logits "$first_models"
else
    part logits false
    echo "no step run saved weights to compare logits on" >>"$out/logs/logits.log"
fi
part infer infer
part distill distill

"$python" scripts/gpu_check_report.py --out "$out" --device "$device" --step-runs "$step_runs"
