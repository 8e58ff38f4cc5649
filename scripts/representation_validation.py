#!/usr/bin/env python3
"""Validation scores for choosing the mini-cpu recipe, on data the report never shows.

The report scores models on STS-B dev (zero-shot) and SST-2 dev (a frozen linear probe); the
recipe (student layers, loss terms and weights, learning rate, steps, distillation text) is
chosen on these validation scores instead, computed independently of distil with
`transformers`, scipy and scikit-learn:

- sts_val: Spearman x 100 of the cosine of mean-pooled last hidden states on the first 2,000
  STS-B *train* pairs (each sentence encoded on its own, sentence-transformers' mean pooling);
- probe_val: L2 logistic regression (C=1, lbfgs) on standardised mean-pooled features of the
  first 2,000 SST-2 training sentences, accuracy on the *last* 1,000 training sentences.

Usage:
  representation_validation.py MODEL_DIR [MODEL_DIR ...]             # exported models
  representation_validation.py --teacher DIR --layers 0,4,5 [--layers ...]  # undistilled cuts
Prints one JSON line per model. Needs scipy and scikit-learn beside torch and transformers.
"""

import argparse
import copy
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from transformers import AutoModel, AutoTokenizer

GLUE = Path(__file__).resolve().parent.parent / "data" / "glue"


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        return header, [line.rstrip("\n").split("\t") for line in f]


def sts_train_pairs():
    header, rows = read_tsv(GLUE / "STS-B" / "train.tsv")
    a, b, s = header.index("sentence1"), header.index("sentence2"), header.index("score")
    return [(r[a], r[b], float(r[s])) for r in rows]


def sst2_train():
    header, rows = read_tsv(GLUE / "SST-2" / "train.tsv")
    return [(r[0], int(r[1])) for r in rows]


@torch.inference_mode()
def mean_pooled(model, tokenizer, sentences, batch=64):
    # Batches of similar lengths: padding would otherwise dominate the cost.
    lengths = [len(ids) for ids in tokenizer(sentences, truncation=True, max_length=128)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(sentences), model.config.hidden_size), dtype=np.float32)
    for i in range(0, len(sentences), batch):
        idx = order[i : i + batch]
        enc = tokenizer([sentences[j] for j in idx], padding=True, truncation=True,
                        max_length=128, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out[idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return out


def scores(model, tokenizer):
    pairs = sts_train_pairs()[:2000]
    u = mean_pooled(model, tokenizer, [p[0] for p in pairs])
    v = mean_pooled(model, tokenizer, [p[1] for p in pairs])
    cos = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    sts = spearmanr(cos, [p[2] for p in pairs]).correlation * 100
    sst = sst2_train()
    train, held = sst[:2000], sst[-1000:]
    xt = mean_pooled(model, tokenizer, [t for t, _ in train])
    xh = mean_pooled(model, tokenizer, [t for t, _ in held])
    mu, sd = xt.mean(0), xt.std(0) + 1e-8
    clf = LogisticRegression(C=1.0, max_iter=5000).fit((xt - mu) / sd, [y for _, y in train])
    probe = (clf.predict((xh - mu) / sd) == np.array([y for _, y in held])).mean() * 100
    return {"sts_val": round(float(sts), 2), "probe_val": round(float(probe), 2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*")
    parser.add_argument("--teacher")
    parser.add_argument("--layers", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    for path in args.models:
        model = AutoModel.from_pretrained(path).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        print(json.dumps({"model": path, **scores(model, tokenizer)}), flush=True)
    if args.teacher:
        teacher = AutoModel.from_pretrained(args.teacher).eval()
        tokenizer = AutoTokenizer.from_pretrained(args.teacher)
        for spec in args.layers:
            keep = [int(x) for x in spec.split(",")]
            model = copy.deepcopy(teacher)
            model.encoder.layer = torch.nn.ModuleList([teacher.encoder.layer[i] for i in keep])
            model.config.num_hidden_layers = len(keep)
            print(json.dumps({"layers": spec, **scores(model, tokenizer)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
