#!/usr/bin/env python3
"""Writes data/fixtures/expected/fill-mask.json: what transformers' fill-mask pipeline gives
for one masked text per fixture model, the top 8 candidates each with its `token` id,
`token_str` (the tokenizer's decoding of that one id, which the pipeline prints) and `score`.

- roberta-mlm: byte-level BPE, so candidates are `Ġ`-prefixed words (` poet`), lone bytes of
  a multi-byte character (decoded to `�`) and control characters.
- distilbert-mlm: WordPiece, with `##` continuation pieces among the candidates (`##ly`).

Pinned: transformers==5.24.0 (the version in $DISTIL_VENV).

    $DISTIL_VENV/bin/python scripts/make_fill_mask_fixtures.py
"""

import json

import transformers
from transformers import pipeline

from fixture_common import ROOT

assert transformers.__version__ == "5.24.0", transformers.__version__

OUT = ROOT / "data/fixtures/expected/fill-mask.json"
TOP_K = 8
CASES = {
    "roberta-mlm": "He was the <mask>.",
    "distilbert-mlm": "the city [MASK]",
}


def main():
    fixture = {"generator": "scripts/make_fill_mask_fixtures.py", "top_k": TOP_K}
    for name, text in CASES.items():
        fill = pipeline("fill-mask", model=str(ROOT / "data/fixtures" / name), device="cpu")
        candidates = [
            {"token": c["token"], "token_str": c["token_str"], "score": c["score"]}
            for c in fill(text, top_k=TOP_K)
        ]
        fixture[name] = {"text": text, "candidates": candidates}
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
