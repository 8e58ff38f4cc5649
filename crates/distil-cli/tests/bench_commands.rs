//! `distil bench infer` and `distil bench step` at tiny shapes: what they write is consistent
//! (counts, rates, the FLOP formula, the files the Python reference reads). No timing is
//! checked.
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use std::path::Path;
use std::process::Command;

use distil_testkit::{read_json, repo_path};
use serde_json::Value;

const TINY: [&str; 12] = [
    "--teacher-layers",
    "2",
    "--student-layers",
    "1",
    "--hidden",
    "32",
    "--intermediate",
    "64",
    "--heads",
    "2",
    "--vocab",
    "30522",
];

fn distil_json(args: &[&str], dir: &Path) -> Value {
    let out = dir.join("distil.json");
    let run = Command::new(env!("CARGO_BIN_EXE_distil"))
        .current_dir(repo_path(""))
        .args(["-q", "--device", "cpu", "bench"])
        .args(args)
        .args(TINY)
        .arg("--save-inputs")
        .arg(dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the distil binary runs");
    assert!(
        run.status.success(),
        "distil bench {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    read_json(&out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn infer_reports_every_pair_and_the_speedup_of_its_own_rates() {
    let dir = tempfile::tempdir().unwrap();
    let report = distil_json(
        &[
            "infer",
            "--limit",
            "7",
            "--batch-sizes",
            "1,4",
            "--warmup",
            "1",
        ],
        dir.path(),
    );
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        assert_eq!(run["pairs"], 7);
        let (seconds, rate) = (
            run["seconds"].as_f64().unwrap(),
            run["pairs_per_s"].as_f64().unwrap(),
        );
        assert!(close(rate * seconds, 7.0), "{run}");
    }
    for (i, speedup) in report["speedups"].as_array().unwrap().iter().enumerate() {
        let (teacher, student) = (&runs[2 * i], &runs[2 * i + 1]);
        assert_eq!(
            (teacher["model"].as_str(), student["model"].as_str()),
            (Some("teacher"), Some("student"))
        );
        assert_eq!(speedup[0], teacher["batch_size"]);
        let ratio =
            student["pairs_per_s"].as_f64().unwrap() / teacher["pairs_per_s"].as_f64().unwrap();
        assert!(close(speedup[1].as_f64().unwrap(), ratio));
    }
    let pairs = read_json(&dir.path().join("pairs.json"));
    assert_eq!(pairs["input_ids"].as_array().unwrap().len(), 7);
    assert_eq!(pairs["pad_id"], 0);
    for model in ["teacher", "student"] {
        assert!(dir.path().join(model).join("model.safetensors").is_file());
    }
}

#[test]
fn step_counts_tokens_and_flops_by_the_documented_formula() {
    let dir = tempfile::tempdir().unwrap();
    let report = distil_json(
        &[
            "step",
            "--batch-size",
            "2",
            "--seq-len",
            "8",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--precisions",
            "fp32",
            "--peak-tflops",
            "1",
        ],
        dir.path(),
    );
    let run = &report["runs"][0];
    assert_eq!(run["tokens"], 2 * 2 * 8);
    let (n, h, i, v) = (8.0, 32.0, 64.0, 30522.0);
    let layer = 2.0 * n * (4.0 * h * h + 2.0 * h * i) + 4.0 * n * n * h;
    let head = 2.0 * n * (h * h + h * v);
    let per_sequence = (2.0 * layer + head) + 3.0 * (layer + head);
    assert!(close(
        run["model_flops"].as_f64().unwrap(),
        4.0 * per_sequence
    ));
    let seconds = run["seconds"].as_f64().unwrap();
    assert!(close(run["tokens_per_s"].as_f64().unwrap() * seconds, 32.0));
    let tflops = run["tflops_per_s"].as_f64().unwrap();
    assert!(close(tflops, 4.0 * per_sequence / seconds / 1e12));
    assert!(close(run["mfu"].as_f64().unwrap(), tflops));
    let terms: Vec<&str> = run["first_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_str().unwrap())
        .collect();
    assert_eq!(terms, ["loss_ce", "loss_mlm", "loss_cos", "loss"]);
    let batches = tch::Tensor::read_safetensors(dir.path().join("batches.safetensors")).unwrap();
    assert_eq!(
        batches.len(),
        3 * 3,
        "input ids, mask and labels of 3 batches"
    );
}

/// A narrower student: its own widths in the FLOP count, the projected hidden-state MSE in
/// place of the cosine term, and its shape in the JSON.
#[test]
fn step_takes_a_narrow_students_shape() {
    let dir = tempfile::tempdir().unwrap();
    let report = distil_json(
        &[
            "step",
            "--batch-size",
            "2",
            "--seq-len",
            "8",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--precisions",
            "fp32",
            "--student-hidden",
            "16",
            "--student-intermediate",
            "24",
        ],
        dir.path(),
    );
    let run = &report["runs"][0];
    let (n, v) = (8.0, 30522.0);
    let layer = |h: f64, i: f64| 2.0 * n * (4.0 * h * h + 2.0 * h * i) + 4.0 * n * n * h;
    let head = |h: f64| 2.0 * n * (h * h + h * v);
    let per_sequence =
        (2.0 * layer(32.0, 64.0) + head(32.0)) + 3.0 * (layer(16.0, 24.0) + head(16.0));
    assert!(close(
        run["model_flops"].as_f64().unwrap(),
        2.0 * per_sequence
    ));
    let terms: Vec<&str> = run["first_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_str().unwrap())
        .collect();
    assert_eq!(terms, ["loss_ce", "loss_mlm", "loss_hidden_mse", "loss"]);
    assert_eq!(report["shapes"]["student_hidden"], 16);
    let student: Value = read_json(&dir.path().join("student/config.json"));
    assert_eq!(
        (student["dim"].as_i64(), student["hidden_dim"].as_i64()),
        (Some(16), Some(24))
    );
}
