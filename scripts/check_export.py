#!/usr/bin/env python3
"""Checks that model directories written by distil load in `transformers` and compute what
distil computes.

By default it writes, with the `distil` binary, a 3-layer student from the tiny BERT fixture
(`distil init-student --layers 0,2,3 --vocab-transform`) and an exported teacher
(`distil export`), runs `distil encode` on a few GLUE dev sentences, loads each directory with
`AutoModelForMaskedLM.from_pretrained` (`AutoModelForCausalLM` for GPT-2) and compares the
vocabulary logits and last hidden states.
Exits non-zero when a difference exceeds the tolerance (1e-5).

    $DISTIL_VENV/bin/python scripts/check_export.py [--distil target/release/distil] [--model DIR ...]

With `--qa-logits FILE`, each `--model` is a question-answering folder (a `distil finetune
squad` run's `model/`) instead: FILE holds the `input_ids`, `attention_mask` (and, for BERT,
`token_type_ids`) of a padded batch and the `start_logits` / `end_logits` distil computed on
it. The folder must load in `AutoModelForQuestionAnswering` as its `architectures` class with
every weight found (no fresh head), and give those logits on the real tokens.

    $DISTIL_VENV/bin/python scripts/check_export.py --qa-logits FILE --model DIR
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForQuestionAnswering

ROOT = Path(__file__).resolve().parent.parent


def default_distil() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        if (target / profile / "distil").is_file():
            return target / profile / "distil"
    raise SystemExit(f"no distil binary under {target}; build it or pass --distil")


def distil(binary: Path, *args: str) -> None:
    subprocess.run([str(binary), "--device", "cpu", "-q", *args], check=True)


def compare(binary: Path, model_dir: Path, lines_file: Path, work: Path, tol: float) -> bool:
    encoded = work / f"{model_dir.name}-encode.safetensors"
    distil(binary, "encode", "--model", str(model_dir), "--input", str(lines_file), "--out", str(encoded))
    ours = load_file(str(encoded))
    causal = AutoConfig.from_pretrained(model_dir).model_type == "gpt2"
    auto = AutoModelForCausalLM if causal else AutoModelForMaskedLM
    model = auto.from_pretrained(model_dir, dtype=torch.float32).eval()
    logits_key = "lm_logits" if causal else "mlm_logits"
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    worst = {logits_key: 0.0, "last_hidden_state": 0.0}
    lines = lines_file.read_text().splitlines()
    for i, line in enumerate(lines):
        enc = tokenizer.encode(line)
        ids = torch.tensor([enc.ids])
        assert torch.equal(ids[0], ours[f"input_ids.{i}"]), f"line {i}: token ids differ"
        kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if model.config.model_type == "bert":
            kwargs["token_type_ids"] = torch.tensor([enc.type_ids])
        with torch.no_grad():
            out = model(**kwargs, output_hidden_states=True)
        for key, theirs in ((logits_key, out.logits[0]), ("last_hidden_state", out.hidden_states[-1][0])):
            diff = (theirs - ours[f"{key}.{i}"]).abs().max().item()
            worst[key] = max(worst[key], diff)
    ok = all(v <= tol for v in worst.values())
    print(
        f"{'OK  ' if ok else 'FAIL'} {model_dir.name:<10} {type(model).__name__:<24} "
        f"{len(lines)} lines  max |diff| logits {worst[logits_key]:.2e}  "
        f"last hidden {worst['last_hidden_state']:.2e}  (tol {tol:.0e})"
    )
    return ok


def compare_qa(model_dir: Path, logits_file: Path, tol: float) -> bool:
    ours = load_file(str(logits_file))
    model, info = AutoModelForQuestionAnswering.from_pretrained(
        model_dir, dtype=torch.float32, output_loading_info=True
    )
    model.eval()
    if info["missing_keys"]:
        print(f"FAIL {model_dir.name}: weights missing from the folder: {sorted(info['missing_keys'])}")
        return False
    saved_class = json.loads((model_dir / "config.json").read_text())["architectures"][0]
    if type(model).__name__ != saved_class:
        print(f"FAIL {model_dir.name}: loaded as {type(model).__name__}, config.json says {saved_class}")
        return False
    inputs = {k: ours[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in ours}
    with torch.no_grad():
        out = model(**inputs)
    real = ours["attention_mask"].bool()
    worst = {
        key: (getattr(out, key) - ours[key]).abs()[real].max().item()
        for key in ("start_logits", "end_logits")
    }
    ok = all(v <= tol for v in worst.values())
    rows, length = ours["input_ids"].shape
    print(
        f"{'OK  ' if ok else 'FAIL'} {model_dir.name:<10} {type(model).__name__:<28} "
        f"{rows}x{length} windows  max |diff| start {worst['start_logits']:.2e}  "
        f"end {worst['end_logits']:.2e}  (tol {tol:.0e})"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distil", type=Path, default=None, help="the distil binary")
    parser.add_argument("--teacher", type=Path, default=ROOT / "data/fixtures/bert-mlm")
    parser.add_argument("--model", type=Path, action="append", help="check these directories instead")
    parser.add_argument("--lines", type=int, default=8, help="GLUE SST-2 dev sentences to encode")
    parser.add_argument("--tol", type=float, default=1e-5)
    parser.add_argument("--qa-logits", type=Path, help="check QA folders against these logits")
    args = parser.parse_args()
    if args.qa_logits:
        if not args.model:
            parser.error("--qa-logits needs --model")
        sys.exit(0 if all([compare_qa(m, args.qa_logits, args.tol) for m in args.model]) else 1)
    binary = args.distil or default_distil()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sst2 = (ROOT / "data/glue/SST-2/dev.tsv").read_text().splitlines()[1 : 1 + args.lines]
        lines_file = work / "lines.txt"
        lines_file.write_text("\n".join(line.split("\t")[0].strip() for line in sst2) + "\n")
        models = args.model
        if not models:
            student, teacher = work / "student", work / "teacher"
            distil(binary, "init-student", "--teacher", str(args.teacher), "--layers", "0,2,3",
                   "--vocab-transform", "--out", str(student))
            distil(binary, "export", "--model", str(args.teacher), "--out", str(teacher))
            models = [student, teacher]
        results = [compare(binary, m, lines_file, work, args.tol) for m in models]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
