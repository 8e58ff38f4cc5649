//! `distil fit-head` and encoder-only teachers, run as a user runs them, with shards of one
//! slice of a book for fitting and of another for scoring. On the real all-MiniLM-L6-v2 (a bare
//! `BertModel`) the fitted head beats the unigram baseline and the saved folder is a masked LM
//! with the encoder untouched, which then distils with soft targets. With the tiny fixture BERT
//! saved without its head: a head that learnt nothing is an error, and the bare encoder is
//! refused as a soft-target teacher.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};

use common::{config, distill, distill_ok, run, shards, shards_of_lines, stderr};
use distil_core::checkpoint::read_tensors;
use distil_testkit::hf_parity::required_env_dir;
use distil_testkit::{encoder_only_teacher, fixture, read_json};

/// A fit-head config for `teacher` on the two shard folders, writing under `dir/runs`.
fn fit_config(dir: &Path, teacher: &Path, train: &Path, held_out: &Path) -> PathBuf {
    let text = format!(
        "teacher: {teacher}\n\
         data:\n  shards: {train}\n  batch_size: 16\n  shuffle_buffer: 500\n\
         eval:\n  shards: {held_out}\n  batches: 8\n\
         training:\n  steps: 80\n  learning_rate: 1.0e-2\n  device: cpu\n\
         output:\n  dir: {out}\n  log_interval: 20\n",
        teacher = teacher.display(),
        train = train.display(),
        held_out = held_out.display(),
        out = dir.join("runs").display(),
    );
    let path = dir.join("fit.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn fit_head(config: &Path, sets: &[&str]) -> std::process::Output {
    let mut args = vec!["fit-head", "--config", config.to_str().unwrap()];
    for set in sets {
        args.extend(["--set", set]);
    }
    run(&args)
}

#[test]
fn a_fitted_head_beats_the_unigram_and_the_teacher_then_gives_soft_targets() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = required_env_dir("DISTIL_MINILM_DIR");
    let train = shards_of_lines(dir.path(), "shards", 0..1200, &encoder);
    let held_out = shards_of_lines(dir.path(), "held-out", 1200..1800, &encoder);
    let fit = fit_config(dir.path(), &encoder, &train, &held_out);
    let output = fit_head(&fit, &[]);
    assert!(output.status.success(), "fit-head: {}", stderr(&output));

    let run_dir = dir.path().join("runs/fit-head");
    let results = read_json(&run_dir.join("results.json"));
    let (head, unigram) = (
        &results["held_out"]["head"],
        &results["held_out"]["unigram"],
    );
    assert_eq!(head["targets"], unigram["targets"]);
    assert!(head["targets"].as_i64().unwrap() > 100, "{results}");
    assert!(
        head["loss"].as_f64().unwrap() < unigram["loss"].as_f64().unwrap(),
        "{results}"
    );
    assert!(run_dir.join("metrics.jsonl").is_file() && run_dir.join("config.yaml").is_file());

    // A masked LM whose encoder is the source's, tensor for tensor, plus a head.
    let teacher = run_dir.join("teacher");
    let config_json = read_json(&teacher.join("config.json"));
    assert_eq!(config_json["architectures"][0], "BertForMaskedLM");
    assert!(teacher.join("tokenizer.json").is_file());
    let source = read_tensors(&encoder.join("model.safetensors")).unwrap();
    let fitted = read_tensors(&teacher.join("model.safetensors")).unwrap();
    // The pooler is the base model's, not a masked LM's.
    for (name, tensor) in source
        .iter()
        .filter(|(n, _)| !n.starts_with("pooler.") && !n.ends_with("position_ids"))
    {
        let saved = &fitted[&format!("bert.{name}")];
        assert!(saved.equal(tensor), "{name} changed");
    }
    for head_key in [
        "cls.predictions.bias",
        "cls.predictions.transform.dense.weight",
        "cls.predictions.transform.LayerNorm.weight",
    ] {
        assert!(fitted.contains_key(head_key), "{head_key}");
    }

    // The fitted teacher distils with the soft-target loss.
    let distill_config = config(
        dir.path(),
        &train,
        "  run_name: soft\n  log_interval: 5\n  checkpoint_interval: 100\n\
         optimizer:\n  grad_accumulation: 1\n\
         training:\n  device: cpu\n  max_steps: 10\n",
    );
    distill_ok(
        &distill_config,
        &[&format!("teacher.source={}", teacher.display())],
    );
    assert!(dir
        .path()
        .join("runs/soft/student/model.safetensors")
        .is_file());
}

#[test]
fn a_head_no_better_than_the_unigram_is_an_error_and_saves_no_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = encoder_only_teacher(&dir.path().join("encoder"));
    let train = shards(dir.path());
    let held_out = shards_of_lines(dir.path(), "held-out", 1200..1800, &fixture("bert-mlm"));
    let config = fit_config(dir.path(), &encoder, &train, &held_out);
    // One step at a negligible rate: the head is its random transform over the unigram bias.
    let output = fit_head(
        &config,
        &["training.steps=1", "training.learning_rate=1.0e-12"],
    );
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("no better than the unigram baseline"),
        "{said}"
    );
    let run_dir = dir.path().join("runs/fit-head");
    assert!(run_dir.join("results.json").is_file());
    assert!(!run_dir.join("teacher").exists());
}

#[test]
fn a_bare_encoder_is_refused_for_soft_targets_and_distils_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = encoder_only_teacher(&dir.path().join("encoder"));
    let train = shards(dir.path());
    let config = config(
        dir.path(),
        &train,
        "  log_interval: 5\n  checkpoint_interval: 100\n\
         optimizer:\n  grad_accumulation: 1\n\
         training:\n  device: cpu\n  max_steps: 10\n",
    );
    let teacher = format!("teacher.source={}", encoder.display());
    let output = distill(&config, &[&teacher, "output.run_name=refused"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("teacher.source")
            && said.contains("no MLM head")
            && said.contains("fit-head"),
        "{said}"
    );
    // Cosine and MLM terms need no teacher logits.
    distill_ok(
        &config,
        &[&teacher, "output.run_name=cos", "loss.alpha_ce=0"],
    );
    assert!(dir
        .path()
        .join("runs/cos/student/model.safetensors")
        .is_file());
}
