//! RoBERTa behind the model-agnostic types: `model_type: "roberta"` loads RoBERTa's classes,
//! which compute what they compute on their own, and a checkpoint's MLM head is found by its
//! `lm_head` keys.
#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use distil_core::checkpoint::{has_mlm_head, read_tensors};
use distil_core::nn::PretrainedModel;
use distil_models::{AnyConfig, AnyLanguageModel, AnyModel};
use distil_roberta::RobertaForMaskedLM;
use distil_testkit::hf_parity::{expected, fixture_input, inputs_of, PARITY_TOL};
use distil_testkit::{assert_close, error_chain, fixture, max_abs_diff, read_json};
use tch::Device;

#[test]
fn the_masked_lm_is_robertas_and_computes_its_logits() {
    let any = AnyLanguageModel::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    assert!(matches!(any.model, AnyLanguageModel::Roberta(_)));
    assert!(any.report.unexpected.is_empty(), "{}", any.report);
    let own = RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let batch = inputs_of("roberta-mlm");
    let input = fixture_input(&batch, false);
    let logits = any.model.forward_t(&input, false).logits;
    assert_eq!(
        max_abs_diff(&logits, &own.model.forward_t(&input, false).logits),
        0.0
    );
    assert_close(
        "roberta-mlm",
        &logits,
        &expected("roberta-mlm")["logits"],
        PARITY_TOL,
    );
    // 64 rows, of which the padding index (1) and the row before it hold no token's position.
    assert_eq!(any.config.max_position_embeddings(), 62);
    assert_eq!(any.config.vocab_size(), 500);
    assert!(any.config.is_mlm_head_variable("lm_head.dense.weight"));
    assert!(!any
        .config
        .is_mlm_head_variable("roberta.embeddings.LayerNorm.weight"));
}

#[test]
fn mlm_head_is_found_by_its_lm_head_keys() {
    let mut mlm = read_tensors(&fixture("roberta-mlm/model.safetensors")).unwrap();
    assert!(has_mlm_head(&mlm));
    // roberta-base's file names the bias only as the decoder's.
    let bias = mlm.remove("lm_head.bias").unwrap();
    mlm.insert("lm_head.decoder.bias".into(), bias);
    assert!(has_mlm_head(&mlm));
    // A bare RobertaModel, and a classifier, have none.
    mlm.retain(|key, _| !key.starts_with("lm_head."));
    assert!(!has_mlm_head(&mlm));
    let classifier = read_tensors(&fixture("roberta-seqcls/model.safetensors")).unwrap();
    assert!(!has_mlm_head(&classifier));
}

/// Without an MLM head the base model is loaded and pools by taking `<s>`; the head-optional
/// loader builds a fresh `lm_head` instead.
#[test]
fn a_checkpoint_without_the_head_loads_the_base_model() {
    let dir = fixture("roberta-seqcls");
    let loaded = AnyModel::from_pretrained(&dir, Device::Cpu).unwrap();
    assert!(matches!(loaded.model, AnyModel::Roberta(_)));
    let batch = inputs_of("roberta-seqcls");
    let out = loaded.model.forward(&fixture_input(&batch, false));
    assert!(out.vocab_logits.is_none());
    let first = expected("roberta-seqcls")["hidden_states.1"].select(1, 0);
    assert_close("<s>", &out.pooled, &first, PARITY_TOL);

    let (fresh, had_head) =
        AnyLanguageModel::from_pretrained_head_optional(&dir, Device::Cpu).unwrap();
    assert!(!had_head);
    let missing = &fresh.report.missing_allowed;
    assert!(
        !missing.is_empty() && missing.iter().all(|k| k.starts_with("lm_head.")),
        "{missing:?}"
    );
}

#[test]
fn the_config_serialises_as_robertas_and_unknown_types_list_the_four() {
    let config = AnyConfig::from_dir(&fixture("roberta-mlm")).unwrap();
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json, read_json(&fixture("roberta-mlm/config.json")));

    let dir = tempfile::tempdir().unwrap();
    let mut other = read_json(&fixture("roberta-mlm/config.json"));
    other["model_type"] = "xlnet".into();
    std::fs::write(dir.path().join("config.json"), other.to_string()).unwrap();
    let err = error_chain(&AnyConfig::from_dir(dir.path()).unwrap_err());
    assert!(
        err.contains("\"xlnet\"")
            && err.contains("\"bert\", \"distilbert\", \"roberta\" or \"gpt2\"")
            && err.contains(&dir.path().display().to_string()),
        "{err}"
    );
}

/// A folder whose config says RoBERTa but whose weights are a BERT's fails once, naming the
/// weights file and both model types.
#[test]
fn bert_weights_under_a_roberta_config_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("roberta-mlm/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::copy(fixture("bert-mlm/model.safetensors"), &weights).unwrap();
    let err = error_chain(&AnyLanguageModel::from_pretrained(dir.path(), Device::Cpu).unwrap_err());
    assert!(err.contains(&weights.display().to_string()), "{err}");
    assert!(
        err.contains("model_type \"roberta\"")
            && err.contains("start with `bert.`, not `roberta.`"),
        "{err}"
    );
    // The base model and the head-optional loader refuse it the same way.
    let base = error_chain(&AnyModel::from_pretrained(dir.path(), Device::Cpu).unwrap_err());
    assert!(base.contains("start with `bert.`"), "{base}");
    let optional = AnyLanguageModel::from_pretrained_head_optional(dir.path(), Device::Cpu);
    assert!(error_chain(&optional.unwrap_err()).contains("start with `bert.`"));
}
