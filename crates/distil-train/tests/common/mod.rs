//! The reference values of the loss and optimizer tests (`data/fixtures/losses`, written by
//! scripts/make_loss_fixtures.py).

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::collections::HashMap;

use distil_testkit::{fixture, read_json};
use tch::Tensor;

/// The fixture's tensors by name, and its scalars (`losses.json`).
pub fn loss_fixture() -> (HashMap<String, Tensor>, serde_json::Value) {
    let dir = fixture("losses");
    let tensors = Tensor::read_safetensors(dir.join("losses.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    (tensors, read_json(&dir.join("losses.json")))
}
