#!/usr/bin/env python3
"""Generates data/fixtures/losses/clm_loss.{safetensors,json}: the reference of
`distil_train::loss::causal_lm_loss`.

Fixed random logits [3, 6, 11] and token ids with right padding, left padding and none; the loss
as the reference distiller computes its causal-LM term (`clm_labels[~attn_mask] = -100`, then
`CrossEntropyLoss(ignore_index=-100)` on the logits and labels shifted by one), and its gradient
with respect to the logits.

Run:  $DISTIL_VENV/bin/python scripts/make_clm_loss_fixture.py
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "losses"
BATCH, SEQ, VOCAB = 3, 6, 11


def main() -> None:
    g = torch.Generator().manual_seed(17)
    logits = (3.0 * torch.randn(BATCH, SEQ, VOCAB, generator=g)).requires_grad_()
    input_ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g)
    attention_mask = torch.tensor(
        [
            [1, 1, 1, 1, 0, 0],  # right padding
            [0, 0, 1, 1, 1, 1],  # left padding: only the label side of a pair counts
            [1, 1, 1, 1, 1, 1],
        ]
    )
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    shift_logits = logits[:, :-1, :].reshape(-1, VOCAB)
    shift_labels = labels[:, 1:].reshape(-1)
    loss = nn.CrossEntropyLoss(ignore_index=-100)(shift_logits, shift_labels)
    loss.backward()
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "logits": logits.detach().contiguous(),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "grad_logits": logits.grad.contiguous(),
        },
        str(OUT / "clm_loss.safetensors"),
    )
    scalars = {"loss": loss.item(), "targets": int((shift_labels != -100).sum())}
    (OUT / "clm_loss.json").write_text(json.dumps(scalars, indent=1) + "\n")
    print(scalars)


if __name__ == "__main__":
    main()
