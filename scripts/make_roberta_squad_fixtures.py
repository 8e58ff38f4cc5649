#!/usr/bin/env python3
"""Writes crates/distil-tasks/tests/data/squad_roberta_features.json: the SQuAD windows that
`run_qa.py` builds with `RobertaTokenizerFast` (the tiny byte-level BPE of
data/fixtures/roberta-mlm) for a few questions of the shipped SQuAD v2.0 subset.

The tokenizer call is run_qa.py's: question left-stripped, `truncation="only_second"`,
`max_length` 62 (the fixture model's 64 positions less RoBERTa's two reserved ones),
`stride` 18 (the overlap between windows), overflowing windows, offsets, padding to
`max_length`. The training targets are run_qa.py's `prepare_train_features` rule: the `<s>`
index (0) unless the first gold answer lies wholly inside the window's context. 62 rather than
a shorter window: this 500-entry BPE spells most words in several pieces, so the questions are
11-26 tokens and a shorter window would leave little room for the overlap. The stride is
the one for which every answerable question here has a window holding its answer.

The questions cover a context with a split multi-byte character in the answer ("Enrique Pérez
de Guzmán": `é` is two byte-level tokens with one character span, and a lone `Ġ` before `G`
has an empty span after offset trimming), an en dash split into three tokens
("Mexico–United States border"), and unanswerable questions.

Each window: the question's index, `input_ids` and `attention_mask` (padded with `<pad>` = 1),
`offsets` as run_qa.py keeps them for evaluation (character offsets of context tokens, null
elsewhere), `start_position` / `end_position`, and `answer`: the context text from the start
token's first character to the end token's last (null when the target is `<s>`).

`whole_context` holds run_qa.py's targets for every answerable question of the subset with
windows long enough (1024 tokens) for each whole context: question id, start, end. Six first
answers there start with a character split over byte-level tokens (`£`, `−`), where run_qa.py
targets the last piece.

Pinned: transformers==5.24.0 (the version in $DISTIL_VENV).

    $DISTIL_VENV/bin/python scripts/make_roberta_squad_fixtures.py
"""

import json

import transformers
from transformers import RobertaTokenizerFast

from fixture_common import ROOT

assert transformers.__version__ == "5.24.0", transformers.__version__

TOKENIZER = ROOT / "data/fixtures/roberta-mlm"
SQUAD = ROOT / "data/squad/dev-v2.0-first5articles.json"
OUT = ROOT / "crates/distil-tasks/tests/data/squad_roberta_features.json"
MAX_SEQ, STRIDE = 62, 18
# distil cuts questions to max_query_length tokens; run_qa.py never does, so every question
# here must fit (checked below).
MAX_QUERY = 32
WHOLE, WHOLE_QUERY = 1024, 96
QUESTIONS = [
    "56de49a8cffd8e1900b4b7a8",  # Enrique Pérez de Guzmán
    "56de49a8cffd8e1900b4b7a9",  # Maciot de Bethencourt
    "5ad403c1604f3c001a3ffd98",  # unanswerable, same context
    "5705e4fe75f01819005e7707",  # Mexico–United States border
    "5705e4fe75f01819005e7704",  # Colorado River
    "5ad01c8877cf76001a686a64",  # unanswerable, same context
]


def questions():
    data = json.loads(SQUAD.read_text())["data"]
    by_id = {qa["id"]: (qa, p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]}
    return [by_id[q] for q in QUESTIONS]


def targets(qa, offsets, sequence_ids, cls_index):
    """run_qa.py's training targets for one window."""
    if not qa["answers"]:
        return cls_index, cls_index
    answer = qa["answers"][0]
    start_char = answer["answer_start"]
    end_char = start_char + len(answer["text"])
    first = sequence_ids.index(1)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return cls_index, cls_index
    while first < len(offsets) and offsets[first][0] <= start_char:
        first += 1
    while offsets[last][1] >= end_char:
        last -= 1
    return first - 1, last + 1


def whole_context_targets(tokenizer):
    """[id, start, end] of every answerable question, one window per question."""
    data = json.loads(SQUAD.read_text())["data"]
    pairs = [(qa, p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"] if qa["answers"]]
    encoded = tokenizer(
        [qa["question"].lstrip() for qa, _ in pairs],
        [context for _, context in pairs],
        truncation="only_second",
        max_length=WHOLE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    assert list(encoded["overflow_to_sample_mapping"]) == list(range(len(pairs))), "a context overflows"
    rows = []
    for i, (qa, _) in enumerate(pairs):
        assert len(tokenizer(qa["question"].lstrip(), add_special_tokens=False)["input_ids"]) <= WHOLE_QUERY
        start, end = targets(qa, encoded["offset_mapping"][i], encoded.sequence_ids(i), 0)
        rows.append([qa["id"], start, end])
    return rows


def main():
    tokenizer = RobertaTokenizerFast.from_pretrained(TOKENIZER)
    assert tokenizer.pad_token_id == 1 and tokenizer.padding_side == "right"
    pairs = questions()
    for qa, _ in pairs:
        length = len(tokenizer(qa["question"].lstrip(), add_special_tokens=False)["input_ids"])
        assert length <= MAX_QUERY, (qa["id"], length)
    encoded = tokenizer(
        [qa["question"].lstrip() for qa, _ in pairs],
        [context for _, context in pairs],
        truncation="only_second",
        max_length=MAX_SEQ,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    windows = []
    for i, sample in enumerate(encoded["overflow_to_sample_mapping"]):
        qa, context = pairs[sample]
        ids = encoded["input_ids"][i]
        sequence_ids = encoded.sequence_ids(i)
        offsets = encoded["offset_mapping"][i]
        start, end = targets(qa, offsets, sequence_ids, ids.index(tokenizer.cls_token_id))
        windows.append({
            "question": sample,
            "input_ids": ids,
            "attention_mask": encoded["attention_mask"][i],
            "offsets": [list(o) if s == 1 else None for o, s in zip(offsets, sequence_ids)],
            "start_position": start,
            "end_position": end,
            "answer": context[offsets[start][0]:offsets[end][1]] if start > 0 else None,
        })
    fixture = {
        "generator": "scripts/make_roberta_squad_fixtures.py",
        "tokenizer": "data/fixtures/roberta-mlm",
        "max_seq_length": MAX_SEQ,
        "doc_stride": STRIDE,
        "max_query_length": MAX_QUERY,
        "returns_token_type_ids": "token_type_ids" in encoded,
        "questions": QUESTIONS,
    }
    # One window per line keeps the file readable and its diffs small.
    text = json.dumps(fixture, ensure_ascii=False)[:-1] + ', "windows": [\n  '
    text += ",\n  ".join(json.dumps(w, ensure_ascii=False) for w in windows) + "\n]"
    whole = whole_context_targets(tokenizer)
    text += f', "whole_context": {{"max_seq_length": {WHOLE}, "max_query_length": {WHOLE_QUERY}, "targets": [\n  '
    text += ",\n  ".join(json.dumps(row) for row in whole) + "\n]}}\n"
    OUT.write_text(text)
    answered = sum(w["start_position"] > 0 for w in windows)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(windows)} windows of "
          f"{len(QUESTIONS)} questions, {answered} holding their answer")


if __name__ == "__main__":
    main()
