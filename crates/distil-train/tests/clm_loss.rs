//! `causal_lm_loss` against the PyTorch reference (fixture written by
//! scripts/make_clm_loss_fixture.py): its value and its gradient with respect to the logits;
//! and the distiller's `CausalLmLoss` term, over batches whose labels are the next tokens,
//! equal to it.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::collections::HashMap;

use common::reference_fixture;
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use distil_data::next_token_rows;
use distil_train::loss::{causal_lm_loss, CausalLmLoss, StudentInputs};
use distil_train::{LossContext, LossTerm, RowIndex};
use tch::{Device, Kind, Tensor};

const RELATIVE_TOL: f64 = 1e-6;

fn reference() -> (HashMap<String, Tensor>, serde_json::Value) {
    reference_fixture("clm_loss")
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

/// A "model" whose hidden states are the logits themselves (an identity head), so a loss term
/// reads exactly the fixture's logits.
struct FixedLogits(Tensor);

impl LanguageModel for FixedLogits {
    fn encode(&self, _input: &EncoderInput, _train: bool) -> EncoderOutput {
        EncoderOutput {
            hidden_states: vec![self.0.shallow_clone()],
            attentions: None,
            projections: None,
        }
    }

    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        hidden.shallow_clone()
    }

    fn hidden_size(&self) -> i64 {
        self.0.size()[2]
    }

    fn vocab_size(&self) -> i64 {
        self.0.size()[2]
    }
}

/// The term reads logits only at rows with a next-token label, yet computes what the shifted
/// reference computes over the whole batch, with the same gradient. The fixture's right-padded
/// rows (0 and 2) are used: distil's batches are always right-padded.
#[test]
fn the_loss_term_over_next_token_labels_equals_the_shifted_loss() {
    let (tensors, _) = reference();
    let rows = Tensor::from_slice(&[0i64, 2]);
    let (ids, mask) = (
        tensors["input_ids"].index_select(0, &rows),
        tensors["attention_mask"].index_select(0, &rows),
    );
    let token_rows: Vec<Vec<u32>> = (0..2)
        .map(|r| {
            let len = mask.get(r).sum(Kind::Int64).int64_value(&[]);
            Vec::<i64>::try_from(ids.get(r).narrow(0, 0, len))
                .unwrap()
                .into_iter()
                .map(|id| id as u32)
                .collect()
        })
        .collect();
    let refs: Vec<&[u32]> = token_rows.iter().map(Vec::as_slice).collect();
    let batch = next_token_rows(&refs, 0).into_batch();
    assert!(batch.attention_mask.equal(&mask));

    let want_logits = tensors["logits"]
        .index_select(0, &rows)
        .set_requires_grad(true);
    let want = causal_lm_loss(&want_logits, &ids, &mask);
    want.backward();

    let student = FixedLogits(
        tensors["logits"]
            .index_select(0, &rows)
            .set_requires_grad(true),
    );
    let out = student.encode(
        &EncoderInput::new(&batch.input_ids, &batch.attention_mask),
        true,
    );
    let index = RowIndex::new(&batch.attention_mask, &batch.labels, Device::Cpu);
    let mut ctx = LossContext::without_teacher(StudentInputs {
        student: &student,
        student_out: &out,
        attention_mask: &batch.attention_mask,
        labels: &batch.labels,
        rows: &index,
        train: true,
    });
    let got = CausalLmLoss.compute(&mut ctx);
    assert_eq!(CausalLmLoss.name(), "loss_clm");
    let (got_value, want_value) = (got.double_value(&[]), want.double_value(&[]));
    assert!(
        ((got_value - want_value) / want_value).abs() < RELATIVE_TOL,
        "{got_value} vs {want_value}"
    );
    got.backward();
    let diff = relative_diff(&student.0.grad(), &want_logits.grad());
    assert!(diff < RELATIVE_TOL, "gradient: {diff:e}");
}
