#!/usr/bin/env python3
"""Generates the model fixtures in data/fixtures/ with Python `transformers`.

Tiny random BERT and DistilBERT checkpoints (saved by `save_pretrained` as safetensors and, for
the MLM models, also as a PyTorch `.bin`), a padded batch with sentence pairs, and what
`transformers` computes on it (every hidden state, each head's logits, eager attention maps);
plus all-MiniLM-L6-v2's last hidden state on 32 real GLUE dev sentences.

Pinned: transformers==4.57.3, torch==2.11.0 (the versions in $DISTIL_VENV).

    $DISTIL_VENV/bin/python scripts/make_fixtures.py [--out data/fixtures] [--minilm DIR]
"""

import argparse
import os
import shutil
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertTokenizerFast,
    DistilBertConfig,
    DistilBertForMaskedLM,
    DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification,
)

from fixture_common import randomise, save_model, save_reference

assert transformers.__version__ == "4.57.3", transformers.__version__
assert torch.__version__.split("+")[0] == "2.11.0", torch.__version__

ROOT = Path(__file__).resolve().parent.parent
VOCAB_SIZE = 1000
SEQ_PAIRS = [
    ("the man went to the store .", None),
    ("she said it was good", "he did not know ."),
    ("where is the house ?", "in the city ."),
    ("we can not see the [MASK] .", None),
]
MINILM_SENTENCES = 32
MINILM_MAX_TOKENS = 12


def build_vocab(out: Path) -> Path:
    """A 1000-token WordPiece vocabulary: the special tokens, then bert-base-uncased's
    characters and most frequent words (its vocabulary is ordered by frequency from `the`)."""
    full = (ROOT / "data/vocab/bert-base-uncased/vocab.txt").read_text().splitlines()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [t for t in full if len(t) == 1 and t.isascii() and t.isprintable()]
    suffixes = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    words = [t for t in full[full.index("the") :] if t.isascii() and t not in chars]
    vocab = list(dict.fromkeys(special + chars + suffixes + words))[:VOCAB_SIZE]
    path = out / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path


def bert_config(layers: int, **extra) -> BertConfig:
    return BertConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        pad_token_id=0,
        **extra,
    )


def distilbert_config(layers: int, **extra) -> DistilBertConfig:
    return DistilBertConfig(
        vocab_size=VOCAB_SIZE,
        dim=32,
        n_layers=layers,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=64,
        pad_token_id=0,
        **extra,
    )


def run(model, batch, is_bert: bool) -> dict:
    """Every hidden state and head output with SDPA (the default), plus attention maps from an
    eager run of the same weights."""
    model.eval()
    kwargs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    if is_bert:
        kwargs["token_type_ids"] = batch["token_type_ids"]
    out = {}
    with torch.no_grad():
        res = model(**kwargs, output_hidden_states=True)
        for i, h in enumerate(res.hidden_states):
            out[f"hidden_states.{i}"] = h
        for key in ("logits", "start_logits", "end_logits"):
            if getattr(res, key, None) is not None:
                out[key] = res[key]
        base = model.bert if is_bert else model.distilbert
        if is_bert and base.pooler is not None:
            out["pooler_output"] = base(**kwargs).pooler_output
        # The SDPA classes fall back to the eager computation when attentions are asked for.
        eager = model(**kwargs, output_attentions=True)
        for i, a in enumerate(eager.attentions):
            out[f"attentions.{i}"] = a
    return {k: v.contiguous() for k, v in out.items()}


def make_batch(tokenizer: BertTokenizerFast) -> dict:
    enc = [tokenizer(a, b) if b is not None else tokenizer(a) for a, b in SEQ_PAIRS]
    length = max(len(e["input_ids"]) for e in enc)
    batch = {k: torch.zeros(len(enc), length, dtype=torch.long) for k in ("input_ids", "attention_mask", "token_type_ids")}
    for row, e in enumerate(enc):
        n = len(e["input_ids"])
        for k in batch:
            batch[k][row, :n] = torch.tensor(e[k])
    return batch


def minilm_fixture(minilm: Path, out: Path) -> None:
    """all-MiniLM-L6-v2's last hidden state on 32 short GLUE dev sentences (16 CoLA, 16 SST-2),
    as one padded batch."""
    tok = Tokenizer.from_file(str(minilm / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    cola = [line.split("\t")[3] for line in (ROOT / "data/glue/CoLA/dev.tsv").read_text().splitlines()]
    sst2 = [line.split("\t")[0].strip() for line in (ROOT / "data/glue/SST-2/dev.tsv").read_text().splitlines()[1:]]
    chosen = []
    for source in (cola, sst2):
        taken = 0
        for s in source:
            ids = tok.encode(s).ids
            if 6 <= len(ids) <= MINILM_MAX_TOKENS and taken < MINILM_SENTENCES // 2:
                chosen.append((s, tok.encode(s)))
                taken += 1
    length = max(len(e.ids) for _, e in chosen)
    batch = {k: torch.zeros(len(chosen), length, dtype=torch.long) for k in ("input_ids", "attention_mask", "token_type_ids")}
    for row, (_, e) in enumerate(chosen):
        n = len(e.ids)
        batch["input_ids"][row, :n] = torch.tensor(e.ids)
        batch["attention_mask"][row, :n] = 1
        batch["token_type_ids"][row, :n] = torch.tensor(e.type_ids)
    model = transformers.BertModel.from_pretrained(minilm, dtype=torch.float32).eval()
    with torch.no_grad():
        last = model(**batch).last_hidden_state.contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(batch, str(out / "minilm-inputs.safetensors"))
    save_file({"last_hidden_state": last}, str(out / "minilm.safetensors"))
    (out / "minilm-sentences.txt").write_text("\n".join(s for s, _ in chosen) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data/fixtures")
    parser.add_argument("--minilm", type=Path, default=os.environ.get("DISTIL_MINILM_DIR"))
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    tokenizer_dir = out / ".tokenizer-tmp"
    tokenizer_dir.mkdir(exist_ok=True)
    tokenizer = BertTokenizerFast(vocab_file=str(build_vocab(tokenizer_dir)), do_lower_case=True)
    shutil.rmtree(tokenizer_dir)
    tokenizer.save_pretrained(tokenizer_dir)
    (tokenizer_dir / "vocab.txt").unlink()  # tokenizer.json holds the vocabulary
    batch = make_batch(tokenizer)
    save_file(batch, str(out / "inputs.safetensors"))

    expected = out / "expected"
    expected.mkdir(exist_ok=True)
    models = [
        ("bert-mlm", BertForMaskedLM(bert_config(4)), True, True),
        ("bert-seqcls", BertForSequenceClassification(bert_config(2, num_labels=3)), False, False),
        ("bert-qa", BertForQuestionAnswering(bert_config(2, hidden_act="gelu_new")), False, False),
        ("distilbert-mlm", DistilBertForMaskedLM(distilbert_config(3)), True, True),
        ("distilbert-sinusoidal-mlm", DistilBertForMaskedLM(distilbert_config(2, sinusoidal_pos_embds=True)), False, True),
        ("distilbert-seqcls", DistilBertForSequenceClassification(distilbert_config(2, num_labels=3)), False, False),
        ("distilbert-qa", DistilBertForQuestionAnswering(distilbert_config(2, activation="relu")), False, False),
    ]
    for seed, (name, model, with_bin, with_tokenizer) in enumerate(models):
        randomise(model, seed)
        if hasattr(model, "tie_weights"):
            model.tie_weights()
        is_bert = name.startswith("bert")
        save_model(model, out / name, with_bin, tokenizer_dir if with_tokenizer else None)
        save_reference(model, out / name, expected, run(model, batch, is_bert))
    shutil.rmtree(tokenizer_dir)

    if args.minilm is None:
        raise SystemExit("DISTIL_MINILM_DIR is not set (pass --minilm DIR)")
    minilm_fixture(Path(args.minilm), expected)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
