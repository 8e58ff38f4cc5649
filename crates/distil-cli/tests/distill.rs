//! `distil distill` run as a user runs it: the tiny fixture BERT teacher, a 2-layer student and
//! shards prepared here from a slice of the shipped corpus. Training lowers every loss; a run
//! killed with SIGKILL and resumed logs bit-for-bit the losses of an uninterrupted run; Ctrl-C
//! checkpoints and exits 0; a NaN loss stops the run and keeps the last checkpoint; bad configs
//! are one-line errors naming the key.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{
    assert_killed_run_resumes_bit_for_bit, assert_losses_fall, checkpoint, config, distill,
    distill_ok, kill_after_checkpoint, metrics, resume_fails, shards, stderr, wait_for,
};
use distil_testkit::fixture;
use tch::Tensor;

#[test]
fn a_tiny_cpu_run_lowers_every_loss_and_saves_an_hf_student() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards(dir.path());
    let config = config(
        dir.path(),
        &shards,
        "  run_name: lower\n  log_interval: 10\n  checkpoint_interval: 100\n\
         optimizer:\n  grad_accumulation: 1\n  learning_rate: 1.0e-3\n\
         training:\n  device: cpu\n  max_steps: 200\n",
    );
    distill_ok(&config, &[]);
    let run_dir = dir.path().join("runs/lower");
    let logged = metrics(&run_dir);
    assert_eq!(logged.len(), 20);
    assert_losses_fall(
        &logged,
        &[
            "losses/loss_ce",
            "losses/loss_mlm",
            "losses/loss_cos",
            "losses/loss",
        ],
        3,
    );
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(run_dir.join("student").join(file).is_file(), "{file}");
    }
    assert!(run_dir.join("config.yaml").is_file());
    assert!(
        std::fs::read_dir(run_dir.join("tensorboard"))
            .unwrap()
            .count()
            > 0
    );
    assert!(checkpoint(&run_dir, 200)
        .join("optimizer.safetensors")
        .is_file());
}

/// A 30-step run checkpointed at step 15, to be killed there: accumulation 2 and dropout on,
/// the schedule and data cross the kill point.
fn resumable_config(dir: &Path) -> PathBuf {
    let shards = shards(dir);
    config(
        dir,
        &shards,
        "  log_interval: 1\n  checkpoint_interval: 15\n\
         optimizer:\n  grad_accumulation: 2\n  learning_rate: 1.0e-3\n\
         training:\n  device: cpu\n  max_steps: 30\n",
    )
}

#[test]
fn a_killed_and_resumed_run_matches_the_uninterrupted_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let config = resumable_config(dir.path());
    distill_ok(&config, &["output.run_name=whole"]);

    let killed = kill_after_checkpoint(&config, &[], &dir.path().join("runs"), "killed", 15);
    // A checkpoint write cut short by the kill: its folder is ignored and removed.
    let torn = killed.join("checkpoints/.partial-step-000000030");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::write(torn.join("model.safetensors"), b"trunc").unwrap();

    let resumed = distill(&config, &["output.run_name=killed"])
        .arg("--resume")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "resume: {}", stderr(&resumed));
    assert!(!torn.exists());

    let whole = metrics(&dir.path().join("runs/whole"));
    let after_kill = metrics(&killed);
    assert_eq!(
        after_kill.keys().copied().collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    for step in 16..=30 {
        for key in whole[&step].keys().filter(|k| {
            k.starts_with("losses/") || *k == "optim/grad_norm" || *k == "learning_rate/lr"
        }) {
            // serde_json prints the shortest exact decimal, so equal text is equal bits.
            assert_eq!(
                whole[&step][key].to_string(),
                after_kill[&step][key].to_string(),
                "step {step} {key}"
            );
        }
    }
    let weights = |run: &str| {
        std::fs::read(
            dir.path()
                .join("runs")
                .join(run)
                .join("student/model.safetensors"),
        )
        .unwrap()
    };
    assert!(
        weights("whole") == weights("killed"),
        "final students differ"
    );
}

/// The pooled-embedding term, set on the command line: logged, falling, saved in the run's
/// config, and a killed run resumes bit for bit.
#[test]
fn the_pooled_term_is_logged_falls_and_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let config = resumable_config(dir.path());
    let runs = dir.path().join("runs");
    assert_killed_run_resumes_bit_for_bit(
        &config,
        &["loss.alpha_pooled=1.0", "loss.pooled_distance=cosine"],
        &runs,
        15,
        30,
        &["losses/loss_pooled", "losses/loss", "optim/grad_norm"],
    );
    let logged = metrics(&runs.join("whole"));
    assert_losses_fall(&logged, &["losses/loss_pooled"], 5);
    let saved = std::fs::read_to_string(runs.join("whole/config.yaml")).unwrap();
    assert!(
        saved.contains("alpha_pooled: 1.0") && saved.contains("pooled_distance: cosine"),
        "{saved}"
    );
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards(dir.path());
    let config = config(
        dir.path(),
        &shards,
        "  run_name: stop\n  log_interval: 1\n  checkpoint_interval: 100000\n\
         training:\n  device: cpu\n  max_steps: 100000\n",
    );
    let mut child = distill(&config, &[])
        .arg("--set")
        .arg("optimizer.grad_accumulation=1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let run_dir = dir.path().join("runs/stop");
    wait_for(&mut child, &run_dir.join("metrics.jsonl"));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("interrupted") && said.contains("--resume"),
        "{said}"
    );
    let last = *metrics(&run_dir).keys().last().unwrap();
    assert!(checkpoint(&run_dir, last)
        .join("trainer_state.json")
        .is_file());
}

#[test]
fn a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards(dir.path());
    let config = config(
        dir.path(),
        &shards,
        "  run_name: nan\n  log_interval: 1\n  checkpoint_interval: 4\n\
         optimizer:\n  grad_accumulation: 1\n\
         training:\n  device: cpu\n  max_steps: 8\n",
    );
    distill_ok(&config, &["training.max_steps=4"]);
    let run_dir = dir.path().join("runs/nan");
    let good = checkpoint(&run_dir, 4);
    let before = std::fs::read(good.join("model.safetensors")).unwrap();

    // A copy of the teacher with one NaN weight in its last layer.
    let poisoned = dir.path().join("poisoned");
    std::fs::create_dir_all(&poisoned).unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture("bert-mlm").join(file), poisoned.join(file)).unwrap();
    }
    let mut tensors = Tensor::read_safetensors(fixture("bert-mlm/model.safetensors")).unwrap();
    for (name, tensor) in &mut tensors {
        if name == "bert.encoder.layer.3.output.dense.weight" {
            let _ = tensor.get(0).get(0).fill_(f64::NAN);
        }
    }
    Tensor::write_safetensors(&tensors, poisoned.join("model.safetensors")).unwrap();

    let teacher = format!("teacher.source={}", poisoned.display());
    let message = resume_fails(&config, &[&teacher]);
    assert!(
        message.contains("`losses/loss_ce` is NaN at optimizer step 5")
            && message.contains("last checkpoint is intact"),
        "{message}"
    );
    assert!(!checkpoint(&run_dir, 5).exists());
    assert_eq!(
        std::fs::read(good.join("model.safetensors")).unwrap(),
        before
    );
}

#[test]
fn bad_configs_are_one_line_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards(dir.path());
    let config = config(
        dir.path(),
        &shards,
        "  run_name: bad\ntraining:\n  device: cpu\n",
    );
    let one_line_naming = |output: Output, key: &str| {
        assert!(!output.status.success());
        let message = stderr(&output);
        assert_eq!(message.trim_end().lines().count(), 1, "{message}");
        assert!(message.contains(&format!("`{key}`")), "{message}");
    };

    let typo = dir.path().join("typo.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&typo, text.replace("teacher_layers:", "teacher_layer:")).unwrap();
    one_line_naming(
        distill(&typo, &[]).output().unwrap(),
        "student.teacher_layer",
    );

    let output = distill(&config, &["optimizer.grad_accumulation=many"]).output();
    one_line_naming(output.unwrap(), "optimizer.grad_accumulation");

    let student = dir.path().join("student.json");
    let student_config = std::fs::read_to_string(fixture("distilbert-mlm/config.json"));
    let student_config = student_config
        .unwrap()
        .replace("\"vocab_size\": 1000", "\"vocab_size\": 999");
    std::fs::write(&student, student_config).unwrap();
    let init = format!("student.config={}", student.display());
    let output = distill(&config, &["student.init=config", &init]).output();
    one_line_naming(output.unwrap(), "student.vocab_size");

    let output = distill(&config, &["training.precision=fp16"]).output();
    one_line_naming(output.unwrap(), "training.precision");
}
