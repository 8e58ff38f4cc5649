#!/usr/bin/env python3
"""Generates data/fixtures/losses/layer_losses.*: reference values and gradients for
distil-train's intermediate-layer loss terms, computed sequence by sequence on the real tokens
only (an independent formulation of the padded, masked Rust code):

- hidden-state MSE (TinyBERT eq. 8 and 9): sum over the mapped hidden-state pairs, embeddings
  included, of F.mse_loss(projection(student), teacher) on the non-pad tokens;
- attention KL: sum over mapped layers of KL(teacher || student) between attention maps, summed
  over the real keys, averaged over heads and real queries;
- MiniLM v2 relations: query-query, key-key and value-value scaled dot-product relations split
  into relation heads, the same KL, summed over the three.

A 2-layer, 8-wide student against a 4-layer, 12-wide teacher (2 attention heads each; 4
relation heads), uniform layer map (0, 0), (1, 2), (2, 4).

Also data/fixtures/losses/pooled_loss.*: the distance between mean-pooled last hidden states
(sentence-transformers' mean pooling and MSELoss distillation objective, Reimers & Gurevych
2020), `mse` and `cosine`, each value with its gradient w.r.t. the student's hidden states, on
8-wide states of both models over the same padded batch (its own seed, so layer_losses.* is
unchanged).

Run:  $DISTIL_VENV/bin/python scripts/make_layer_loss_fixtures.py
"""

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "losses"
BATCH, SEQ, HEADS, RELATION_HEADS = 3, 6, 2, 4
LENGTHS = [6, 4, 2]
STUDENT_LAYERS, STUDENT_WIDTH = 2, 8
TEACHER_LAYERS, TEACHER_WIDTH = 4, 12
PAIRS = [(0, 0), (1, 2), (2, 4)]


def attention_maps(g, layers):
    """Softmax over real keys of random scores: padded keys get exactly 0, as in a model."""
    maps = []
    for _ in range(layers):
        scores = 2.0 * torch.randn(BATCH, HEADS, SEQ, SEQ, generator=g)
        for b, length in enumerate(LENGTHS):
            scores[b, :, :, length:] = torch.finfo(torch.float32).min
        maps.append(scores.softmax(-1))
    return maps


def kl_rows(t, s):
    """KL(t || s) summed over the last axis, for probabilities without zeros."""
    return (t * (t.log() - s.log())).sum(-1)


def hidden_mse(student, teacher, weights, biases):
    total = 0.0
    for i, (m, n) in enumerate(PAIRS):
        s = torch.cat([student[m][b, :L] for b, L in enumerate(LENGTHS)])
        t = torch.cat([teacher[n][b, :L] for b, L in enumerate(LENGTHS)])
        total = total + F.mse_loss(s @ weights[i].T + biases[i], t)
    return total


def attention_kl(student, teacher):
    total = 0.0
    for m, n in PAIRS[1:]:
        kl, count = 0.0, 0
        for b, L in enumerate(LENGTHS):
            t = teacher[n - 1][b, :, :L, :L]
            s = student[m - 1][b, :, :L, :L]
            kl = kl + kl_rows(t, s).sum()
            count += HEADS * L
        total = total + kl / count
    return total


def relation_probs(x, length):
    width = x.shape[-1]
    d = width // RELATION_HEADS
    x = x[:length].view(length, RELATION_HEADS, d).transpose(0, 1)
    return (x @ x.transpose(-1, -2) / math.sqrt(d)).softmax(-1)


def relations(student, teacher):
    total = 0.0
    for s_x, t_x in zip(student, teacher):
        kl, count = 0.0, 0
        for b, L in enumerate(LENGTHS):
            kl = kl + kl_rows(relation_probs(t_x[b], L), relation_probs(s_x[b], L)).sum()
            count += RELATION_HEADS * L
        total = total + kl / count
    return total


def pooled_distances(student, teacher):
    """Each sequence's mean over its real tokens (pad rows never read), then the distances."""
    s = torch.stack([student[b, :L].mean(0) for b, L in enumerate(LENGTHS)])
    t = torch.stack([teacher[b, :L].mean(0) for b, L in enumerate(LENGTHS)])
    return {
        "mse": F.mse_loss(s, t),
        "cosine": (1 - F.cosine_similarity(s, t, dim=-1)).mean(),
    }


def pooled_fixture(mask):
    """Values in float64 from the float32 inputs the Rust test reads, and their gradients."""
    g = torch.Generator().manual_seed(19)
    student = torch.randn(BATCH, SEQ, STUDENT_WIDTH, generator=g)
    # Correlated with the student's, so that the cosine is neither near 0 nor near 1.
    teacher = 0.8 * student + 0.6 * torch.randn(BATCH, SEQ, STUDENT_WIDTH, generator=g)
    tensors = {"attention_mask": mask, "student_hidden": student, "teacher_hidden": teacher}
    scalars = {}
    for name in ["mse", "cosine"]:
        leaf = student.double().requires_grad_()
        value = pooled_distances(leaf, teacher.double())[name]
        value.backward()
        scalars[name] = value.item()
        tensors[f"grad.{name}"] = leaf.grad.float()
    save_file({k: v.contiguous() for k, v in tensors.items()}, OUT / "pooled_loss.safetensors")
    (OUT / "pooled_loss.json").write_text(json.dumps(scalars, indent=2) + "\n")
    print(json.dumps(scalars))


def main():
    g = torch.Generator().manual_seed(18)
    tensors = {}
    mask = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    for b, L in enumerate(LENGTHS):
        mask[b, :L] = 1
    tensors["attention_mask"] = mask

    student_hidden = [
        torch.randn(BATCH, SEQ, STUDENT_WIDTH, generator=g).requires_grad_()
        for _ in range(STUDENT_LAYERS + 1)
    ]
    teacher_hidden = [
        torch.randn(BATCH, SEQ, TEACHER_WIDTH, generator=g) for _ in range(TEACHER_LAYERS + 1)
    ]
    weights = [
        (0.3 * torch.randn(TEACHER_WIDTH, STUDENT_WIDTH, generator=g)).requires_grad_()
        for _ in PAIRS
    ]
    biases = [(0.1 * torch.randn(TEACHER_WIDTH, generator=g)).requires_grad_() for _ in PAIRS]
    student_maps = [m.requires_grad_() for m in attention_maps(g, STUDENT_LAYERS)]
    teacher_maps = attention_maps(g, TEACHER_LAYERS)
    student_qkv = [
        torch.randn(BATCH, SEQ, STUDENT_WIDTH, generator=g).requires_grad_() for _ in range(3)
    ]
    teacher_qkv = [torch.randn(BATCH, SEQ, TEACHER_WIDTH, generator=g) for _ in range(3)]

    values = {}
    values["hidden_mse"] = hidden_mse(student_hidden, teacher_hidden, weights, biases)
    values["attention_kl"] = attention_kl(student_maps, teacher_maps)
    values["attention_relations"] = relations(student_qkv, teacher_qkv)
    sum(values.values()).backward()

    for i, h in enumerate(student_hidden):
        tensors[f"student_hidden.{i}"] = h.detach()
        tensors[f"grad.student_hidden.{i}"] = h.grad
    for i, h in enumerate(teacher_hidden):
        tensors[f"teacher_hidden.{i}"] = h
    for i, (w, b) in enumerate(zip(weights, biases)):
        tensors[f"projection.{i}.weight"] = w.detach()
        tensors[f"projection.{i}.bias"] = b.detach()
        tensors[f"grad.projection.{i}.weight"] = w.grad
        tensors[f"grad.projection.{i}.bias"] = b.grad
    for i, a in enumerate(student_maps):
        tensors[f"student_attention.{i}"] = a.detach()
        tensors[f"grad.student_attention.{i}"] = a.grad
    for i, a in enumerate(teacher_maps):
        tensors[f"teacher_attention.{i}"] = a
    for name, s, t in zip(["query", "key", "value"], student_qkv, teacher_qkv):
        tensors[f"student_{name}"] = s.detach()
        tensors[f"grad.student_{name}"] = s.grad
        tensors[f"teacher_{name}"] = t

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, OUT / "layer_losses.safetensors")
    scalars = {k: v.item() for k, v in values.items()}
    scalars["relation_heads"] = RELATION_HEADS
    (OUT / "layer_losses.json").write_text(json.dumps(scalars, indent=2) + "\n")
    print(json.dumps(scalars))
    pooled_fixture(mask)


if __name__ == "__main__":
    main()
