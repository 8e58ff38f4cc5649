#!/usr/bin/env python3
"""Writes crates/distil-tasks/tests/data/glue_metric_fixtures.json: fixed GLUE-style gold
labels and predictions with their metrics computed by scikit-learn and scipy, the functions
the reference `run_glue.py` calls. The Rust metric tests compare against these values.

Run: $DISTIL_VENV/bin/python scripts/make_metric_fixtures.py
"""

import json
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

OUT = Path(__file__).resolve().parent.parent / "crates/distil-tasks/tests/data/glue_metric_fixtures.json"


def classification_case(name, gold, pred):
    gold, pred = np.asarray(gold), np.asarray(pred)
    case = {"name": name, "gold": gold.tolist(), "pred": pred.tolist(),
            "acc": float(accuracy_score(gold, pred)),
            "mcc": float(matthews_corrcoef(gold, pred))}
    if gold.max() <= 1 and pred.max() <= 1:
        case["f1"] = float(f1_score(gold, pred, zero_division=0))
    return case


def regression_case(name, gold, pred):
    return {"name": name, "gold": [float(x) for x in gold], "pred": [float(x) for x in pred],
            "pearson": float(pearsonr(pred, gold)[0]),
            "spearmanr": float(spearmanr(pred, gold)[0])}


def main():
    rng = np.random.default_rng(42)
    gold = rng.integers(0, 2, 60)
    noisy = np.where(rng.random(60) < 0.75, gold, 1 - gold)
    classification = [
        classification_case("binary_noisy", gold, noisy),
        classification_case("binary_skewed", [1] * 45 + [0] * 15,
                            [1] * 40 + [0] * 5 + [1] * 9 + [0] * 6),
        classification_case("binary_all_wrong", [0, 1] * 10, [1, 0] * 10),
        classification_case("three_class", rng.integers(0, 3, 75), rng.integers(0, 3, 75)),
    ]
    scores = np.round(rng.uniform(0, 5, 80), 1)  # rounding makes ties, as STS-B's scores have
    predicted = np.round(scores + rng.normal(0, 1.0, 80), 2)
    predicted[:10] = 2.5  # tied predictions
    regression = [
        regression_case("stsb_noisy_with_ties", scores, predicted),
        regression_case("stsb_anticorrelated", scores[:20], -scores[:20] + rng.normal(0, 0.3, 20)),
    ]
    fixture = {
        "generator": "scripts/make_metric_fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-learn": sklearn.__version__},
        "classification": classification,
        "regression": regression,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One case per line keeps the fixture small and its diffs readable.
    lines = [json.dumps({k: v for k, v in fixture.items() if k in ("generator", "versions")})[:-1]]
    for key in ("classification", "regression"):
        cases = ",\n  ".join(json.dumps(case) for case in fixture[key])
        lines.append(f', "{key}": [\n  {cases}\n ]')
    OUT.write_text("".join(lines) + "}\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
