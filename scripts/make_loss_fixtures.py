#!/usr/bin/env python3
"""Generates data/fixtures/losses/: reference values for distil-train's losses and AdamW.

The losses are computed exactly as the HF reference `distiller.py` (`Distiller.step`) calls
them: KLDivLoss(reduction="batchmean") on log_softmax(s/T) vs softmax(t/T) times T^2 over
masked_select'ed rows, CrossEntropyLoss(ignore_index=-100) over all positions,
MSELoss(reduction="sum") / N, and CosineEmbeddingLoss(reduction="mean") with target +1 on the
non-pad rows of the last hidden states. Logits come from a fixed linear head on the hidden
states, so the Rust test can run its row-gathering path on the same numbers.

AdamW is torch.optim.AdamW (single-tensor path) for a few steps on fixed params and gradients,
with decay on the matrix only and a changing learning rate.

Run:  $DISTIL_VENV/bin/python scripts/make_loss_fixtures.py
Writes: data/fixtures/losses/losses.safetensors (tensors) and losses.json (scalars).
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "losses"

BATCH, SEQ, HIDDEN, VOCAB = 3, 7, 6, 13
LENGTHS = [7, 5, 3]
TEMPERATURE = 2.0
ALPHAS = {"alpha_ce": 5.0, "alpha_mlm": 2.0, "alpha_cos": 1.0, "alpha_mse": 0.5}


def reference_losses(s_hidden, t_hidden, heads, attention_mask, lm_labels, restrict_ce_to_mask):
    """`Distiller.step` from transformers/examples/research_projects/distillation."""
    s_logits = s_hidden @ heads["student_weight"].T + heads["student_bias"]
    t_logits = t_hidden @ heads["teacher_weight"].T + heads["teacher_bias"]
    ce_loss_fct = nn.KLDivLoss(reduction="batchmean")
    lm_loss_fct = nn.CrossEntropyLoss(ignore_index=-100)
    mse_loss_fct = nn.MSELoss(reduction="sum")
    cosine_loss_fct = nn.CosineEmbeddingLoss(reduction="mean")

    if restrict_ce_to_mask:
        mask = (lm_labels > -1).unsqueeze(-1).expand_as(s_logits)
    else:
        mask = attention_mask.unsqueeze(-1).expand_as(s_logits)
    s_logits_slct = torch.masked_select(s_logits, mask).view(-1, s_logits.size(-1))
    t_logits_slct = torch.masked_select(t_logits, mask).view(-1, s_logits.size(-1))
    loss_ce = (
        ce_loss_fct(
            nn.functional.log_softmax(s_logits_slct / TEMPERATURE, dim=-1),
            nn.functional.softmax(t_logits_slct / TEMPERATURE, dim=-1),
        )
        * TEMPERATURE**2
    )
    loss_mlm = lm_loss_fct(s_logits.view(-1, s_logits.size(-1)), lm_labels.view(-1))
    loss_mse = mse_loss_fct(s_logits_slct, t_logits_slct) / s_logits_slct.size(0)

    mask = attention_mask.unsqueeze(-1).expand_as(s_hidden)
    s_hidden_slct = torch.masked_select(s_hidden, mask).view(-1, HIDDEN)
    t_hidden_slct = torch.masked_select(t_hidden, mask).view(-1, HIDDEN)
    target = s_hidden_slct.new(s_hidden_slct.size(0)).fill_(1)
    loss_cos = cosine_loss_fct(s_hidden_slct, t_hidden_slct, target)
    return {"loss_ce": loss_ce, "loss_mlm": loss_mlm, "loss_mse": loss_mse, "loss_cos": loss_cos}


def loss_fixture(gen):
    tensors, scalars = {}, {}
    s_hidden = torch.randn(BATCH, SEQ, HIDDEN, generator=gen)
    t_hidden = torch.randn(BATCH, SEQ, HIDDEN, generator=gen)
    heads = {
        "student_weight": torch.randn(VOCAB, HIDDEN, generator=gen) * 0.4,
        "student_bias": torch.randn(VOCAB, generator=gen) * 0.1,
        "teacher_weight": torch.randn(VOCAB, HIDDEN, generator=gen) * 0.4,
        "teacher_bias": torch.randn(VOCAB, generator=gen) * 0.1,
    }
    attention_mask = torch.zeros(BATCH, SEQ, dtype=torch.bool)
    for row, length in enumerate(LENGTHS):
        attention_mask[row, :length] = True
    # MLM targets: a fixed subset of the non-pad positions.
    lm_labels = torch.full((BATCH, SEQ), -100, dtype=torch.long)
    for row, col in [(0, 1), (0, 4), (0, 6), (1, 2), (1, 3), (2, 1)]:
        assert attention_mask[row, col]
        lm_labels[row, col] = int(torch.randint(VOCAB, (1,), generator=gen))

    tensors.update({"student_hidden": s_hidden, "teacher_hidden": t_hidden, **heads})
    tensors["attention_mask"] = attention_mask.to(torch.long)
    tensors["labels"] = lm_labels

    for restrict in (False, True):
        s = s_hidden.clone().requires_grad_(True)
        losses = reference_losses(s, t_hidden, heads, attention_mask, lm_labels, restrict)
        total = sum(ALPHAS["alpha_" + name[5:]] * value for name, value in losses.items())
        total.backward()
        suffix = "_restricted" if restrict else ""
        scalars.update({name + suffix: value.item() for name, value in losses.items()})
        scalars["total" + suffix] = total.item()
        tensors["grad_student_hidden" + suffix] = s.grad.clone()
    scalars["temperature"] = TEMPERATURE
    scalars.update(ALPHAS)
    return tensors, scalars


def adamw_fixture(gen):
    tensors, scalars = {}, {}
    weight = torch.randn(4, 3, generator=gen)
    bias = torch.randn(3, generator=gen)
    tensors["adamw_init_weight"] = weight.clone()
    tensors["adamw_init_bias"] = bias.clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    lrs = [1e-2, 5e-3, 2e-3, 1e-3]
    hyper = {"betas": (0.9, 0.98), "eps": 1e-6, "weight_decay": 0.1}
    opt = torch.optim.AdamW(
        [
            {"params": [weight], "weight_decay": hyper["weight_decay"]},
            {"params": [bias], "weight_decay": 0.0},
        ],
        lr=lrs[0],
        betas=hyper["betas"],
        eps=hyper["eps"],
        foreach=False,
    )
    for step, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        weight.grad = torch.randn(4, 3, generator=gen)
        bias.grad = torch.randn(3, generator=gen)
        tensors[f"adamw_grad_weight_{step}"] = weight.grad.clone()
        tensors[f"adamw_grad_bias_{step}"] = bias.grad.clone()
        opt.step()
        tensors[f"adamw_weight_{step}"] = weight.detach().clone()
        tensors[f"adamw_bias_{step}"] = bias.detach().clone()
    scalars["adamw_lrs"] = lrs
    scalars["adamw_betas"] = list(hyper["betas"])
    scalars["adamw_eps"] = hyper["eps"]
    scalars["adamw_weight_decay"] = hyper["weight_decay"]
    return tensors, scalars


def main():
    gen = torch.Generator().manual_seed(20191002)
    tensors, scalars = loss_fixture(gen)
    more_tensors, more_scalars = adamw_fixture(gen)
    tensors.update(more_tensors)
    scalars.update(more_scalars)
    scalars["torch_version"] = torch.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(OUT / "losses.safetensors"))
    (OUT / "losses.json").write_text(json.dumps(scalars, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(tensors)} tensors and {len(scalars)} scalars to {OUT}")


if __name__ == "__main__":
    main()
