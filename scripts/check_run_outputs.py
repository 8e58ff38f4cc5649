#!/usr/bin/env python3
"""Checks that a `distil reproduce` run folder holds what the README promises: the resolved
config, report.md, a results.json that parses with the keys the report reads, the plots, and a
marker for every stage. Used by .ci/run after the fresh-environment smoke run.

Usage: check_run_outputs.py RUN_DIR
"""

import json
import math
import sys
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


def fail(message):
    print(f"check_run_outputs: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: check_run_outputs.py RUN_DIR")
    run = Path(sys.argv[1])
    for name in ("config.yaml", "report.md", "results.json"):
        if not (run / name).is_file() or (run / name).stat().st_size == 0:
            fail(f"{run / name} is missing or empty")
    try:
        results = json.loads((run / "results.json").read_text())
    except json.JSONDecodeError as e:
        fail(f"{run / 'results.json'} does not parse: {e}")
    for key in ("glue", "size_speed", "stage_seconds", "representation", "layer_choice"):
        if not results.get(key):
            fail(f"results.json has no `{key}`")
    for model, scores in results["representation"].items():
        for key in ("sts_b_zero_shot", "sst2_probe"):
            value = scores.get(key)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                fail(f"results.json representation.{model}.{key} is {value!r}")
    for layers, scores in results["layer_choice"].items():
        if not math.isfinite(scores.get("sts_b_zero_shot", math.nan)):
            fail(f"results.json layer_choice.{layers}.sts_b_zero_shot is not a number")
    plots = sorted((run / "plots").glob("*.png"))
    if not plots:
        fail(f"no plots in {run / 'plots'}")
    for plot in plots:
        if plot.read_bytes()[:8] != PNG:
            fail(f"{plot} is not a PNG")
    markers = list((run / "stages").glob("*.json"))
    if len(markers) < len(results["stage_seconds"]):
        fail(f"{len(markers)} stage markers for {len(results['stage_seconds'])} timed stages")
    print(f"check_run_outputs: {run}: report, results ({len(results['representation'])} models "
          f"scored), {len(plots)} plots, {len(markers)} stage markers")


if __name__ == "__main__":
    main()
