#!/usr/bin/env python3
"""Writes crates/distil-tasks/tests/data/squad_window_fixtures.json: the SQuAD windows the
reference pipelines build for the first 100 questions of the shipped SQuAD subset, with tight
settings (max_seq_length 96, doc_stride 24, max_query_length 24) so that contexts span many
windows.

- "step": transformers' legacy `squad_convert_examples_to_features` (the path of
  `run_squad_w_distillation.py`, where doc_stride is the step between windows), with
  training targets and max-context flags.
- "overlap": `run_qa.py`'s tokenizer call (truncation only_second, stride = doc_stride as
  the overlap), with its training targets.

Each window is [question index, token count, ids hash, max-context hash, start, end]; a hash
is h = (h * 1000003 + x + 1) mod (2^31 - 1) over the ids (or the max-context positions).

Run: $DISTIL_VENV/bin/python scripts/make_squad_window_fixtures.py
"""

import json
from pathlib import Path

from tokenizers import Tokenizer
from transformers import BertTokenizer
from transformers.data.processors.squad import SquadV2Processor, squad_convert_examples_to_features

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT / "data/squad"
VOCAB = ROOT / "data/vocab/bert-base-uncased"
OUT = ROOT / "crates/distil-tasks/tests/data/squad_window_fixtures.json"
QUESTIONS, MAX_SEQ, STRIDE, MAX_QUERY = 100, 96, 24, 24
MOD = (1 << 31) - 1


def digest(values):
    h = 0
    for x in values:
        h = (h * 1000003 + x + 1) % MOD
    return h


def step_windows(examples):
    tokenizer = BertTokenizer(str(VOCAB / "vocab.txt"), do_lower_case=True)
    features = squad_convert_examples_to_features(
        examples, tokenizer, max_seq_length=MAX_SEQ, doc_stride=STRIDE,
        max_query_length=MAX_QUERY, is_training=True, return_dataset=False, threads=1)
    rows = []
    for f in features:
        ids = f.input_ids[: sum(f.attention_mask)]
        max_context = sorted(k for k, v in f.token_is_max_context.items() if v)
        rows.append([f.example_index, len(ids), digest(ids), digest(max_context),
                     f.start_position, f.end_position])
    return rows


def raw_questions():
    data = json.loads((SQUAD / "dev-v2.0-first5articles.json").read_text())["data"]
    return [(qa, paragraph["context"]) for article in data
            for paragraph in article["paragraphs"] for qa in paragraph["qas"]][:QUESTIONS]


def overlap_windows():
    tokenizer = Tokenizer.from_file(str(VOCAB / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_SEQ, stride=STRIDE, strategy="only_second")
    rows = []
    for index, (qa, context) in enumerate(raw_questions()):
        encoding = tokenizer.encode(qa["question"].lstrip(), context)
        for window in [encoding] + encoding.overflowing:
            ids, offsets, sequence_ids = window.ids, window.offsets, window.sequence_ids
            start = end = 0
            if qa["answers"]:
                start_char = qa["answers"][0]["answer_start"]
                end_char = start_char + len(qa["answers"][0]["text"])
                first = sequence_ids.index(1)
                last = len(ids) - 1 - sequence_ids[::-1].index(1)
                # run_qa.py's targets: [CLS] unless the answer lies wholly in the window.
                if offsets[first][0] <= start_char and offsets[last][1] >= end_char:
                    while first < len(offsets) and offsets[first][0] <= start_char:
                        first += 1
                    while offsets[last][1] >= end_char:
                        last -= 1
                    start, end = first - 1, last + 1
            rows.append([index, len(ids), digest(ids), 0, start, end])
    return rows


def main():
    examples = SquadV2Processor().get_train_examples(str(SQUAD), "dev-v2.0-first5articles.json")
    examples = examples[:QUESTIONS]
    assert [e.qas_id for e in examples] == [qa["id"] for qa, _ in raw_questions()]
    fixture = {"generator": "scripts/make_squad_window_fixtures.py",
               "max_seq_length": MAX_SEQ, "doc_stride": STRIDE, "max_query_length": MAX_QUERY,
               "questions": [e.qas_id for e in examples],
               "step": step_windows(examples), "overlap": overlap_windows()}
    text = json.dumps({k: v for k, v in fixture.items() if k not in ("step", "overlap")})[:-1]
    for mode in ("step", "overlap"):
        rows = ",\n  ".join(json.dumps(r) for r in fixture[mode])
        text += f', "{mode}": [\n  {rows}\n ]'
    OUT.write_text(text + "}\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(fixture['step'])} step windows, "
          f"{len(fixture['overlap'])} overlap windows")


if __name__ == "__main__":
    main()
