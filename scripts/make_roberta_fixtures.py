#!/usr/bin/env python3
"""Generates the RoBERTa fixtures in data/fixtures/ with Python `transformers`.

A tiny byte-level BPE (trained here on the first lines of the shipped WikiText-2 test text), tiny
random `RobertaForMaskedLM`, `RobertaForSequenceClassification` and `RobertaForQuestionAnswering`
checkpoints saved by `save_pretrained`, a padded batch with sentence pairs encoded by that
tokenizer (`<s> a </s></s> b </s>`, pad id 1, no token types: RoBERTa's tokenizer gives none),
and what `transformers` computes on it: every hidden state and each head's logits (SDPA), the
attention maps of an eager run of the same weights, and the position ids HF derives.

Pinned: transformers==5.24.0, torch==2.11.0 (the versions in $DISTIL_VENV).

    $DISTIL_VENV/bin/python scripts/make_roberta_fixtures.py [--out data/fixtures]
"""

import json
import shutil
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import (
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaForQuestionAnswering,
    RobertaForSequenceClassification,
    RobertaTokenizerFast,
)

from fixture_common import ROOT, eager_attentions, output_dir, randomise, save_model, save_reference, scratch_dir, train_byte_level_bpe

assert transformers.__version__ == "5.24.0", transformers.__version__
assert torch.__version__.split("+")[0] == "2.11.0", torch.__version__

TEXT = ROOT / "data/text/wiki/wikitext-2-raw-v1/wiki.test.raw.txt"
TRAINING_LINES = 200
VOCAB_SIZE = 500
# RoBERTa's special tokens, in the order (and so with the ids) roberta-base has them.
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
SEQ_PAIRS = [
    ("The song was in the film.", None),
    ("It was the", "end of the war."),
    ("Where is it?", "In the city."),
    ("He was the <mask>.", None),
]
INPUTS = "roberta-inputs.safetensors"


def train_tokenizer(out: Path) -> RobertaTokenizerFast:
    """A byte-level BPE of `VOCAB_SIZE` entries trained on the first lines of the text, saved
    by the fast tokenizer's `save_pretrained` in `out` (`tokenizer.json`,
    `tokenizer_config.json`), with `vocab.json` and `merges.txt` beside it."""
    vocab, merges, merges_text = train_byte_level_bpe(TEXT, TRAINING_LINES, VOCAB_SIZE, SPECIAL_TOKENS)
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    # transformers 5 writes tokenizer.json only; the slow-format files are for other readers.
    if not (out / "vocab.json").exists():
        (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    if not (out / "merges.txt").exists():
        (out / "merges.txt").write_text(merges_text)
    return tokenizer


def make_batch(tokenizer: RobertaTokenizerFast) -> dict:
    """The pairs right-padded with `<pad>` (id 1) to the longest; `input_ids` and
    `attention_mask` only, as RoBERTa's tokenizer returns."""
    enc = [tokenizer(a, b) if b is not None else tokenizer(a) for a, b in SEQ_PAIRS]
    length = max(len(e["input_ids"]) for e in enc)
    batch = {
        "input_ids": torch.full((len(enc), length), tokenizer.pad_token_id, dtype=torch.long),
        "attention_mask": torch.zeros(len(enc), length, dtype=torch.long),
    }
    for row, e in enumerate(enc):
        n = len(e["input_ids"])
        batch["input_ids"][row, :n] = torch.tensor(e["input_ids"])
        batch["attention_mask"][row, :n] = 1
    assert tokenizer.pad_token_id == 1
    assert (batch["attention_mask"] == 0).any(), "the batch must have padding"
    return batch


def roberta_config(layers: int, **extra) -> RobertaConfig:
    """roberta-base's layout (`type_vocab_size` 1, eps 1e-5, pad 1), made tiny."""
    return RobertaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **extra,
    )


def run(model, batch) -> dict:
    """Every hidden state and head output with SDPA (the default), plus the attention maps
    from an eager run of the same weights and the position ids HF derives from the padded
    ids. No token types are passed: HF fills zeros."""
    model.eval()
    embeddings = model.roberta.embeddings
    out = {"position_ids": embeddings.create_position_ids_from_input_ids(batch["input_ids"], embeddings.padding_idx)}
    with torch.no_grad():
        res = model(**batch, output_hidden_states=True)
        for i, h in enumerate(res.hidden_states):
            out[f"hidden_states.{i}"] = h
        for key in ("logits", "start_logits", "end_logits"):
            if getattr(res, key, None) is not None:
                out[key] = res[key]
        out.update(eager_attentions(model, batch, res.hidden_states))
    return {k: v.contiguous() for k, v in out.items()}


def main() -> None:
    out = output_dir(__doc__)
    tokenizer_dir = scratch_dir(out / ".roberta-tokenizer-tmp")
    tokenizer = train_tokenizer(tokenizer_dir)
    batch = make_batch(tokenizer)
    save_file(batch, str(out / INPUTS))

    expected = out / "expected"
    expected.mkdir(exist_ok=True)
    models = [
        ("roberta-mlm", RobertaForMaskedLM(roberta_config(4)), True),
        ("roberta-seqcls", RobertaForSequenceClassification(roberta_config(1, num_labels=3)), False),
        ("roberta-qa", RobertaForQuestionAnswering(roberta_config(1, hidden_act="gelu_new")), False),
    ]
    for seed, (name, model, with_tokenizer) in enumerate(models, start=100):
        randomise(model, seed)
        model.tie_weights()
        save_model(model, out / name, False, tokenizer_dir if with_tokenizer else None)
        # The keys file names the batch: the parity helpers read it from there.
        save_reference(model, out / name, expected, run(model, batch), inputs=INPUTS)
    shutil.rmtree(tokenizer_dir)

    written = [out / INPUTS]
    for name, _, _ in models:
        written += [*(out / name).iterdir(), expected / f"{name}.safetensors", expected / f"{name}.keys.json"]
    total = sum(f.stat().st_size for f in written)
    print(f"wrote the RoBERTa fixtures in {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
