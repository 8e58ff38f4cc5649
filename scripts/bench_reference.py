#!/usr/bin/env python3
"""The Python reference of `distil bench infer` and `distil bench step`: the same measurements
with `transformers` + PyTorch (eager mode, no torch.compile), on the weights and inputs that
distil wrote with `--save-inputs DIR`, then the distil / reference ratios.

    distil bench infer --save-inputs DIR --out DIR/distil.json [shape options]
    python scripts/bench_reference.py infer --dir DIR

`step` does what the reference distiller (`examples/research_projects/distillation/
distiller.py`, `Distiller.step` and `optimize`) does for one batch: the teacher's forward under
no_grad, the student's forward with full [B, L, V] logits, the selected rows by masked_select,
KLDiv(batchmean) x T^2 + MLM cross-entropy + cosine embedding loss weighted 5 / 2 / 1, backward,
global-norm clipping to 5.0 and torch.optim.AdamW (lr 5e-4, betas 0.9/0.98, eps 1e-6). Losses
are computed in fp32, as distil does. Each of distil's runs is repeated at its precision:
`fp32`; `bf16-autocast` (teacher cast to bf16, student fp32 master weights, the step under
`torch.autocast(device_type, dtype=torch.bfloat16)`); `bf16` (both models' weights cast).
The JSON uses distil's field names (`precision`, `tokens_per_s`, `peak_rss_mib`,
`peak_cuda_allocated_mib`, ...). scripts/bench_compare.sh runs both sides back to back.
"""

import argparse
import gc
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import BertForMaskedLM, DistilBertForMaskedLM


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def load_models(directory, dtype=torch.float32):
    teacher = BertForMaskedLM.from_pretrained(directory / "teacher", dtype=dtype)
    student = DistilBertForMaskedLM.from_pretrained(directory / "student", dtype=dtype)
    return teacher, student


def pad(rows, pad_id):
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def infer(directory, distil):
    pairs = json.loads((directory / "pairs.json").read_text())
    teacher, student = load_models(directory)
    teacher.eval()
    student.eval()
    order = list(range(len(pairs["input_ids"])))
    if distil["sort_by_length"]:
        order.sort(key=lambda i: len(pairs["input_ids"][i]))
    batch_sizes = sorted({r["batch_size"] for r in distil["runs"]}, key=[
        r["batch_size"] for r in distil["runs"]].index)
    runs = []
    for batch_size in batch_sizes:
        batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = pad([pairs["input_ids"][i] for i in chunk], pairs["pad_id"])
            types, _ = pad([pairs["token_type_ids"][i] for i in chunk], 0)
            batches.append((ids, mask, types))
        forwards = {
            # Encoder only: no MLM head, no pooler (BertForMaskedLM's BERT has none).
            "teacher": lambda b: teacher.bert(input_ids=b[0], attention_mask=b[1], token_type_ids=b[2]),
            "student": lambda b: student.distilbert(input_ids=b[0], attention_mask=b[1]),
        }
        for name, forward in forwards.items():
            with torch.inference_mode():
                for i in range(distil["warmup"]):
                    forward(batches[i % len(batches)])
                started = time.perf_counter()
                for b in batches:
                    forward(b)
                seconds = time.perf_counter() - started
            n = sum(b[0].shape[0] for b in batches)
            runs.append(dict(model=name, batch_size=batch_size, pairs=n, seconds=seconds,
                             pairs_per_s=n / seconds))
    return dict(bench="infer", implementation="transformers", runs=runs)


def reference_losses(teacher, student, ids, mask, labels, temperature=2.0):
    """`Distiller.step`'s loss on full logits, returned as (total, {term: value})."""
    with torch.no_grad():
        t_out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    s_out = student(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    s_logits, t_logits = s_out.logits.float(), t_out.logits.float()
    vocab = s_logits.size(-1)
    sel = mask.unsqueeze(-1).expand_as(s_logits).bool()
    s_slct = torch.masked_select(s_logits, sel).view(-1, vocab)
    t_slct = torch.masked_select(t_logits, sel).view(-1, vocab)
    loss_ce = F.kl_div(F.log_softmax(s_slct / temperature, dim=-1),
                       F.softmax(t_slct / temperature, dim=-1),
                       reduction="batchmean") * temperature**2
    loss_mlm = F.cross_entropy(s_logits.view(-1, vocab), labels.view(-1), ignore_index=-100)
    s_h, t_h = s_out.hidden_states[-1].float(), t_out.hidden_states[-1].float()
    sel = mask.unsqueeze(-1).expand_as(s_h).bool()
    s_h = torch.masked_select(s_h, sel).view(-1, s_h.size(-1))
    t_h = torch.masked_select(t_h, sel).view(-1, t_h.size(-1))
    loss_cos = F.cosine_embedding_loss(s_h, t_h, s_h.new_ones(s_h.size(0)), reduction="mean")
    total = 5.0 * loss_ce + 2.0 * loss_mlm + 1.0 * loss_cos
    return total, dict(loss_ce=loss_ce, loss_mlm=loss_mlm, loss_cos=loss_cos)


def split_rows(batches, parts):
    """Each batch cut into `parts` batches of consecutive rows (the same tokens in all)."""
    return [tuple(t.chunk(parts)[i] for t in batch) for batch in batches for i in range(parts)]


def step_run(directory, distil, precision, batches):
    """distil's batches at `precision`; on a CUDA out-of-memory error (the reference keeps full
    [B, L, V] logits, so a batch that distil's `--batch-size auto` found may not fit), the rows
    are split into halves, quarters, ... of the batch, and the run's `batch_size` says so. The
    timed tokens stay the same, so tokens/s still compare."""
    if precision not in ("fp32", "bf16-autocast", "bf16"):
        raise SystemExit(f"unknown precision {precision!r} in distil's report")
    rows = int(batches[0][0].shape[0])
    parts = 1
    while True:
        try:
            run = step_run_at(directory, distil, precision, split_rows(batches, parts), parts)
            return run | {"batch_size": rows // parts}
        except torch.cuda.OutOfMemoryError:
            if rows // (2 * parts) < 1:
                raise
        gc.collect()
        torch.cuda.empty_cache()
        parts *= 2
        print(f"{precision}: out of GPU memory, retrying with batches of {rows // parts} rows")


def step_run_at(directory, distil, precision, batches, parts):
    """`precision`: fp32, bf16 (both models cast, as distil does) or bf16-autocast (teacher
    cast, student fp32 weights under CPU/CUDA autocast); `parts` batches per distil batch."""
    reset_peak_rss()
    device = torch.device("cuda" if distil["machine"]["device"].startswith("Cuda") else "cpu")
    if device.type == "cuda":
        # The previous run's cached blocks would otherwise count in this run's reserved peak.
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    dtype = torch.float32 if precision != "bf16" else torch.bfloat16
    teacher, student = load_models(directory, dtype)
    if precision == "bf16-autocast":
        teacher = teacher.to(torch.bfloat16)
    teacher.to(device).eval()
    student.to(device).train()
    student.distilbert.embeddings.position_embeddings.weight.requires_grad_(False)
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16,
                              enabled=precision == "bf16-autocast")

    def one_step(batch):
        ids, mask, labels = (t.to(device) for t in batch)
        with autocast:
            total, terms = reference_losses(teacher, student, ids, mask, labels)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        optimizer.zero_grad()
        return {k: v.item() for k, v in terms.items()} | {"loss": total.item()}

    warmup = distil["warmup"] * parts
    for batch in batches[:warmup]:
        one_step(batch)
    timed = batches[warmup:]
    started = time.perf_counter()
    first = None
    for batch in timed:
        losses = one_step(batch)
        first = first or losses
    seconds = time.perf_counter() - started
    tokens = int(sum(int(b[1].sum()) for b in timed))
    mib = 1024.0 * 1024.0
    cuda = device.type == "cuda"
    return dict(precision=precision, steps=len(timed), tokens=tokens, seconds=seconds,
                step_seconds=seconds / len(timed), tokens_per_s=tokens / seconds,
                peak_rss_mib=peak_rss_mib(),
                peak_cuda_allocated_mib=torch.cuda.max_memory_allocated(device) / mib if cuda else None,
                peak_cuda_reserved_mib=torch.cuda.max_memory_reserved(device) / mib if cuda else None,
                first_losses=first)


def step(directory, distil):
    stored = load_file(str(directory / "batches.safetensors"))
    count = len([k for k in stored if k.startswith("input_ids.")])
    batches = [(stored[f"input_ids.{i}"], stored[f"attention_mask.{i}"], stored[f"labels.{i}"])
               for i in range(count)]
    runs = [step_run(directory, distil, r["precision"], batches) for r in distil["runs"]]
    return dict(bench="step", implementation="transformers", batch_size=distil["batch_size"],
                seq_len=distil.get("seq_len"), runs=runs)


def compare(distil, reference):
    key, rate = (("model", "pairs_per_s") if distil["bench"] == "infer"
                 else ("precision", "tokens_per_s"))
    unit = rate.replace("_per_s", "/s")
    print(f"{'run':<22} {'distil ' + unit:>16} {'torch ' + unit:>16} {'distil/torch':>13}")

    # infer runs are one per model and batch size; step runs one per precision (a reference
    # step run may have split distil's batches to fit the GPU, see step_run).
    def run_key(run):
        return (run[key], run.get("batch_size") if distil["bench"] == "infer" else None)

    ref_runs = {run_key(r): r for r in reference["runs"]}
    for d in distil["runs"]:
        r = ref_runs.get(run_key(d))
        label = f"{d[key]} b{d['batch_size']}" if "batch_size" in d else d[key]
        if r:
            print(f"{label:<22} {d[rate]:>16.2f} {r[rate]:>16.2f} {d[rate] / r[rate]:>12.2f}x")
    for r in reference["runs"]:
        if run_key(r) not in {run_key(d) for d in distil["runs"]}:
            label = f"torch {r[key]}"
            print(f"{label:<22} {'':>16} {r[rate]:>16.2f}")
    if distil["bench"] == "infer":
        for batch_size, speedup in distil["speedups"]:
            t = ref_runs[("teacher", batch_size)]["pairs_per_s"]
            s = ref_runs[("student", batch_size)]["pairs_per_s"]
            print(f"student/teacher at batch {batch_size}: distil {speedup:.2f}x, torch {s / t:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench", choices=["infer", "step"])
    parser.add_argument("--dir", type=Path, required=True,
                        help="the --save-inputs directory of the distil run")
    parser.add_argument("--distil-json", type=Path,
                        help="distil's --out file (default DIR/distil.json)")
    parser.add_argument("--out", type=Path, help="default DIR/reference.json")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    distil = json.loads((args.distil_json or args.dir / "distil.json").read_text())
    torch.manual_seed(0)
    if args.bench == "infer":
        result = infer(args.dir, distil)
    else:
        result = step(args.dir, distil)
    result["threads"] = torch.get_num_threads()
    result["torch"] = torch.__version__
    out = args.out or args.dir / "reference.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    compare(distil, result)


if __name__ == "__main__":
    main()
