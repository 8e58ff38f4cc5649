#!/usr/bin/env python3
"""Generates the GPT-2 fixtures in data/fixtures/ with Python `transformers`.

A tiny byte-level BPE (trained here on the first lines of the shipped WikiText-2 test text, with
`<|endoftext|>` as its only special token), a tiny random `GPT2LMHeadModel` saved by
`save_pretrained` with that tokenizer, a right-padded batch (pad = `<|endoftext|>`, as GPT-2
tokenizers are usually set up), and what `transformers` computes on it: every hidden state (the
last one after `ln_f`, as `output_hidden_states=True` gives) and the logits with SDPA, the
attention maps of an eager run of the same weights. Also the sliding-window perplexity of the
model over the first lines of that text (`expected/gpt2-perplexity.json`).

Pinned: transformers==5.24.0, torch==2.11.0 (the versions in $DISTIL_VENV).

    $DISTIL_VENV/bin/python scripts/make_gpt2_fixtures.py [--out data/fixtures]
"""

import json
import shutil
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

from fixture_common import ROOT, eager_attentions, output_dir, randomise, save_model, save_reference, scratch_dir, train_byte_level_bpe

assert transformers.__version__ == "5.24.0", transformers.__version__
assert torch.__version__.split("+")[0] == "2.11.0", torch.__version__

TEXT = ROOT / "data/text/wiki/wikitext-2-raw-v1/wiki.test.raw.txt"
TRAINING_LINES = 200
VOCAB_SIZE = 500
END_OF_TEXT = "<|endoftext|>"
SENTENCES = [
    "The song was in the film.",
    "It was the end of the war.",
    "Where is it?",
]
NAME = "gpt2-lm"
INPUTS = "gpt2-inputs.safetensors"
# The perplexity reference: the first lines of TEXT (line ends kept), scored in windows of
# MAX_LENGTH tokens moved by STRIDE (which does not divide the length: the last window is short).
PERPLEXITY_LINES = 6
MAX_LENGTH = 32
STRIDE = 12


def train_tokenizer(out: Path) -> GPT2Tokenizer:
    """A byte-level BPE of `VOCAB_SIZE` entries (`<|endoftext|>` is id 0) trained on the first
    lines of the text, saved by the tokenizer's `save_pretrained` in `out`."""
    vocab, merges, _ = train_byte_level_bpe(TEXT, TRAINING_LINES, VOCAB_SIZE, [END_OF_TEXT])
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges, pad_token=END_OF_TEXT)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    return tokenizer


def make_batch(tokenizer: GPT2Tokenizer) -> dict:
    """The sentences right-padded with `<|endoftext|>` to the longest."""
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    assert tokenizer.padding_side == "right"
    assert (batch["attention_mask"] == 0).any(), "the batch must have padding"
    assert (batch["attention_mask"] == 1).all(dim=1).any(), "one row must be unpadded"
    return batch


def gpt2_config() -> GPT2Config:
    return GPT2Config(
        vocab_size=VOCAB_SIZE,
        n_positions=64,
        n_embd=32,
        n_layer=3,
        n_head=4,
        n_inner=37,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )


def run(model, batch) -> dict:
    """Every hidden state and the logits with SDPA (the default), plus the attention maps from
    an eager run of the same weights."""
    model.eval()
    out = {}
    with torch.no_grad():
        res = model(**batch, output_hidden_states=True)
        base = model.transformer(**batch)
        # transformers 5 puts the output of `ln_f` last, not the last block's.
        assert torch.equal(res.hidden_states[-1], base.last_hidden_state)
        for i, h in enumerate(res.hidden_states):
            out[f"hidden_states.{i}"] = h
        out["logits"] = res.logits
        out.update(eager_attentions(model, batch, res.hidden_states))
    return {k: v.contiguous() for k, v in out.items()}


def perplexity(model, tokenizer) -> dict:
    """The perplexity guide's sliding window (transformers docs, "Perplexity of fixed-length
    models"), with two sums: the exact one (every scored token once: the window's loss times
    the number of targets the internal shift leaves) and the guide's (loss times
    `num_valid_tokens - batch_size`, one too few for every window after the first)."""
    text = "".join(TEXT.read_text().splitlines(keepends=True)[:PERPLEXITY_LINES])
    ids = tokenizer(text, return_tensors="pt").input_ids
    seq_len = ids.size(1)
    exact_nll, exact_tokens, guide_nll, guide_tokens = 0.0, 0, 0.0, 0
    prev_end, windows = 0, 0
    with torch.no_grad():
        for begin in range(0, seq_len, STRIDE):
            end = min(begin + MAX_LENGTH, seq_len)
            trg_len = end - prev_end
            input_ids = ids[:, begin:end]
            target_ids = input_ids.clone()
            target_ids[:, :-trg_len] = -100
            loss = model(input_ids, labels=target_ids).loss.double().item()
            scored = int((target_ids[:, 1:] != -100).sum())
            exact_nll += loss * scored
            exact_tokens += scored
            guide = int((target_ids != -100).sum()) - target_ids.size(0)
            guide_nll += loss * guide
            guide_tokens += guide
            windows += 1
            prev_end = end
            if end == seq_len:
                break
    assert exact_tokens == seq_len - 1
    return {
        "text": str(TEXT.relative_to(ROOT)),
        "lines": PERPLEXITY_LINES,
        "max_length": MAX_LENGTH,
        "stride": STRIDE,
        "tokens": seq_len,
        "windows": windows,
        "scored_tokens": exact_tokens,
        "nll_sum": exact_nll,
        "perplexity": float(torch.tensor(exact_nll / exact_tokens).exp()),
        "guide_perplexity": float(torch.tensor(guide_nll / guide_tokens).exp()),
    }


def main() -> None:
    out = output_dir(__doc__)
    tokenizer_dir = scratch_dir(out / ".gpt2-tokenizer-tmp")
    tokenizer = train_tokenizer(tokenizer_dir)
    batch = make_batch(tokenizer)
    save_file(batch, str(out / INPUTS))

    expected = out / "expected"
    expected.mkdir(exist_ok=True)
    model = GPT2LMHeadModel(gpt2_config())
    randomise(model, 200)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    save_model(model, out / NAME, False, tokenizer_dir)
    save_reference(model, out / NAME, expected, run(model, batch), inputs=INPUTS)
    shutil.rmtree(tokenizer_dir)
    model.eval()
    report = perplexity(model, tokenizer)
    (expected / "gpt2-perplexity.json").write_text(json.dumps(report, indent=1) + "\n")

    written = [out / INPUTS, *(out / NAME).iterdir(), *expected.glob("gpt2-*")]
    total = sum(f.stat().st_size for f in written)
    print(f"wrote the GPT-2 fixtures in {out} ({total / 1e3:.0f} kB); perplexity {report['perplexity']:.4f}")


if __name__ == "__main__":
    main()
