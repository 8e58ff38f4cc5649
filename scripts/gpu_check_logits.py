#!/usr/bin/env python3
"""Compares the MLM logits `distil encode` wrote for a model folder with what `transformers`
computes from the same token ids on the same device, for scripts/gpu-check.sh.

fp32: `transformers` in fp32 (TF32 off) against distil's fp32 logits, tolerance 1e-4.
bf16: `distil encode` runs fp32 only, so there is no distil bf16 output to compare; the entry
says so (with transformers' own bf16-vs-fp32 distance, for scale) instead of a pass.

    python scripts/gpu_check_logits.py --pair MODEL_DIR ENCODED_FILE [--pair ...] --device cuda --out FILE

writes {model folder name: result} to FILE and exits 1 when any fp32 check fails.
"""

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM

FP32_TOLERANCE = 1e-4
BF16_TOLERANCE = 2e-2


def max_abs_diff(model, ours, device, dtype):
    """The largest |transformers - ours| over every line's logits."""
    worst = 0.0
    count = len([k for k in ours if k.startswith("input_ids.")])
    for i in range(count):
        ids = ours[f"input_ids.{i}"].unsqueeze(0).to(device)
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        reference = ours[f"mlm_logits.{i}"].to(device)
        worst = max(worst, (logits.float() - reference).abs().max().item())
    return worst, count


def check(model_dir, encoded, device):
    """One model folder against distil's `encode` output for it."""
    ours = load_file(str(encoded))
    model = AutoModelForMaskedLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    fp32, lines = max_abs_diff(model, ours, device, torch.float32)
    # transformers under bf16 autocast against distil's fp32: not a check of distil (see above).
    bf16_reference, _ = max_abs_diff(model, ours, device, torch.bfloat16)
    print(f"{model_dir.name}: {lines} lines, fp32 max |diff| {fp32:.2e} (tol {FP32_TOLERANCE:.0e}), "
          f"transformers bf16 vs distil fp32 {bf16_reference:.2e}")
    return dict(
        architecture=type(model).__name__,
        device=str(device),
        lines=lines,
        fp32=dict(max_abs_diff=fp32, tolerance=FP32_TOLERANCE, ok=fp32 <= FP32_TOLERANCE),
        bf16=dict(
            max_abs_diff=None,
            tolerance=BF16_TOLERANCE,
            ok=None,
            reason="distil encode has no bf16 mode",
            transformers_bf16_vs_distil_fp32=bf16_reference,
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", nargs=2, type=Path, action="append", required=True,
                        metavar=("MODEL_DIR", "ENCODED"), help="a model folder and distil encode's output for it")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    results = {model_dir.name: check(model_dir, encoded, device) for model_dir, encoded in args.pair}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["fp32"]["ok"] for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
