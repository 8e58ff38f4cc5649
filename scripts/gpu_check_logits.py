#!/usr/bin/env python3
"""Compares the MLM logits `distil encode` wrote for a model folder with what `transformers`
computes from the same token ids on the same device, in fp32 and in bf16, for
scripts/gpu-check.sh.

fp32: `distil encode --dtype fp32` against `transformers` loaded in fp32 (TF32 off): the max
|diff| over every line's logits must be at most 1e-4.

bf16: `distil encode --dtype bf16` (weights and forward in bf16, logits written as fp32)
against `transformers` loaded with dtype=torch.bfloat16 (no autocast). The check is relative:
max |diff| / max |transformers bf16 logit| must be at most 2e-2. An absolute 2e-2 would be
the wrong yardstick in bf16: its spacing near a logit of 8 is already 0.0625, and two correct
bf16 implementations (transformers' own eager and SDPA attention, measured on a randomly
initialised BERT-base whose logits reach about 3) differ by about 0.04, so an absolute bound
fails equivalent implementations and passes anything on small logits. Relative to the logits'
scale, those two differ by 1.5%. Beside it, on the same scale: `reference_bf16_vs_fp32_rel`,
transformers' own bf16 error against its fp32 (the noise floor a distil bf16 difference should
be read against), and `distil_bf16_vs_fp32_rel`, distil's (non-zero: its bf16 run really ran
in bf16, which a zero difference against transformers, as on tiny models, cannot show).

    python scripts/gpu_check_logits.py --model MODEL_DIR FP32_FILE BF16_FILE [--model ...] \\
        --device cuda --out FILE

writes {model folder name: result} to FILE and exits 1 when any check fails.
"""

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM

FP32_TOLERANCE = 1e-4
BF16_REL_TOLERANCE = 2e-2


def reference_logits(model_dir, ours, device, dtype):
    """transformers' logits of every line distil encoded, as fp32, with the model in `dtype`."""
    model = AutoModelForMaskedLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    lines = len([k for k in ours if k.startswith("input_ids.")])
    logits = []
    for i in range(lines):
        ids = ours[f"input_ids.{i}"].unsqueeze(0).to(device)
        with torch.inference_mode():
            logits.append(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float())
    return type(model).__name__, logits


def distance(ours, reference):
    """The largest |ours - reference| over every line, and the largest |reference|."""
    worst, scale = 0.0, 0.0
    for i, ref in enumerate(reference):
        mine = ours[f"mlm_logits.{i}"].to(ref.device).float()
        worst = max(worst, (mine - ref).abs().max().item())
        scale = max(scale, ref.abs().max().item())
    return worst, scale


def check(model_dir, fp32_file, bf16_file, device):
    """One model folder against distil's fp32 and bf16 `encode` outputs for it."""
    fp32_ours, bf16_ours = load_file(str(fp32_file)), load_file(str(bf16_file))
    architecture, fp32_ref = reference_logits(model_dir, fp32_ours, device, torch.float32)
    _, bf16_ref = reference_logits(model_dir, bf16_ours, device, torch.bfloat16)
    fp32_diff, _ = distance(fp32_ours, fp32_ref)
    bf16_diff, bf16_scale = distance(bf16_ours, bf16_ref)
    bf16_rel = bf16_diff / bf16_scale if bf16_scale > 0 else float("inf")
    # Each side's own bf16 error against its fp32, on the same scale (all read the same ids).
    floor = max((b - f).abs().max().item() for b, f in zip(bf16_ref, fp32_ref))
    floor_rel = floor / bf16_scale if bf16_scale > 0 else float("inf")
    own, _ = distance(bf16_ours, [fp32_ours[f"mlm_logits.{i}"].float() for i in range(len(fp32_ref))])
    own_rel = own / bf16_scale if bf16_scale > 0 else float("inf")
    print(f"{model_dir.name}: {len(fp32_ref)} lines, fp32 max |diff| {fp32_diff:.2e} "
          f"(tol {FP32_TOLERANCE:.0e}), bf16 max |diff| {bf16_diff:.2e} = {bf16_rel:.2e} of the "
          f"logits' scale {bf16_scale:.2f} (tol {BF16_REL_TOLERANCE:.0e}; transformers bf16 vs "
          f"fp32: {floor_rel:.2e})")
    return dict(
        architecture=architecture,
        device=str(device),
        lines=len(fp32_ref),
        fp32=dict(max_abs_diff=fp32_diff, tolerance=FP32_TOLERANCE, ok=fp32_diff <= FP32_TOLERANCE),
        bf16=dict(
            max_abs_diff=bf16_diff,
            logit_scale=bf16_scale,
            max_rel_diff=bf16_rel,
            tolerance=BF16_REL_TOLERANCE,
            tolerance_kind="max |diff| / max |transformers bf16 logit|",
            ok=bf16_rel <= BF16_REL_TOLERANCE,
            reference_bf16_vs_fp32_rel=floor_rel,
            distil_bf16_vs_fp32_rel=own_rel,
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs=3, type=Path, action="append", required=True,
                        metavar=("MODEL_DIR", "FP32_FILE", "BF16_FILE"),
                        help="a model folder and distil encode's fp32 and bf16 outputs for it")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    results = {model_dir.name: check(model_dir, fp32_file, bf16_file, device)
               for model_dir, fp32_file, bf16_file in args.model}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["fp32"]["ok"] and r["bf16"]["ok"] for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
