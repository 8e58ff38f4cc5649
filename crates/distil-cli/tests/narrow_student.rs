//! A student narrower than its teacher, distilled with the intermediate-layer terms as a user
//! runs it: a 2-layer, 16-wide student of `student.shape` from the 4-layer, 32-wide fixture
//! teacher with TinyBERT's hidden-state MSE (through learned projections), attention-map KL
//! and MiniLM v2's relations beside the soft targets and the MLM loss. Every enabled term
//! falls; a run killed with SIGKILL resumes bit for bit, projections included; the export
//! leaves the projections out and loads in `transformers` with distil's logits.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};

use common::{
    assert_loads_in_transformers, assert_losses_fall, checkpoint, distill, distill_ok,
    kill_after_checkpoint, metrics, shards, stderr,
};
use distil_core::checkpoint::read_tensors;
use distil_testkit::fixture;

const TERMS: [&str; 5] = [
    "losses/loss_ce",
    "losses/loss_mlm",
    "losses/loss_hidden_mse",
    "losses/loss_attention_kl",
    "losses/loss_attention_relations",
];

/// The fixture teacher, a `student.shape` student and every layer term, plus `extra` lines
/// (which continue the `training:` section).
fn narrow_config(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "teacher:\n  source: {teacher}\n\
         student:\n  init: config\n  freeze_position_embeddings: false\n\
         \x20 shape: {{n_layers: 2, dim: 16, n_heads: 4, hidden_dim: 32}}\n\
         loss:\n  alpha_ce: 1.0\n  alpha_mlm: 1.0\n  alpha_cos: 0.0\n\
         \x20 alpha_hidden_mse: 1.0\n  alpha_attention_kl: 1.0\n  alpha_attention_relations: 1.0\n\
         \x20 relation_heads: 4\n\
         data:\n  shards: {shards}\n  batch_size: 8\n  shuffle_buffer: 500\n\
         optimizer:\n  grad_accumulation: 1\n  learning_rate: 2.0e-3\n\
         output:\n  dir: {out}\n  keep_last: 2\n  log_interval: 1\n  checkpoint_interval: 20\n\
         training:\n  device: cpu\n{extra}",
        teacher = fixture("bert-mlm").display(),
        shards = shards(dir).display(),
        out = dir.join("runs").display(),
    );
    let path = dir.join("narrow.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_layer_term_falls_and_the_export_loads_in_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let config = narrow_config(dir.path(), "  max_steps: 120\n");
    distill_ok(&config, &["output.run_name=narrow"]);
    let run_dir = dir.path().join("runs/narrow");
    let logged = metrics(&run_dir);
    assert_eq!(logged.len(), 120);
    assert_losses_fall(&logged, &TERMS, 10);

    // The checkpoint keeps the projections (one per mapped hidden state: embeddings + 2
    // layers); the export leaves them out and is a 16-wide DistilBERT.
    let saved = read_tensors(&checkpoint(&run_dir, 120).join("model.safetensors")).unwrap();
    let projections: Vec<_> = saved
        .keys()
        .filter(|k| k.starts_with("distillation.hidden_projection."))
        .collect();
    assert_eq!(projections.len(), 6, "{projections:?}");
    assert_eq!(
        saved["distillation.hidden_projection.0.weight"].size(),
        [32, 16]
    );
    let student = run_dir.join("student");
    let exported = read_tensors(&student.join("model.safetensors")).unwrap();
    assert!(exported.keys().all(|k| !k.starts_with("distillation")));
    assert_eq!(
        exported["distilbert.embeddings.word_embeddings.weight"].size(),
        [1000, 16]
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        (config["dim"].as_i64(), config["n_layers"].as_i64()),
        (Some(16), Some(2))
    );

    assert_loads_in_transformers(&student);
}

#[test]
fn a_killed_run_resumes_bit_for_bit_with_its_projections() {
    let dir = tempfile::tempdir().unwrap();
    let config = narrow_config(dir.path(), "  max_steps: 40\n");
    distill_ok(&config, &["output.run_name=whole"]);
    let killed = kill_after_checkpoint(&config, &[], &dir.path().join("runs"), "killed", 20);
    let resumed = distill(&config, &["output.run_name=killed"])
        .arg("--resume")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "resume: {}", stderr(&resumed));

    let whole = metrics(&dir.path().join("runs/whole"));
    let after_kill = metrics(&killed);
    for step in 21..=40 {
        for key in TERMS.iter().chain(&["optim/grad_norm"]) {
            // serde_json prints the shortest exact decimal, so equal text is equal bits.
            assert_eq!(
                whole[&step][*key].to_string(),
                after_kill[&step][*key].to_string(),
                "step {step} {key}"
            );
        }
    }
    let final_checkpoint = |run: &str| {
        std::fs::read(checkpoint(&dir.path().join("runs").join(run), 40).join("model.safetensors"))
            .unwrap()
    };
    assert!(
        final_checkpoint("whole") == final_checkpoint("killed"),
        "final weights (projections included) differ"
    );
}

#[test]
fn a_head_count_mismatch_for_attention_kl_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = narrow_config(dir.path(), "  max_steps: 1\n");
    let output = distill(
        &config,
        &["student.shape.n_heads=2", "output.run_name=heads"],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("loss.alpha_attention_kl") && err.contains("2 heads"),
        "{err}"
    );
}

/// The shipped TinyBERT and MiniLM configs run as they are, scaled down to the fixture teacher:
/// only the teacher, the shards, the student's sizes and the run's length are overridden.
#[test]
fn the_shipped_narrow_configs_run_at_small_scale() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards(dir.path());
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/distill");
    for (name, shape) in [
        (
            "tinybert-4x312",
            "{n_layers: 2, dim: 16, n_heads: 4, hidden_dim: 24}",
        ),
        (
            "minilm-6x384",
            "{n_layers: 3, dim: 24, n_heads: 2, hidden_dim: 48}",
        ),
    ] {
        let config = configs.join(format!("{name}.yaml"));
        let sets = [
            format!("teacher.source={}", fixture("bert-mlm").display()),
            format!("data.shards={}", shards.display()),
            format!("student.shape={shape}"),
            "loss.relation_heads=4".to_string(),
            "data.batch_size=4".to_string(),
            "optimizer.grad_accumulation=2".to_string(),
            "optimizer.learning_rate=1.0e-3".to_string(),
            "training.max_steps=6".to_string(),
            "training.device=cpu".to_string(),
            "output.log_interval=1".to_string(),
            format!("output.dir={}", dir.path().join("runs").display()),
        ];
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        distill_ok(&config, &sets);
        let logged = metrics(&dir.path().join("runs").join(name));
        assert_eq!(logged.len(), 6, "{name}");
        let term = match name {
            "tinybert-4x312" => "losses/loss_attention_kl",
            _ => "losses/loss_attention_relations",
        };
        assert!(
            logged[&6][term].as_f64().unwrap().is_finite(),
            "{name}: {term}"
        );
    }
}
