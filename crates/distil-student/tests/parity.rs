//! DistilBERT against `transformers` on the fixtures of `scripts/make_fixtures.py` (fp32, CPU).
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_models::{AnyLanguageModel, AnyModel};
use distil_student::embeddings::sinusoidal_table;
use distil_student::{
    DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification,
};
use distil_testkit::hf_parity::{
    check_classifier, check_masked_lm, check_span_extractor, config_without, expected,
    fixture_input, inputs, PARITY_TOL,
};
use distil_testkit::{assert_close, fixture};
use tch::Device;

fn check_distilbert_masked_lm(name: &str) {
    check_masked_lm(name, |m: &DistilBertForMaskedLM, input| {
        m.forward_t(input, false)
    });
}

#[test]
fn masked_lm_matches_transformers() {
    check_distilbert_masked_lm("distilbert-mlm");
}

#[test]
fn sinusoidal_masked_lm_matches_transformers() {
    check_distilbert_masked_lm("distilbert-sinusoidal-mlm");
}

#[test]
fn sinusoidal_table_equals_hf_and_is_a_frozen_variable() {
    let name = "distilbert-sinusoidal-mlm";
    let saved = read_tensors(&fixture(name).join("model.safetensors")).unwrap();
    let hf_table = &saved["distilbert.embeddings.position_embeddings.weight"];
    let (n, dim) = (hf_table.size()[0], hf_table.size()[1]);
    assert_close(
        "sinusoidal table",
        &sinusoidal_table(n, dim, Device::Cpu),
        hf_table,
        1e-7,
    );

    let config = DistilBertConfig::from_file(&fixture(name)).unwrap();
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
        DistilBertForMaskedLM::from_pretrained(&fixture("distilbert-mlm"), Device::Cpu).unwrap();
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
        DistilBertForMaskedLM::from_pretrained(&fixture("distilbert-mlm"), Device::Cpu).unwrap();
    let model = &loaded.model;
    let embeddings = &model.distilbert.embeddings.words.word_embeddings.ws;
    assert_eq!(
        model.vocab_head.decoder_weight.data_ptr(),
        embeddings.data_ptr()
    );
    assert!(
        loaded.report.ignored_tied.is_empty()
            && !loaded.vs.variables().contains_key("vocab_projector.weight")
    );
}

#[test]
fn sequence_classification_matches_transformers() {
    check_classifier(
        "distilbert-seqcls",
        |m: &DistilBertForSequenceClassification, input| m.forward_t(input, false),
    );
}

#[test]
fn question_answering_matches_transformers() {
    check_span_extractor(
        "distilbert-qa",
        |m: &DistilBertForQuestionAnswering, input| m.forward_t(input, false),
    );
}

#[test]
fn any_model_picks_the_architecture_from_config() {
    let batch = inputs();
    for name in ["bert-mlm", "distilbert-mlm"] {
        let loaded = AnyLanguageModel::from_pretrained(&fixture(name), Device::Cpu).unwrap();
        let out = loaded.model.forward_t(&fixture_input(&batch, false), false);
        assert_close(name, &out.logits, &expected(name)["logits"], PARITY_TOL);
    }
    // A BERT with a pooler and no MLM head: the pooled vector is the pooler's output.
    let loaded = AnyModel::from_pretrained(&fixture("bert-seqcls"), Device::Cpu).unwrap();
    assert!(matches!(loaded.model, AnyModel::Bert(_)));
    let out = loaded.model.forward(&fixture_input(&batch, false));
    let want = expected("bert-seqcls");
    assert_close("pooled", &out.pooled, &want["pooler_output"], PARITY_TOL);
    assert!(out.vocab_logits.is_none());
    // A DistilBERT without MLM head pools by taking [CLS].
    let loaded = AnyModel::from_pretrained(&fixture("distilbert-qa"), Device::Cpu).unwrap();
    let out = loaded.model.forward(&fixture_input(&batch, false));
    let cls = expected("distilbert-qa")["hidden_states.2"].select(1, 0);
    assert_close("cls", &out.pooled, &cls, PARITY_TOL);
}

#[test]
fn config_missing_a_required_key_names_key_and_file() {
    let (dir, path, mut json) = config_without("distilbert-mlm", "hidden_dim");
    let err = DistilBertConfig::from_file(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("hidden_dim"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");

    json["hidden_dim"] = 64.into();
    json["model_type"] = "xlnet".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = AnyLanguageModel::from_pretrained(dir.path(), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("xlnet"), "{err}");
}
