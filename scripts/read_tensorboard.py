#!/usr/bin/env python3
"""Lists the scalars of TensorBoard event files with TensorBoard's own event reader.

Usage:  $DISTIL_VENV/bin/python scripts/read_tensorboard.py experiments/<run>/tensorboard
Prints one line per scalar tag: the tag, the number of points, and the (step, value) pairs
(the first and last three when there are many). Exits 1 when no scalar is found.
"""

import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = Path(sys.argv[1])
    if not path.exists():
        sys.exit(f"{path} does not exist")
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    if not tags:
        print(f"no scalars in {path}")
        sys.exit(1)
    for tag in sorted(tags):
        points = [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)]
        shown = points if len(points) <= 6 else points[:3] + ["..."] + points[-3:]
        print(f"{tag}\t{len(points)} points\t{shown}")


if __name__ == "__main__":
    main()
