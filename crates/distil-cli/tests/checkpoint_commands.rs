//! `distil export` and `distil inspect` run as a user runs them, on the committed fixtures.

use std::path::Path;
use std::process::{Command, Output};

use distil_core::checkpoint::read_tensors;
use distil_testkit::fixture;
use tch::Tensor;

fn distil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distil"))
        .args(args)
        .output()
        .expect("the distil binary runs")
}

/// Runs distil and checks that it succeeded.
fn distil_ok(args: &[&str]) -> Output {
    let run = distil(args);
    assert!(
        run.status.success(),
        "distil {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn export_turns_a_legacy_checkpoint_into_the_transformers_layout() {
    let source = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let original = read_tensors(&fixture("bert-mlm/model.safetensors")).unwrap();
    // The same weights as old BERT files name them: gamma/beta, both tied decoder keys,
    // no `cls.predictions.bias`, and the position_ids buffer.
    let mut legacy: Vec<(String, Tensor)> = Vec::new();
    for (key, tensor) in &original {
        let key = key
            .replace("LayerNorm.weight", "LayerNorm.gamma")
            .replace("LayerNorm.bias", "LayerNorm.beta")
            .replace("cls.predictions.bias", "cls.predictions.decoder.bias");
        legacy.push((key, tensor.copy()));
    }
    legacy.push((
        "cls.predictions.decoder.weight".into(),
        original["bert.embeddings.word_embeddings.weight"].copy(),
    ));
    legacy.push((
        "bert.embeddings.position_ids".into(),
        Tensor::arange(64, (tch::Kind::Int64, tch::Device::Cpu)).unsqueeze(0),
    ));
    Tensor::write_safetensors(&legacy, source.path().join("model.safetensors")).unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("bert-mlm").join(file), source.path().join(file)).unwrap();
    }

    distil_ok(&[
        "export",
        "--model",
        arg(source.path()),
        "--out",
        arg(out.path()),
    ]);
    let exported = read_tensors(&out.path().join("model.safetensors")).unwrap();
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        original.keys().collect::<Vec<_>>()
    );
    for (key, tensor) in &original {
        assert!(exported[key].equal(tensor), "{key}");
    }
    for file in ["config.json", "tokenizer.json"] {
        assert_eq!(
            std::fs::read(out.path().join(file)).unwrap(),
            std::fs::read(source.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn export_casts_to_the_requested_dtype() {
    let out = tempfile::tempdir().unwrap();
    let model = fixture("distilbert-mlm");
    distil_ok(&[
        "export",
        "--model",
        arg(&model),
        "--out",
        arg(out.path()),
        "--dtype",
        "bf16",
    ]);
    let exported = read_tensors(&out.path().join("model.safetensors")).unwrap();
    let original = read_tensors(&model.join("model.safetensors")).unwrap();
    for (key, tensor) in &original {
        assert!(
            exported[key].equal(&tensor.to_kind(tch::Kind::BFloat16)),
            "{key}"
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["dtype"], "bfloat16");
    assert_eq!(config["architectures"][0], "DistilBertForMaskedLM");
}

#[test]
fn inspect_counts_parameters_with_and_without_tied_duplicates() {
    let run = distil_ok(&[
        "inspect",
        "--json",
        arg(&fixture("bert-mlm/pytorch_model.bin")),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let tensors = report["tensors"].as_array().unwrap();
    let total: i64 = tensors.iter().map(|t| t["numel"].as_i64().unwrap()).sum();
    assert_eq!(report["parameters"].as_i64(), Some(total));
    // The decoder weight [1000, 32] and bias [1000] repeat the embeddings and MLM bias.
    assert_eq!(
        report["parameters"].as_i64().unwrap()
            - report["parameters_without_tied"].as_i64().unwrap(),
        1000 * 32 + 1000
    );
    let decoder = tensors
        .iter()
        .find(|t| t["name"] == "cls.predictions.decoder.weight")
        .unwrap();
    assert_eq!(decoder["shape"], serde_json::json!([1000, 32]));
    assert_eq!(decoder["dtype"], "f32");
}

#[test]
fn a_directory_without_weights_fails_with_what_was_looked_for() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("config.json"), "{}").unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = distil(&[
        "export",
        "--model",
        arg(empty.path()),
        "--out",
        arg(out.path()),
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("pytorch_model.bin"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn export_refuses_a_config_whose_sizes_disagree_with_the_weights() {
    let source = tempfile::tempdir().unwrap();
    let fixture_dir = fixture("distilbert-mlm");
    std::fs::copy(
        fixture_dir.join("model.safetensors"),
        source.path().join("model.safetensors"),
    )
    .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_dir.join("config.json")).unwrap()).unwrap();
    let dim = config["dim"].as_i64().unwrap();
    let vocab = config["vocab_size"].as_i64().unwrap();
    config["dim"] = (2 * dim).into();
    std::fs::write(
        source.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let written = out.path().join("exported");

    let run = distil(&[
        "export",
        "--model",
        arg(source.path()),
        "--out",
        arg(&written),
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let expected = format!(
        "says `dim` = {}, so `distilbert.embeddings.word_embeddings.weight` should be \
         [{vocab}, {}], but the checkpoint has [{vocab}, {dim}]",
        2 * dim,
        2 * dim
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!written.exists(), "nothing written");
}
