//! RoBERTa against `transformers` on the fixtures of `scripts/make_roberta_fixtures.py` (fp32,
//! CPU), and what loading checks: names, the tied decoder, fresh heads and clear errors.
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use std::path::Path;

use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_core::{EncoderInput, LanguageModel};
use distil_roberta::{
    position_ids_from_input_ids, RobertaConfig, RobertaForMaskedLM, RobertaForQuestionAnswering,
    RobertaForSequenceClassification, RobertaModel,
};
use distil_testkit::hf_parity::{
    assert_encoder_close, assert_hf_names, check_classifier, check_masked_lm, check_span_extractor,
    config_without, expected, fixture_input, inputs_of, PARITY_TOL,
};
use distil_testkit::{assert_close, error_chain, fixture, max_abs_diff, read_json};
use tch::{Device, Kind, Tensor};

#[test]
fn masked_lm_matches_transformers_on_sdpa_and_eager_paths() {
    let loaded = check_masked_lm("roberta-mlm", |m: &RobertaForMaskedLM, input| {
        m.forward_t(input, false)
    });
    let model = &loaded.model;
    assert_eq!((model.hidden_size(), model.vocab_size()), (32, 500));
}

#[test]
fn sequence_classification_matches_transformers_on_eager_and_sdpa_paths() {
    let (loaded, out) = check_classifier(
        "roberta-seqcls",
        |m: &RobertaForSequenceClassification, input| m.forward_t(input, false),
    );
    assert!(loaded.model.roberta.pooler.is_none());
    assert_eq!(out.logits.size(), [4, 3]);

    let batch = inputs_of("roberta-seqcls");
    let sdpa = loaded.model.forward_t(&fixture_input(&batch, false), false);
    let want = expected("roberta-seqcls");
    assert!(sdpa.encoder.attentions.is_none());
    assert_encoder_close("roberta-seqcls sdpa", &sdpa.encoder, &want, PARITY_TOL);
    assert_close("sdpa logits", &sdpa.logits, &want["logits"], PARITY_TOL);
}

/// `check_span_extractor` runs the eager path; the SDPA path is checked here.
#[test]
fn question_answering_matches_transformers_on_eager_and_sdpa_paths() {
    check_span_extractor("roberta-qa", |m: &RobertaForQuestionAnswering, input| {
        m.forward_t(input, false)
    });
    let loaded =
        RobertaForQuestionAnswering::from_pretrained(&fixture("roberta-qa"), Device::Cpu).unwrap();
    let batch = inputs_of("roberta-qa");
    let sdpa = loaded.model.forward_t(&fixture_input(&batch, false), false);
    let want = expected("roberta-qa");
    assert!(sdpa.encoder.attentions.is_none());
    assert_encoder_close("roberta-qa sdpa", &sdpa.encoder, &want, PARITY_TOL);
    assert_close(
        "sdpa start",
        &sdpa.start_logits,
        &want["start_logits"],
        PARITY_TOL,
    );
    assert_close(
        "sdpa end",
        &sdpa.end_logits,
        &want["end_logits"],
        PARITY_TOL,
    );
}

/// The base model takes the MLM checkpoint's `roberta.` keys: no pooler, the same states.
#[test]
fn base_model_loads_from_a_checkpoint_with_a_head() {
    let loaded = RobertaModel::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    assert!(loaded.model.pooler.is_none());
    assert!(loaded
        .report
        .unexpected
        .iter()
        .all(|k| k.starts_with("lm_head.")));
    let batch = inputs_of("roberta-mlm");
    let out = loaded.model.forward_t(&fixture_input(&batch, true), false);
    assert_encoder_close(
        "roberta-mlm base",
        &out,
        &expected("roberta-mlm"),
        PARITY_TOL,
    );
}

#[test]
fn position_ids_are_transformers_and_ignore_padding() {
    let loaded = RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let embeddings = &loaded.model.roberta.embeddings;
    let batch = inputs_of("roberta-mlm");
    let ids = &batch["input_ids"];
    let want = &expected("roberta-mlm")["position_ids"];
    assert_eq!(max_abs_diff(&embeddings.position_ids(ids), want), 0.0);

    // Row 0 alone without its padding, and with more padding, keeps its real positions.
    let real = batch["attention_mask"]
        .get(0)
        .sum(Kind::Int64)
        .int64_value(&[]);
    assert!(real < ids.size()[1], "row 0 must be padded");
    let unpadded = ids.get(0).narrow(0, 0, real).unsqueeze(0);
    let more_padding = Tensor::cat(
        &[
            ids.get(0).unsqueeze(0),
            Tensor::ones([1, 5], tch::kind::INT64_CPU),
        ],
        1,
    );
    let prefix = |t: &Tensor| position_ids_from_input_ids(t, 1).narrow(1, 0, real);
    assert_eq!(
        max_abs_diff(
            &prefix(&unpadded),
            &want.get(0).narrow(0, 0, real).unsqueeze(0)
        ),
        0.0
    );
    assert_eq!(
        max_abs_diff(&prefix(&more_padding), &prefix(&unpadded)),
        0.0
    );
}

/// Other ids at padded positions change nothing at real positions, and token types of zeros
/// (what HF fills in when none are given) are the same as none.
#[test]
fn padding_and_absent_token_types_are_invisible() {
    let loaded = RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let batch = inputs_of("roberta-mlm");
    let (ids, mask) = (&batch["input_ids"], &batch["attention_mask"]);
    let reference = loaded
        .model
        .forward_t(&EncoderInput::new(ids, mask), false)
        .logits;
    assert_close(
        "logits",
        &reference,
        &expected("roberta-mlm")["logits"],
        PARITY_TOL,
    );

    let scrambled = ids.where_self(&mask.ne(0), &Tensor::from(17i64));
    let changed = loaded
        .model
        .forward_t(&EncoderInput::new(&scrambled, mask), false)
        .logits;
    let real = mask.ne(0).unsqueeze(-1);
    let diff = max_abs_diff(&changed.multiply(&real), &reference.multiply(&real));
    assert!(diff < 1e-5, "padding leaked: {diff:e}");

    let zeros = ids.zeros_like();
    let typed = loaded
        .model
        .forward_t(
            &EncoderInput::new(ids, mask).with_token_types(&zeros),
            false,
        )
        .logits;
    assert_eq!(max_abs_diff(&typed, &reference), 0.0);
}

#[test]
fn decoder_weight_is_the_word_embedding_tensor() {
    let loaded = RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let model = &loaded.model;
    let embeddings = &model.roberta.embeddings.words.word_embeddings.ws;
    assert_eq!(
        model.lm_head.decoder_weight.data_ptr(),
        embeddings.data_ptr()
    );
    tch::no_grad(|| {
        let _ = embeddings.get(7).fill_(0.5);
    });
    let row = model.lm_head.decoder_weight.get(7);
    assert_eq!(row.min().double_value(&[]), 0.5);
}

/// Older files (roberta-base's) hold the tied `lm_head.decoder.weight` and may hold the bias
/// only as `lm_head.decoder.bias`: both load, nothing is left unexpected.
#[test]
fn masked_lm_loads_a_file_with_the_tied_decoder_keys() {
    let file = fixture("roberta-mlm/model.safetensors");
    let mut tensors = read_tensors(&file).unwrap();
    let bias = tensors.remove("lm_head.bias").unwrap();
    let words = tensors["roberta.embeddings.word_embeddings.weight"].copy();
    tensors.insert("lm_head.decoder.bias".into(), bias.copy());
    tensors.insert("lm_head.decoder.weight".into(), words);
    let config = RobertaConfig::from_file(&fixture("roberta-mlm")).unwrap();
    let loaded = RobertaForMaskedLM::from_tensors(config, &tensors, &file, Device::Cpu).unwrap();
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    assert_eq!(loaded.report.ignored_tied, ["lm_head.decoder.weight"]);
    assert_eq!(max_abs_diff(&loaded.model.lm_head.bias, &bias), 0.0);
}

#[test]
fn classifier_starts_fresh_from_an_mlm_checkpoint() {
    let loaded =
        RobertaForSequenceClassification::from_pretrained(&fixture("roberta-mlm"), Device::Cpu)
            .unwrap();
    let fresh = &loaded.report.missing_allowed;
    for key in ["classifier.dense.weight", "classifier.out_proj.weight"] {
        assert!(fresh.iter().any(|k| k == key), "{key} not in {fresh:?}");
    }
    assert!(loaded
        .report
        .unexpected
        .iter()
        .all(|k| k.starts_with("lm_head.")));
}

/// The MLM head must never be silently re-initialised: a checkpoint without it is an error.
#[test]
fn masked_lm_refuses_a_checkpoint_without_its_head() {
    let err =
        RobertaForMaskedLM::from_pretrained(&fixture("roberta-seqcls"), Device::Cpu).unwrap_err();
    let err = error_chain(&err);
    assert!(err.contains("lm_head"), "{err}");
}

#[test]
fn config_of_another_model_type_names_key_and_file() {
    let (_dir, path, mut json) = config_without("roberta-mlm", "model_type");
    json["model_type"] = "bert".into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = RobertaConfig::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("model_type") && err.contains("\"bert\""),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");

    // A BERT model directory, read as RoBERTa, fails on its config alone.
    let bert = fixture("bert-mlm");
    let err = RobertaForMaskedLM::from_pretrained(&bert, Device::Cpu).unwrap_err();
    let err = error_chain(&err);
    assert!(err.contains("model_type"), "{err}");
    assert!(
        err.contains(&bert.join("config.json").display().to_string()),
        "{err}"
    );
}

#[test]
fn config_errors_name_the_key() {
    let (_dir, path, mut json) = config_without("roberta-mlm", "hidden_size");
    let err = RobertaConfig::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("hidden_size"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");

    json["hidden_size"] = 32.into();
    for (key, value, says) in [
        ("pad_token_id", serde_json::Value::Null, "must be set"),
        ("pad_token_id", 63.into(), "max_position_embeddings"),
        ("is_decoder", true.into(), "bidirectional"),
        (
            "position_embedding_type",
            "relative_key".into(),
            "relative_key",
        ),
        ("tie_word_embeddings", false.into(), "untied"),
    ] {
        let mut variant = json.clone();
        variant[key] = value;
        std::fs::write(&path, variant.to_string()).unwrap();
        let err = RobertaConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(says), "{key}: {err}");
    }
}

/// A weights file whose shapes disagree with its config fails once, naming the file, the
/// variable and both shapes.
#[test]
fn weights_of_the_wrong_shape_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = read_json(&fixture("roberta-mlm/config.json"));
    json["intermediate_size"] = 36.into();
    std::fs::write(dir.path().join("config.json"), json.to_string()).unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::copy(fixture("roberta-mlm/model.safetensors"), &weights).unwrap();
    let err = RobertaForMaskedLM::from_pretrained(dir.path(), Device::Cpu).unwrap_err();
    let err = error_chain(&err);
    assert!(err.contains(&weights.display().to_string()), "{err}");
    assert!(err.contains("intermediate.dense"), "{err}");
    assert!(err.contains("[36]") && err.contains("[37]"), "{err}");
}

/// What transformers 5.24's `RobertaConfig` fills in for keys a hand-written file leaves out.
#[test]
fn config_defaults_are_transformers() {
    let text = r#"{"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 20}"#;
    let config =
        distil_core::nn::parse_config::<RobertaConfig>(text, Path::new("config.json")).unwrap();
    assert_eq!(config.pad_token_id, Some(1));
    assert_eq!(config.type_vocab_size, 2);
    assert_eq!(config.layer_norm_eps, 1e-12);
    assert_eq!(config.model_type, "roberta");
    assert_eq!(config.num_labels(), 2);
}

#[test]
fn config_round_trips_unknown_keys() {
    let text = std::fs::read_to_string(fixture("roberta-seqcls/config.json")).unwrap();
    let config: RobertaConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(config.num_labels(), 3);
    assert!(config.extra.contains_key("bos_token_id"));
    let again: serde_json::Value = serde_json::to_value(&config).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (key, value) in original.as_object().unwrap() {
        assert_eq!(&again[key], value, "key {key}");
    }
}

#[test]
fn fresh_models_have_hf_names_and_initialisation() {
    let config = RobertaConfig::from_file(&fixture("roberta-mlm")).unwrap();
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = RobertaForMaskedLM::build(vs.root(), &config);
    assert_hf_names(&vs, "roberta-mlm");
    let embeddings = &model.roberta.embeddings;
    for padding_row in [
        embeddings.words.word_embeddings.ws.get(1),
        embeddings.position_embeddings.ws.get(1),
    ] {
        assert_eq!(padding_row.abs().max().double_value(&[]), 0.0);
    }
    assert_eq!(model.lm_head.bias.abs().max().double_value(&[]), 0.0);

    for name in ["roberta-seqcls", "roberta-qa"] {
        let config = RobertaConfig::from_file(&fixture(name)).unwrap();
        let vs = tch::nn::VarStore::new(Device::Cpu);
        match name {
            "roberta-seqcls" => drop(RobertaForSequenceClassification::build(vs.root(), &config)),
            _ => drop(RobertaForQuestionAnswering::build(vs.root(), &config)),
        }
        assert_hf_names(&vs, name);
    }
}
