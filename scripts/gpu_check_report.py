#!/usr/bin/env python3
"""Gathers what scripts/gpu-check.sh measured under OUT into one JSON (OUT/gpu-check.json) and
one markdown table (OUT/gpu-check.md). A figure a failed part did not produce is null, and the
part is listed with its exit status; exits 1 when any part failed.

    python scripts/gpu_check_report.py --out OUT --device cuda --step-runs "bf16-autocast:128 ..."
"""

import argparse
import json
import re
from pathlib import Path


def read_json(path):
    return json.loads(path.read_text()) if path.is_file() else None


def step_figures(work, precision, seq_len):
    """One `bench step` run of distil beside the reference on the same weights and batches."""
    folder = work / f"step-{precision}-{seq_len}"
    distil = read_json(folder / "distil.json")
    reference = read_json(folder / "reference.json")
    ours = next((r for r in (distil or {}).get("runs", []) if r["precision"] == precision), None)
    theirs = next((r for r in (reference or {}).get("runs", []) if r["precision"] == precision), None)
    figures = dict(
        precision=precision,
        seq_len=seq_len,
        batch_size=distil and distil.get("batch_size"),
        distil_tokens_per_s=ours and ours["tokens_per_s"],
        reference_tokens_per_s=theirs and theirs["tokens_per_s"],
        ratio=None,
        distil_tflops_per_s=ours and ours.get("tflops_per_s"),
        distil_mfu=ours and ours.get("mfu"),
        distil_peak_cuda_allocated_mib=ours and ours.get("peak_cuda_allocated_mib"),
        distil_peak_cuda_reserved_mib=ours and ours.get("peak_cuda_reserved_mib"),
        distil_peak_rss_mib=ours and ours.get("peak_rss_mib"),
    )
    if figures["distil_tokens_per_s"] and figures["reference_tokens_per_s"]:
        figures["ratio"] = figures["distil_tokens_per_s"] / figures["reference_tokens_per_s"]
    return figures


def distill_figures(out):
    """The torchrun job: the backend rank 0 joined with, its last logged losses."""
    log = out / "logs" / "distill.log"
    text = log.read_text() if log.is_file() else ""
    joined = re.search(r"rank 0 of (\d+) joined \S+ \((\w+)", text)
    finished = re.search(r"finished after (\d+) optimizer steps", text)
    metrics = out / "work" / "runs" / "torchrun" / "metrics.jsonl"
    lines = metrics.read_text().splitlines() if metrics.is_file() else []
    last = json.loads(lines[-1]) if lines else {}
    return dict(
        world_size=int(joined.group(1)) if joined else None,
        backend=joined.group(2) if joined else None,
        steps=int(finished.group(1)) if finished else None,
        logged_steps=len(lines),
        final_loss=last.get("losses/loss"),
    )


def markdown(report):
    def fmt(value, digits=1):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.{digits}f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"
        return str(value)

    def verdict(check):
        return ("pass" if check["ok"] else "FAIL") if check else "not run"

    rows = ["| what | distil | PyTorch | distil / PyTorch | notes |", "| --- | --- | --- | --- | --- |"]
    for s in report["step"]:
        notes = [f"batch {fmt(s['batch_size'])}"]
        if s["distil_mfu"] is not None:
            notes.append(f"MFU {100 * s['distil_mfu']:.1f}%")
        if s["distil_peak_cuda_allocated_mib"] is not None:
            notes.append(f"peak CUDA {fmt(s['distil_peak_cuda_allocated_mib'], 0)} MiB allocated, "
                         f"{fmt(s['distil_peak_cuda_reserved_mib'], 0)} reserved")
        ratio = f"{s['ratio']:.2f}x" if s["ratio"] else "-"
        rows.append(f"| step {s['precision']} x {s['seq_len']} (tokens/s) | {fmt(s['distil_tokens_per_s'])} "
                    f"| {fmt(s['reference_tokens_per_s'])} | {ratio} | {'; '.join(notes)} |")
    for name, l in report["logits"].items():
        # Both precisions' rows, also when the part produced nothing, so a missing one shows.
        fp32, bf16 = (l["fp32"], l["bf16"]) if l else (None, None)
        value = fmt(fp32["max_abs_diff"], 2) if fp32 else "-"
        rows.append(f"| {name} logits fp32, max abs diff vs transformers | {value} | | | "
                    f"tol 1e-4: {verdict(fp32)} |")
        value = fmt(bf16["max_abs_diff"], 3) if bf16 else "-"
        notes = (f"{fmt(bf16['max_rel_diff'], 3)} of the max abs logit {fmt(bf16['logit_scale'], 2)}, "
                 f"tol 2e-2 of it: {verdict(bf16)}; bf16 vs fp32 on that scale: transformers "
                 f"{fmt(bf16['reference_bf16_vs_fp32_rel'], 3)}, distil "
                 f"{fmt(bf16['distil_bf16_vs_fp32_rel'], 3)}") if bf16 else "not run"
        rows.append(f"| {name} logits bf16, max abs diff vs transformers bf16 | {value} | | | {notes} |")
    for r in report["infer"]:
        rows.append(f"| infer {r['model']} batch {r['batch_size']} (pairs/s) | {fmt(r['pairs_per_s'])} | | | |")
    d = report["distill"]
    rows.append(f"| torchrun distill, {fmt(d['world_size'])} rank(s), {fmt(d['backend'])} | "
                f"{fmt(d['steps'])} steps | | | final loss {fmt(d['final_loss'], 4)} |")
    failed = [name for name, p in report["parts"].items() if p["rc"] != 0]
    head = [f"# GPU check on {report['device']}", "",
            "Every part passed." if not failed else f"Failed parts: {', '.join(failed)} (see logs/).", ""]
    return "\n".join(head + rows) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--step-runs", required=True, help='"PRECISION:SEQ_LEN ..."')
    args = parser.parse_args()
    out, work = args.out, args.out / "work"

    parts = {p.stem: read_json(p) for p in sorted((out / "parts").glob("*.json"))}
    env_log = out / "logs" / "env.log"
    infer = read_json(work / "infer.json")
    report = dict(
        device=args.device,
        ok=all(p["rc"] == 0 for p in parts.values()),
        parts=parts,
        env=env_log.read_text() if env_log.is_file() else None,
        step=[step_figures(work, run.split(":")[0], int(run.split(":")[1]))
              for run in args.step_runs.split()],
        logits=read_json(work / "logits.json") or dict(teacher=None, student=None),
        infer=[dict(model=r["model"], batch_size=r["batch_size"], pairs_per_s=r["pairs_per_s"])
               for r in (infer or {}).get("runs", [])],
        infer_speedups=(infer or {}).get("speedups"),
        distill=distill_figures(out),
    )
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "gpu-check.md").write_text(table)
    print(table)
    if not report["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
