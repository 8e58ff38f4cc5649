//! DistilBERT against `transformers` on the fixtures of `scripts/make_fixtures.py` (fp32, CPU).
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

#[path = "../../distil-teacher/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use common::*;
use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_core::{EncoderInput, MaskedLanguageModel};
use distil_student::embeddings::sinusoidal_table;
use distil_student::{
    AnyMaskedLm, AnyModel, DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification,
};
use tch::{Device, Tensor};

const TOL: f64 = 1e-5;

/// DistilBERT takes no token types; the fixture batch's are passed and must be ignored.
fn input(batch: &BTreeMap<String, Tensor>, eager: bool) -> EncoderInput<'_> {
    let mut input = EncoderInput::new(&batch["input_ids"], &batch["attention_mask"])
        .with_token_types(&batch["token_type_ids"]);
    input.output_attentions = eager;
    input
}

fn check_masked_lm(name: &str) {
    let loaded =
        DistilBertForMaskedLM::from_pretrained(&fixtures().join(name), Device::Cpu).unwrap();
    assert_hf_names(&loaded.vs, name);
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    let (batch, want) = (inputs(), expected(name));
    for eager in [false, true] {
        let out = loaded.model.forward_t(&input(&batch, eager), false);
        assert_eq!(out.encoder.attentions.is_some(), eager);
        assert_encoder_close(name, &out.encoder, &want, TOL);
        assert_close(&format!("{name} logits"), &out.logits, &want["logits"], TOL);
    }
    let model = &loaded.model;
    let hidden = model.encode(&input(&batch, false), false);
    let logits = model.mlm_logits(hidden.last_hidden_state(), false);
    assert_close("trait logits", &logits, &want["logits"], TOL);
}

#[test]
fn masked_lm_matches_transformers() {
    check_masked_lm("distilbert-mlm");
}

#[test]
fn sinusoidal_masked_lm_matches_transformers() {
    check_masked_lm("distilbert-sinusoidal-mlm");
}

#[test]
fn sinusoidal_table_equals_hf_and_is_a_frozen_variable() {
    let name = "distilbert-sinusoidal-mlm";
    let saved = read_tensors(&fixtures().join(name).join("model.safetensors")).unwrap();
    let hf_table = &saved["distilbert.embeddings.position_embeddings.weight"];
    let (n, dim) = (hf_table.size()[0], hf_table.size()[1]);
    assert_close(
        "sinusoidal table",
        &sinusoidal_table(n, dim, Device::Cpu),
        hf_table,
        1e-7,
    );

    let config = DistilBertConfig::from_file(&fixtures().join(name)).unwrap();
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = DistilBertForMaskedLM::build(vs.root(), &config);
    let table = &model.distilbert.embeddings.position_embeddings;
    assert!(!table.requires_grad());
    assert!(vs
        .variables()
        .contains_key("distilbert.embeddings.position_embeddings.weight"));
    let trainable = vs.trainable_variables();
    assert!(trainable.iter().all(|t| t.data_ptr() != table.data_ptr()));
}

#[test]
fn learned_position_embeddings_can_be_frozen() {
    let loaded =
        DistilBertForMaskedLM::from_pretrained(&fixtures().join("distilbert-mlm"), Device::Cpu)
            .unwrap();
    let before = loaded.vs.trainable_variables().len();
    loaded.model.freeze_position_embeddings(&loaded.vs).unwrap();
    assert_eq!(loaded.vs.trainable_variables().len(), before - 1);
    assert!(!loaded
        .model
        .distilbert
        .embeddings
        .position_embeddings
        .requires_grad());
}

#[test]
fn projector_weight_is_the_word_embedding_tensor() {
    let loaded =
        DistilBertForMaskedLM::from_pretrained(&fixtures().join("distilbert-mlm"), Device::Cpu)
            .unwrap();
    let model = &loaded.model;
    let embeddings = &model.distilbert.embeddings.word_embeddings.ws;
    assert_eq!(
        model.vocab_projector_weight.data_ptr(),
        embeddings.data_ptr()
    );
    assert!(
        loaded.report.ignored_tied.is_empty()
            && !loaded.vs.variables().contains_key("vocab_projector.weight")
    );
}

#[test]
fn sequence_classification_matches_transformers() {
    let name = "distilbert-seqcls";
    let loaded =
        DistilBertForSequenceClassification::from_pretrained(&fixtures().join(name), Device::Cpu)
            .unwrap();
    assert_hf_names(&loaded.vs, name);
    assert!(
        loaded.report.missing_allowed.is_empty(),
        "{}",
        loaded.report
    );
    let (batch, want) = (inputs(), expected(name));
    let out = loaded.model.forward_t(&input(&batch, true), false);
    assert_encoder_close(name, &out.encoder, &want, TOL);
    assert_close(
        "distilbert-seqcls logits",
        &out.logits,
        &want["logits"],
        TOL,
    );
}

#[test]
fn question_answering_matches_transformers() {
    let name = "distilbert-qa";
    let loaded =
        DistilBertForQuestionAnswering::from_pretrained(&fixtures().join(name), Device::Cpu)
            .unwrap();
    assert_hf_names(&loaded.vs, name);
    let (batch, want) = (inputs(), expected(name));
    let out = loaded.model.forward_t(&input(&batch, true), false);
    assert_encoder_close(name, &out.encoder, &want, TOL);
    assert_close("start", &out.start_logits, &want["start_logits"], TOL);
    assert_close("end", &out.end_logits, &want["end_logits"], TOL);
}

#[test]
fn any_model_picks_the_architecture_from_config() {
    let batch = inputs();
    for name in ["bert-mlm", "distilbert-mlm"] {
        let loaded = AnyMaskedLm::from_pretrained(&fixtures().join(name), Device::Cpu).unwrap();
        let out = loaded.model.forward_t(&input(&batch, false), false);
        assert_close(name, &out.logits, &expected(name)["logits"], TOL);
    }
    // A BERT with a pooler and no MLM head: the pooled vector is the pooler's output.
    let loaded = AnyModel::from_pretrained(&fixtures().join("bert-seqcls"), Device::Cpu).unwrap();
    assert!(matches!(loaded.model, AnyModel::Bert(_)));
    let out = loaded.model.forward(&input(&batch, false));
    let want = expected("bert-seqcls");
    assert_close("pooled", &out.pooled, &want["pooler_output"], TOL);
    assert!(out.mlm_logits.is_none());
    // A DistilBERT without MLM head pools by taking [CLS].
    let loaded = AnyModel::from_pretrained(&fixtures().join("distilbert-qa"), Device::Cpu).unwrap();
    let out = loaded.model.forward(&input(&batch, false));
    let cls = expected("distilbert-qa")["hidden_states.2"].select(1, 0);
    assert_close("cls", &out.pooled, &cls, TOL);
}

#[test]
fn config_missing_a_required_key_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("distilbert-mlm/config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().remove("hidden_dim");
    let path = dir.path().join("config.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let err = DistilBertConfig::from_file(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("hidden_dim"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");

    json["hidden_dim"] = 64.into();
    json["model_type"] = "roberta".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = AnyMaskedLm::from_pretrained(dir.path(), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("roberta"), "{err}");
}
