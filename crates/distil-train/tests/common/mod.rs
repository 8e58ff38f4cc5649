//! The reference values of the loss and optimizer tests (`data/fixtures/losses`, written by
//! scripts/make_loss_fixtures.py, make_clm_loss_fixture.py and make_layer_loss_fixtures.py).

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::collections::HashMap;

use distil_testkit::{fixture, read_json};
use tch::Tensor;

/// `data/fixtures/losses/<stem>.safetensors` by name, and the scalars of `<stem>.json`.
pub fn reference_fixture(stem: &str) -> (HashMap<String, Tensor>, serde_json::Value) {
    let dir = fixture("losses");
    let tensors = Tensor::read_safetensors(dir.join(format!("{stem}.safetensors")))
        .unwrap()
        .into_iter()
        .collect();
    (tensors, read_json(&dir.join(format!("{stem}.json"))))
}
