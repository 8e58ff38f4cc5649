//! GPT-2 against `transformers` on the fixture of `scripts/make_gpt2_fixtures.py` (fp32, CPU),
//! and what loading checks: names, the tied head, OpenAI's key layout and clear errors.
#![allow(clippy::unwrap_used)] // tests may unwrap

use std::path::Path;

use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_core::{EncoderInput, LanguageModel};
use distil_gpt2::{Gpt2Config, Gpt2LMHeadModel, Gpt2Model};
use distil_testkit::hf_parity::{
    assert_encoder_close, assert_hf_names, check_model_type_errors, check_wrong_shape_error,
    config_without, expected, fixture_input, inputs_of, load_fixture, PARITY_TOL,
};
use distil_testkit::{assert_close, fixture, max_abs_diff};
use tch::{Device, Kind, Tensor};

const NAME: &str = "gpt2-lm";

fn load() -> Gpt2LMHeadModel {
    Gpt2LMHeadModel::from_pretrained(&fixture(NAME), Device::Cpu)
        .unwrap()
        .model
}

/// Every hidden state (the last after `ln_f`), the eager attentions and the logits.
#[test]
fn lm_matches_transformers_on_sdpa_and_eager_paths() {
    let loaded = load_fixture::<Gpt2LMHeadModel>(NAME);
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    let (batch, want) = (inputs_of(NAME), expected(NAME));
    let model = &loaded.model;
    for eager in [false, true] {
        let out = model.forward_t(&fixture_input(&batch, eager), false);
        assert_eq!(out.decoder.attentions.is_some(), eager);
        assert_eq!(out.decoder.hidden_states.len(), 4);
        assert_encoder_close(NAME, &out.decoder, &want, PARITY_TOL);
        assert_close("logits", &out.logits, &want["logits"], PARITY_TOL);
    }
    // The trait view computes the same logits from the last hidden state.
    let encoded = model.encode(&fixture_input(&batch, false), false);
    let logits = model.vocab_logits(encoded.last_hidden_state(), false);
    assert_close("trait logits", &logits, &want["logits"], PARITY_TOL);
    assert_eq!((model.hidden_size(), model.vocab_size()), (32, 500));
}

/// The base model takes the LM checkpoint's `transformer.` keys and gives the same states.
#[test]
fn base_model_loads_from_the_lm_checkpoint() {
    let loaded = Gpt2Model::from_pretrained(&fixture(NAME), Device::Cpu).unwrap();
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    let out = loaded
        .model
        .forward_t(&fixture_input(&inputs_of(NAME), true), false);
    assert_encoder_close("gpt2 base", &out, &expected(NAME), PARITY_TOL);
}

#[test]
fn lm_head_is_the_token_embedding_tensor() {
    let model = load();
    let wte = &model.transformer.wte.ws;
    assert_eq!(model.lm_head.data_ptr(), wte.data_ptr());
    tch::no_grad(|| {
        let _ = wte.get(7).fill_(0.5);
    });
    assert_eq!(model.lm_head.get(7).min().double_value(&[]), 0.5);
}

/// Other ids at padded positions, or no padding at all, change nothing at real positions.
#[test]
fn padding_does_not_change_real_positions() {
    let model = load();
    let batch = inputs_of(NAME);
    let (ids, mask) = (&batch["input_ids"], &batch["attention_mask"]);
    let reference = model.forward_t(&EncoderInput::new(ids, mask), false).logits;

    let scrambled = ids.where_self(&mask.ne(0), &Tensor::from(17i64));
    let changed = model
        .forward_t(&EncoderInput::new(&scrambled, mask), false)
        .logits;
    let real = mask.ne(0).unsqueeze(-1);
    let diff = max_abs_diff(&changed.multiply(&real), &reference.multiply(&real));
    assert!(diff < 1e-5, "padding leaked: {diff:e}");

    let row = 2;
    let length = mask.get(row).sum(Kind::Int64).int64_value(&[]);
    assert!(length < ids.size()[1], "row {row} must be padded");
    let alone = ids.get(row).narrow(0, 0, length).unsqueeze(0);
    let alone_logits = model
        .forward_t(&EncoderInput::new(&alone, &alone.ones_like()), false)
        .logits;
    let padded = reference.get(row).narrow(0, 0, length).unsqueeze(0);
    assert!(max_abs_diff(&alone_logits, &padded) < 1e-5);
}

/// OpenAI's files (gpt2, distilgpt2) have no `transformer.` prefix; some files hold the tied
/// `lm_head.weight`. Both load, with nothing unexpected.
#[test]
fn loads_unprefixed_keys_and_the_tied_head_key() {
    let file = fixture(&format!("{NAME}/model.safetensors"));
    let tensors = read_tensors(&file).unwrap();
    let mut openai: std::collections::BTreeMap<String, Tensor> = tensors
        .iter()
        .map(|(k, t)| (k.trim_start_matches("transformer.").to_string(), t.copy()))
        .collect();
    openai.insert(
        "lm_head.weight".into(),
        tensors["transformer.wte.weight"].copy(),
    );
    let config = Gpt2Config::from_file(&fixture(NAME)).unwrap();
    let loaded = Gpt2LMHeadModel::from_tensors(config, &openai, &file, Device::Cpu).unwrap();
    assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
    assert_eq!(loaded.report.ignored_tied, ["lm_head.weight"]);
    let out = loaded
        .model
        .forward_t(&fixture_input(&inputs_of(NAME), false), false);
    assert_close("logits", &out.logits, &expected(NAME)["logits"], PARITY_TOL);
}

#[test]
fn config_of_another_model_type_names_key_and_file() {
    check_model_type_errors::<Gpt2LMHeadModel>(NAME);
}

#[test]
fn unsupported_config_keys_are_named() {
    let (_dir, path, json) = config_without(NAME, "n_inner");
    for (key, value, says) in [
        ("n_head", 5.into(), "divide"),
        (
            "scale_attn_by_inverse_layer_idx",
            true.into(),
            "not supported",
        ),
        ("scale_attn_weights", false.into(), "not supported"),
        ("add_cross_attention", true.into(), "cross-attention"),
        ("tie_word_embeddings", false.into(), "untied"),
        ("activation_function", "swish".into(), "swish"),
    ] {
        let mut variant = json.clone();
        variant[key] = value;
        std::fs::write(&path, variant.to_string()).unwrap();
        let err = Gpt2Config::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(says), "{key}: {err}");
    }
}

/// A weights file whose shapes disagree with its config fails once, naming the file, the
/// variable and both shapes.
#[test]
fn weights_of_the_wrong_shape_name_file_and_key() {
    check_wrong_shape_error::<Gpt2LMHeadModel>(NAME, "n_inner", 36, &["mlp.c_fc", "36", "37"]);
}

/// What transformers 5.24's `GPT2Config()` fills in for an empty file: gpt2-small.
#[test]
fn config_defaults_are_transformers() {
    let config =
        distil_core::nn::parse_config::<Gpt2Config>("{}", Path::new("config.json")).unwrap();
    assert_eq!(
        (config.vocab_size, config.n_positions, config.n_embd),
        (50257, 1024, 768)
    );
    assert_eq!(
        (config.n_layer, config.n_head, config.inner_dim()),
        (12, 12, 3072)
    );
    assert_eq!(
        config.activation_function,
        distil_core::nn::Activation::GeluNew
    );
    assert_eq!(config.layer_norm_epsilon, 1e-5);
    assert_eq!(
        (config.bos_token_id, config.pad_token_id),
        (Some(50256), None)
    );
}

#[test]
fn config_round_trips_unknown_keys() {
    let text = std::fs::read_to_string(fixture(&format!("{NAME}/config.json"))).unwrap();
    let config: Gpt2Config = serde_json::from_str(&text).unwrap();
    assert!(config.extra.contains_key("summary_type"));
    let again = serde_json::to_value(&config).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (key, value) in original.as_object().unwrap() {
        assert_eq!(&again[key], value, "key {key}");
    }
}

/// A fresh model has HF's names and GPT-2's initialisation (the residual projections scaled
/// by `1 / sqrt(2 * n_layer)`).
#[test]
fn fresh_model_has_hf_names_and_initialisation() {
    tch::manual_seed(0);
    let mut config = Gpt2Config::from_file(&fixture(NAME)).unwrap();
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = Gpt2LMHeadModel::build(vs.root(), &config);
    assert_hf_names(&vs, NAME);
    let block = &model.transformer.h[0];
    assert_eq!(block.attn.c_attn.bias.abs().max().double_value(&[]), 0.0);
    let std = |t: &Tensor| t.std(true).double_value(&[]);
    let ratio = std(&block.mlp.c_fc.weight) / std(&block.mlp.c_proj.weight);
    assert!((ratio - 6f64.sqrt()).abs() < 0.5, "{ratio}");

    config.n_layer = 1;
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let _ = Gpt2LMHeadModel::build(vs.root(), &config);
    assert!(!vs.variables().contains_key("transformer.h.1.ln_1.weight"));
}
