#!/usr/bin/env python3
"""Writes the fixtures of `distil eval sts|probe` under crates/distil-tasks/tests/data/representation/:
what `transformers`, scipy and scikit-learn compute for the tiny fixture BERT
(data/fixtures/bert-mlm, loaded as a bare `BertModel`) on small GLUE files cut from the shipped data.

- `STS-B/dev.tsv`: the first 40 pairs of data/glue/STS-B/dev.tsv; `glue/SST-2/{train,dev}.tsv`:
  the first 200 and 100 rows of SST-2 train and dev; `glue/RTE/{train,dev}.tsv`: the first 80
  and 40 rows of RTE train and dev (a sentence-pair task).
- `sts.json`: for mean and cls pooling, each pair's cosine similarity of its two sentences
  embedded on their own (`[CLS] s [SEP]`, truncated to MAX_SEQ_LENGTH tokens), and Spearman and
  Pearson (x 100) of the cosines against the gold scores (scipy). Mean pooling is
  sentence-transformers' (`sum(h * mask) / clamp(sum(mask), 1e-9)`), cls the first token's state.
- `probe.json`: per probe case, features (pooled last hidden states; a pair encoded as one
  sequence, truncated longest-first) of the first `train_examples` training rows and all dev
  rows, standardised with `StandardScaler` fitted on the training part, and
  `LogisticRegression(C=1/l2, solver="lbfgs", tol=1e-10, max_iter=10000)`: coefficients,
  intercepts, dev predictions and accuracy. lbfgs stops at a gradient of about 1e-8 of the mean
  loss (scipy's ftol ends it before gtol), some 1e-5 of the coefficients' scale short of the
  optimum; the "newton-cg" solver (gradient to 1e-11) must agree to 1e-4 of that scale, so the
  recorded values are the objective's optimum to well within the Rust tests' 1e-3.
- `logistic.json`: the same estimator on fixed synthetic features (binary and three-class, at
  several C), for the solver alone.

Pinned: transformers==5.24.0, torch==2.11.0 (the versions in $DISTIL_VENV), with scipy and
scikit-learn installed there.

    $DISTIL_VENV/bin/python scripts/make_representation_fixtures.py
"""

import json
import re
from pathlib import Path

import numpy as np
import scipy
import sklearn
import torch
import transformers
from scipy.stats import pearsonr, spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from transformers import AutoTokenizer, BertModel

assert transformers.__version__ == "5.24.0", transformers.__version__
assert torch.__version__.split("+")[0] == "2.11.0", torch.__version__

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "data/fixtures/bert-mlm"
GLUE = ROOT / "data/glue"
OUT = ROOT / "crates/distil-tasks/tests/data/representation"
MAX_SEQ_LENGTH = 64  # the fixture model's positions
BATCH = 16
STS_PAIRS = 40
# (task folder, train rows shipped, dev rows shipped, training rows the probe uses, l2, pooling,
# tokens per input). RTE's pairs get 63 tokens: 60 for the two sentences, an even budget. With
# an odd one, a pair whose sentences both exceed half of it keeps the spare token in the first
# sentence in the Python `tokenizers` 0.23.3 here (as transformers' reference truncation does)
# but in the second when that is no shorter in the Rust crate 0.23.1 that distil pins.
PROBES = [
    ("SST-2", 200, 100, 160, 1.0, "mean", MAX_SEQ_LENGTH),
    ("RTE", 80, 40, 80, 4.0, "cls", MAX_SEQ_LENGTH - 1),
]


def head(src: Path, dst: Path, rows: int) -> list[list[str]]:
    """Copies the header and the first `rows` rows of a GLUE TSV; returns those rows' fields."""
    lines = src.read_text(encoding="utf-8").splitlines()[: rows + 1]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [line.split("\t") for line in lines[1:]]


@torch.no_grad()
def embed(model, tokenizer, texts, pooling: str, max_length: int = MAX_SEQ_LENGTH) -> np.ndarray:
    """Pooled last hidden states, `[n, hidden]`, in float32 as the model computes them."""
    rows = []
    for start in range(0, len(texts), BATCH):
        chunk = texts[start : start + BATCH]
        if isinstance(chunk[0], tuple):
            batch = tokenizer([a for a, _ in chunk], [b for _, b in chunk], padding=True,
                              truncation="longest_first", max_length=max_length, return_tensors="pt")
        else:
            batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        if pooling == "mean":
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            rows.append((hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9))
        else:
            rows.append(hidden[:, 0])
    return torch.cat(rows).numpy()


def sts(model, tokenizer) -> dict:
    rows = head(GLUE / "STS-B/dev.tsv", OUT / "STS-B/dev.tsv", STS_PAIRS)
    first, second = [r[7] for r in rows], [r[8] for r in rows]
    gold = np.array([float(r[-1]) for r in rows])
    result = {"data": "STS-B/dev.tsv", "pairs": len(rows), "max_seq_length": MAX_SEQ_LENGTH}
    for pooling in ("mean", "cls"):
        a = embed(model, tokenizer, first, pooling).astype(np.float64)
        b = embed(model, tokenizer, second, pooling).astype(np.float64)
        cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        result[pooling] = {
            "spearman": 100 * float(spearmanr(cosines, gold)[0]),
            "pearson": 100 * float(pearsonr(cosines, gold)[0]),
            "cosines": cosines.tolist(),
        }
    return result


def fit(features, labels, C: float) -> LogisticRegression:
    """sklearn's estimator, checked against a second solver of the same objective."""
    lbfgs = LogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=10000).fit(features, labels)
    newton = LogisticRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=10000).fit(features, labels)
    for ours, other in [(lbfgs.coef_, newton.coef_), (lbfgs.intercept_, newton.intercept_)]:
        scale = np.abs(other).max()
        assert np.abs(ours - other).max() <= 1e-4 * scale, ("solvers disagree", ours, other)
    return lbfgs


def probe(model, tokenizer, task, train_rows, dev_rows, train_examples, l2, pooling, max_length) -> dict:
    def read(split, rows):
        fields = head(GLUE / task / f"{split}.tsv", OUT / "glue" / task / f"{split}.tsv", rows)
        if task == "SST-2":
            return [f[0] for f in fields], [int(f[1]) for f in fields]
        names = ["entailment", "not_entailment"]  # RTE's label order (GlueTask::labels)
        return [(f[1], f[2]) for f in fields], [names.index(f[3]) for f in fields]

    train_texts, train_labels = read("train", train_rows)
    dev_texts, dev_labels = read("dev", dev_rows)
    train_texts, train_labels = train_texts[:train_examples], train_labels[:train_examples]
    train = embed(model, tokenizer, train_texts, pooling, max_length).astype(np.float64)
    dev = embed(model, tokenizer, dev_texts, pooling, max_length).astype(np.float64)
    scaler = StandardScaler().fit(train)
    train, dev = scaler.transform(train), scaler.transform(dev)
    classifier = fit(train, train_labels, 1.0 / l2)
    predictions = classifier.predict(dev)
    return {
        "task": task.lower(), "pooling": pooling, "l2": l2, "max_seq_length": max_length,
        "train_examples": len(train_labels), "dev_examples": len(dev_labels),
        "coef": classifier.coef_.tolist(), "intercept": classifier.intercept_.tolist(),
        "predictions": predictions.tolist(),
        "accuracy": float((predictions == np.array(dev_labels)).mean()),
    }


def synthetic(name: str, n: int, d: int, classes: int, C: float, seed: int) -> dict:
    """Overlapping Gaussian clusters (features not standardised), so the penalty matters."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(0, 1.0, (classes, d))
    # Rounded before fitting, so the JSON holds exactly the features sklearn saw.
    features = np.round(centres[labels] + rng.normal(0, 1.5, (n, d)) + rng.normal(0, 2.0, d), 4)
    classifier = fit(features, labels, C)
    return {"name": name, "C": C, "features": features.tolist(), "labels": labels.tolist(),
            "coef": classifier.coef_.tolist(), "intercept": classifier.intercept_.tolist()}


def write(name: str, value: dict) -> None:
    """Pretty JSON with every list of numbers on one line."""
    path = OUT / name
    text = json.dumps(value, indent=1)
    text = re.sub(r"\[[-0-9.e,\s\[\]]*\]", lambda m: re.sub(r"\s+", "", m.group(0)).replace(",", ", "), text)
    path.write_text(text + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = BertModel.from_pretrained(MODEL, add_pooling_layer=False).eval()
    versions = {"transformers": transformers.__version__, "torch": torch.__version__,
                "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}
    common = {"generator": "scripts/make_representation_fixtures.py", "versions": versions,
              "model": "data/fixtures/bert-mlm"}
    write("sts.json", {**common, **sts(model, tokenizer)})
    write("probe.json", {**common, "cases": [probe(model, tokenizer, *case) for case in PROBES]})
    cases = [synthetic("binary", 80, 4, 2, 0.5, 1), synthetic("binary_weak_penalty", 80, 4, 2, 8.0, 2),
             synthetic("three_class", 90, 5, 3, 1.0, 3), synthetic("three_class_strong_penalty", 90, 5, 3, 0.05, 4)]
    write("logistic.json", {"generator": common["generator"], "versions": versions, "cases": cases})


if __name__ == "__main__":
    main()
