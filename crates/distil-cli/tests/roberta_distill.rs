//! `distil distill` on the RoBERTa family as a user runs it: the shipped tiny config with the
//! fixture RoBERTa teacher and a 2-layer DistilRoBERTa from its layers 0 and 2, on shards that
//! `distil prep` writes with the fixture's byte-level BPE. Every loss falls; a run killed with
//! SIGKILL resumes bit for bit; the student loads in `transformers` (AutoModelForMaskedLM) with
//! distil's logits.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::Path;

use common::{
    assert_killed_run_resumes_bit_for_bit, assert_loads_in_transformers, assert_losses_fall,
    distill_ok, fixture_sets, metrics, shards_of_lines, shipped_config,
};
use distil_core::checkpoint::read_tensors;
use distil_testkit::fixture;

fn config() -> std::path::PathBuf {
    shipped_config("tiny-roberta-cpu.yaml")
}

/// The shipped config's overrides: shards, output folder, the fixture teacher, and `extra`.
fn sets(dir: &Path, shards: &Path, extra: &[&str]) -> Vec<String> {
    fixture_sets(dir, shards, "roberta-mlm", extra)
}

#[test]
fn the_tiny_roberta_config_distils_and_exports_a_distilroberta() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards_of_lines(dir.path(), "shards", 0..1200, &fixture("roberta-mlm"));
    let sets = sets(dir.path(), &shards, &["output.log_interval=1"]);
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    distill_ok(&config(), &sets);
    let run_dir = dir.path().join("runs/tiny-roberta-cpu");
    let logged = metrics(&run_dir);
    assert_eq!(logged.len(), 150);
    assert_losses_fall(
        &logged,
        &[
            "losses/loss_ce",
            "losses/loss_mlm",
            "losses/loss_cos",
            "losses/loss",
        ],
        10,
    );
    let student = run_dir.join("student");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model_type"], "roberta");
    assert_eq!(config["num_hidden_layers"], 2);
    // The position table stayed the teacher's (frozen); layer 1 started as teacher layer 2.
    let exported = read_tensors(&student.join("model.safetensors")).unwrap();
    let teacher = read_tensors(&fixture("roberta-mlm").join("model.safetensors")).unwrap();
    let key = "roberta.embeddings.position_embeddings.weight";
    assert!(exported[key].equal(&teacher[key]), "{key} moved");

    assert_loads_in_transformers(&student);
}

#[test]
fn a_killed_roberta_run_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards_of_lines(dir.path(), "shards", 0..600, &fixture("roberta-mlm"));
    let sets = sets(
        dir.path(),
        &shards,
        &[
            "training.max_steps=40",
            "output.log_interval=1",
            "output.checkpoint_interval=20",
        ],
    );
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    assert_killed_run_resumes_bit_for_bit(
        &config(),
        &sets,
        &dir.path().join("runs"),
        20,
        40,
        &[
            "losses/loss_ce",
            "losses/loss_mlm",
            "losses/loss_cos",
            "optim/grad_norm",
        ],
    );
}
