//! `causal_lm_loss` against the PyTorch reference (fixture written by
//! scripts/make_clm_loss_fixture.py): its value and its gradient with respect to the logits.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::collections::HashMap;

use distil_testkit::{fixture, read_json};
use distil_train::loss::causal_lm_loss;
use tch::{Kind, Tensor};

const RELATIVE_TOL: f64 = 1e-6;

fn reference() -> (HashMap<String, Tensor>, serde_json::Value) {
    let dir = fixture("losses");
    let tensors = Tensor::read_safetensors(dir.join("clm_loss.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    (tensors, read_json(&dir.join("clm_loss.json")))
}

fn relative_diff(got: &Tensor, want: &Tensor) -> f64 {
    let (got, want) = (got.to_kind(Kind::Double), want.to_kind(Kind::Double));
    let scale = want.abs().max().double_value(&[]);
    (got - want).abs().max().double_value(&[]) / scale
}

#[test]
fn value_and_gradient_match_pytorch() {
    let (tensors, scalars) = reference();
    let logits = tensors["logits"].copy().set_requires_grad(true);
    let loss = causal_lm_loss(&logits, &tensors["input_ids"], &tensors["attention_mask"]);
    let want = scalars["loss"].as_f64().unwrap();
    let got = loss.double_value(&[]);
    assert!(
        ((got - want) / want).abs() < RELATIVE_TOL,
        "{got} vs {want}"
    );
    loss.backward();
    let diff = relative_diff(&logits.grad(), &tensors["grad_logits"]);
    assert!(diff < RELATIVE_TOL, "gradient: {diff:e}");
}

/// Only real targets count: the logits predicting a padded token get no gradient, nor do the
/// last position's (it predicts nothing).
#[test]
fn padded_targets_and_the_last_position_get_no_gradient() {
    let (tensors, _) = reference();
    let mask = &tensors["attention_mask"];
    let logits = tensors["logits"].copy().set_requires_grad(true);
    causal_lm_loss(&logits, &tensors["input_ids"], mask).backward();
    let grad = logits.grad().abs().sum_dim_intlist(-1, false, Kind::Double);
    let seq = mask.size()[1];
    let predicts_real = Tensor::cat(
        &[
            mask.narrow(1, 1, seq - 1).ne(0),
            mask.narrow(1, 0, 1).zeros_like().ne(0),
        ],
        1,
    );
    let leaked = grad.masked_select(&predicts_real.logical_not());
    assert_eq!(leaked.abs().max().double_value(&[]), 0.0);
    assert!(grad.masked_select(&predicts_real).min().double_value(&[]) > 0.0);
}
