"""What the DistilBERT reference `scripts/binarized_data.py` does, with the Python `tokenizers`
package: read every line, encode "[CLS] {line.strip()} [SEP]" without added special tokens,
store ids as uint16 arrays, shuffle and pickle. `--mode batch` encodes with `encode_batch`
instead (Rust threads; set RAYON_NUM_THREADS to choose how many).

Prints one JSON line: tokens, seconds (from start-up to the pickle written), peak RSS.
Run by `distil bench prep`, which prints it beside `distil prep`.
"""

import argparse
import json
import os
import pickle
import random
import resource
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

TEXT_EXTENSIONS = (".txt", ".raw", ".tokens")


def corpus_files(paths):
    """Files named, and the text files of directories (recursively, in name order)."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(TEXT_EXTENSIONS):
                        yield os.path.join(root, name)
        else:
            yield path


def read_lines(paths):
    lines = []
    for path in corpus_files(paths):
        with open(path, encoding="utf-8", errors="replace") as f:
            lines.extend(f.readlines())
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json")
    parser.add_argument("--input", action="append", required=True)
    parser.add_argument("--out", required=True, help="pickle to write")
    parser.add_argument("--mode", choices=["per-line", "batch"], default="per-line")
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(args.tokenizer)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    texts = [f"[CLS] {line.strip()} [SEP]" for line in read_lines(args.input)]
    if args.mode == "per-line":
        # The reference encodes one line at a time and logs every 10,000 lines.
        rslt = []
        for i, text in enumerate(texts):
            rslt.append(tokenizer.encode(text, add_special_tokens=False).ids)
            if i % 10000 == 0:
                print(f"{i} lines processed", file=sys.stderr)
    else:
        rslt = []
        for i in range(0, len(texts), 10000):
            rslt.extend(e.ids for e in tokenizer.encode_batch(texts[i : i + 10000], add_special_tokens=False))
    rslt_ = [np.uint16(ids) for ids in rslt]
    random.shuffle(rslt_)
    with open(args.out, "wb") as handle:
        pickle.dump(rslt_, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tokens = sum(len(ids) for ids in rslt_)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tokens": tokens, "seconds": time.perf_counter() - START, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
