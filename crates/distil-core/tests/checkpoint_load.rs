//! How `load_into` matches checkpoint keys to VarStore variables: HF prefixes, legacy
//! LayerNorm names, tied keys, buffers, allowed and required missing weights, wrong shapes.

#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use std::collections::BTreeMap;

use distil_core::checkpoint::{load_into, CheckpointError, LoadSpec};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A store with zero-initialised variables of these names and shapes.
fn store(vars: &[(&str, &[i64])]) -> VarStore {
    let vs = VarStore::new(Device::Cpu);
    for (name, shape) in vars {
        let (parents, leaf) = name.rsplit_once('.').unwrap_or(("", name));
        let path = parents
            .split('.')
            .filter(|s| !s.is_empty())
            .fold(vs.root(), |p, segment| p / segment);
        let _ = path.zeros(leaf, shape);
    }
    vs
}

/// Distinct values per tensor: `seed, seed + 1, ...`.
fn filled(seed: f64, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    (Tensor::arange(n, (Kind::Float, Device::Cpu)) + seed).reshape(shape)
}

/// A file holding every variable of `vars`, each with its own values.
fn file_for(vars: &[(&str, &[i64])], seed: f64) -> BTreeMap<String, Tensor> {
    vars.iter()
        .enumerate()
        .map(|(i, (k, s))| (k.to_string(), filled(seed + 100.0 * i as f64, s)))
        .collect()
}

fn variable(vs: &VarStore, name: &str) -> Tensor {
    vs.variables().remove(name).unwrap()
}

const BERT_MLM: &[(&str, &[i64])] = &[
    ("bert.embeddings.word_embeddings.weight", &[10, 4]),
    ("bert.embeddings.LayerNorm.weight", &[4]),
    ("bert.embeddings.LayerNorm.bias", &[4]),
    ("cls.predictions.bias", &[10]),
];

#[test]
fn exact_keys_load_every_variable_with_its_values() {
    let vs = store(BERT_MLM);
    let tensors = file_for(BERT_MLM, 0.0);
    let report = load_into(&vs, &tensors, &LoadSpec::new("bert")).unwrap();
    assert_eq!(report.loaded.len(), BERT_MLM.len());
    assert!(report.renamed.is_empty() && report.unexpected.is_empty());
    for (key, tensor) in &tensors {
        assert!(variable(&vs, key).equal(tensor), "{key}");
    }
}

#[test]
fn legacy_gamma_beta_names_fill_layer_norm_weight_and_bias() {
    let vs = store(&[
        ("bert.embeddings.LayerNorm.weight", &[4]),
        ("bert.embeddings.LayerNorm.bias", &[4]),
    ]);
    let gamma = filled(1.0, &[4]);
    let beta = filled(-7.0, &[4]);
    let tensors = BTreeMap::from([
        ("bert.embeddings.LayerNorm.gamma".to_string(), gamma.copy()),
        ("bert.embeddings.LayerNorm.beta".to_string(), beta.copy()),
    ]);
    let report = load_into(&vs, &tensors, &LoadSpec::new("bert")).unwrap();
    assert!(variable(&vs, "bert.embeddings.LayerNorm.weight").equal(&gamma));
    assert!(variable(&vs, "bert.embeddings.LayerNorm.bias").equal(&beta));
    assert_eq!(report.renamed.len(), 2);
    assert!(report.unexpected.is_empty());
}

#[test]
fn base_prefix_is_added_or_stripped_to_match_the_file() {
    // A BertModel file (no `bert.`) into a model with the prefix.
    let vs = store(&[("bert.pooler.dense.bias", &[4])]);
    let bias = filled(3.0, &[4]);
    let file = BTreeMap::from([("pooler.dense.bias".to_string(), bias.copy())]);
    load_into(&vs, &file, &LoadSpec::new("bert")).unwrap();
    assert!(variable(&vs, "bert.pooler.dense.bias").equal(&bias));

    // A DistilBertForMaskedLM file (with `distilbert.`) into a bare DistilBertModel.
    let vs = store(&[("embeddings.LayerNorm.weight", &[4])]);
    let weight = filled(5.0, &[4]);
    let file = BTreeMap::from([(
        "distilbert.embeddings.LayerNorm.gamma".to_string(),
        weight.copy(),
    )]);
    let report = load_into(&vs, &file, &LoadSpec::new("distilbert")).unwrap();
    assert!(variable(&vs, "embeddings.LayerNorm.weight").equal(&weight));
    assert_eq!(
        report.renamed,
        vec![(
            "embeddings.LayerNorm.weight".to_string(),
            "distilbert.embeddings.LayerNorm.gamma".to_string()
        )]
    );
}

#[test]
fn tied_keys_and_buffers_are_skipped_not_unexpected() {
    let vs = store(BERT_MLM);
    let mut tensors = file_for(BERT_MLM, 1.0);
    tensors.insert(
        "cls.predictions.decoder.weight".into(),
        filled(0.0, &[10, 4]),
    );
    tensors.insert("cls.predictions.decoder.bias".into(), filled(0.0, &[10]));
    tensors.insert(
        "bert.embeddings.position_ids".into(),
        Tensor::arange(8, (Kind::Int64, Device::Cpu)).unsqueeze(0),
    );
    tensors.insert("cls.seq_relationship.weight".into(), filled(0.0, &[2, 4]));
    let report = load_into(&vs, &tensors, &LoadSpec::new("bert")).unwrap();
    assert_eq!(
        report.ignored_tied,
        vec![
            "cls.predictions.decoder.bias",
            "cls.predictions.decoder.weight"
        ]
    );
    assert_eq!(report.ignored_buffers, vec!["bert.embeddings.position_ids"]);
    assert_eq!(report.unexpected, vec!["cls.seq_relationship.weight"]);
    let summary = report.to_string();
    assert!(summary.contains("1 unexpected"), "{summary}");
    assert!(summary.contains("cls.seq_relationship.weight"), "{summary}");
}

#[test]
fn decoder_bias_stands_in_for_an_absent_prediction_bias() {
    let vs = store(&[("cls.predictions.bias", &[10])]);
    let bias = filled(2.0, &[10]);
    let file = BTreeMap::from([("cls.predictions.decoder.bias".to_string(), bias.copy())]);
    let report = load_into(&vs, &file, &LoadSpec::new("bert")).unwrap();
    assert!(variable(&vs, "cls.predictions.bias").equal(&bias));
    assert!(report.ignored_tied.is_empty(), "used, so not skipped");
}

#[test]
fn a_missing_required_weight_is_an_error_naming_it() {
    let vs = store(BERT_MLM);
    let tensors = BTreeMap::from([(
        "bert.embeddings.word_embeddings.weight".to_string(),
        filled(0.0, &[10, 4]),
    )]);
    let err = load_into(&vs, &tensors, &LoadSpec::new("bert")).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::MissingKey { key, .. } if key == "bert.embeddings.LayerNorm.bias"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`bert.embeddings.LayerNorm.bias` is missing"),
        "{msg}"
    );
    assert!(
        msg.contains("`embeddings.LayerNorm.beta`"),
        "lists what was tried: {msg}"
    );
}

#[test]
fn allowed_missing_heads_are_reported_and_keep_their_init() {
    let vs = store(&[
        ("distilbert.embeddings.LayerNorm.weight", &[4]),
        ("pre_classifier.weight", &[4, 4]),
        ("classifier.weight", &[3, 4]),
        ("classifier.bias", &[3]),
    ]);
    let file = BTreeMap::from([(
        "distilbert.embeddings.LayerNorm.weight".to_string(),
        filled(1.0, &[4]),
    )]);
    let spec = LoadSpec::new("distilbert").allow_missing(["classifier.*", "pre_classifier"]);
    let report = load_into(&vs, &file, &spec).unwrap();
    assert_eq!(
        report.missing_allowed,
        vec![
            "classifier.bias",
            "classifier.weight",
            "pre_classifier.weight"
        ]
    );
    assert_eq!(
        report.loaded,
        vec!["distilbert.embeddings.LayerNorm.weight"]
    );
    assert_eq!(
        variable(&vs, "classifier.bias")
            .abs()
            .sum(Kind::Float)
            .double_value(&[]),
        0.0
    );
}

#[test]
fn a_wrong_shape_names_key_and_both_shapes_and_copies_nothing() {
    let vs = store(BERT_MLM);
    let mut tensors = file_for(BERT_MLM, 1.0);
    tensors.insert("cls.predictions.bias".into(), filled(1.0, &[12]));
    let err = load_into(&vs, &tensors, &LoadSpec::new("bert")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`cls.predictions.bias`"), "{msg}");
    assert!(msg.contains("[10]") && msg.contains("[12]"), "{msg}");
    let untouched = variable(&vs, "bert.embeddings.word_embeddings.weight");
    assert_eq!(untouched.abs().sum(Kind::Float).double_value(&[]), 0.0);
}

#[test]
fn values_are_converted_to_the_variable_dtype() {
    let vs = store(&[("classifier.bias", &[3])]);
    let file = BTreeMap::from([(
        "classifier.bias".to_string(),
        Tensor::from_slice(&[0.5f64, -1.25, 3.0]),
    )]);
    load_into(&vs, &file, &LoadSpec::new("bert")).unwrap();
    let loaded = variable(&vs, "classifier.bias");
    assert_eq!(loaded.kind(), Kind::Float);
    assert!(loaded.equal(&Tensor::from_slice(&[0.5f32, -1.25, 3.0])));
}
