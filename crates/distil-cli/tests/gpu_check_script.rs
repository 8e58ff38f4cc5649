//! scripts/gpu-check.sh with the CPU settings (tiny shapes, a few steps): every part but NCCL
//! runs (the torchrun job joins Gloo instead) and the report holds every figure, so a session
//! lent a GPU spends its minutes measuring rather than debugging the script. Skipped, saying
//! why, when the Python reference side (torch and transformers) is not installed.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;

use distil_testkit::{read_json, repo_path};
use serde_json::Value;

/// The Python of the torch virtualenv, when it has what the reference side imports.
fn reference_python() -> Option<PathBuf> {
    let python = std::env::var_os("DISTIL_VENV")
        .map(|venv| Path::new(&venv).join("bin").join("python"))
        .unwrap_or_else(|| PathBuf::from("python3"));
    for module in ["torch", "transformers"] {
        let found = Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!(
                "SKIPPED: {} cannot import {module}, which the script's reference side needs \
                 (install it into $DISTIL_VENV)",
                python.display()
            );
            return None;
        }
    }
    Some(python)
}

fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"))
}

#[test]
fn the_script_measures_every_part_on_the_cpu() {
    let Some(python) = reference_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Both precisions; the GPU's third run (bf16-autocast at 512) differs only in length.
    let runs = "bf16-autocast:32 fp32:16";
    let output = Command::new("bash")
        .arg(repo_path("scripts/gpu-check.sh"))
        .arg(env!("CARGO_BIN_EXE_distil"))
        .env("PYTHON", &python)
        .env("OUT", &out)
        .env("DEVICE", "cpu")
        .env(
            "SHAPES",
            "--teacher-layers 2 --student-layers 1 --hidden 32 --intermediate 64 --heads 2",
        )
        .env("STEP_RUNS", runs)
        .env("STEP_BATCH", "2")
        .env("STEP_STEPS", "2")
        .env("STEP_WARMUP", "1")
        .env("LOGIT_LINES", "3")
        .env("INFER_LIMIT", "4")
        .env("INFER_BATCHES", "1,2")
        .env("DISTILL_STEPS", "2")
        // Tiny tensors gain nothing from threads on a shared machine.
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "gpu-check.sh failed:\n{said}");

    let report = read_json(&out.join("gpu-check.json"));
    assert_eq!(report["ok"], true, "{said}");
    assert_eq!(report["device"], "cpu");
    let parts = report["parts"].as_object().unwrap();
    let mut names: Vec<&str> = parts.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "distill",
            "env",
            "infer",
            "logits",
            "reference-bf16-autocast-32",
            "reference-fp32-16",
            "step-bf16-autocast-32",
            "step-fp32-16"
        ]
    );
    let env = report["env"].as_str().unwrap();
    assert!(
        env.contains("libtorch") && env.contains("python torch"),
        "{env}"
    );

    let steps = report["step"].as_array().unwrap();
    let measured: Vec<(String, i64)> = steps
        .iter()
        .map(|s| {
            (
                s["precision"].as_str().unwrap().to_string(),
                s["seq_len"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        measured,
        [("bf16-autocast".to_string(), 32), ("fp32".to_string(), 16)]
    );
    for s in steps {
        assert_eq!(s["batch_size"], 2, "{s}");
        for key in ["distil_tokens_per_s", "reference_tokens_per_s", "ratio"] {
            assert!(number(&s[key], key) > 0.0, "{key}: {s}");
        }
    }

    for model in ["teacher", "student"] {
        let logits = &report["logits"][model];
        let diff = number(&logits["fp32"]["max_abs_diff"], "fp32 logits difference");
        assert!(diff <= 1e-4, "{model}: {logits}");
        assert_eq!(logits["fp32"]["ok"], true);
        assert_eq!(logits["lines"], 3);
        // bf16: `encode --dtype bf16` against transformers in bf16, bounded relative to the
        // logits' scale. On shapes this small the two can agree exactly, so that each side
        // really ran in bf16 shows in its distance to its own fp32 logits.
        let bf16 = &logits["bf16"];
        let diff = number(&bf16["max_abs_diff"], "bf16 logits difference");
        let scale = number(&bf16["logit_scale"], "bf16 logit scale");
        let rel = number(&bf16["max_rel_diff"], "bf16 relative difference");
        assert!(scale > 0.0, "{model}: {bf16}");
        assert!((rel - diff / scale).abs() <= 1e-9, "{model}: {bf16}");
        assert!(rel <= 2e-2, "{model}: {bf16}");
        assert_eq!(bf16["tolerance"], 2e-2);
        assert_eq!(bf16["ok"], true);
        for side in ["reference_bf16_vs_fp32_rel", "distil_bf16_vs_fp32_rel"] {
            assert!(number(&bf16[side], side) > 0.0, "{model}: {bf16}");
        }
    }

    let infer = report["infer"].as_array().unwrap();
    assert_eq!(infer.len(), 4, "two models at two batch sizes: {infer:?}");
    for r in infer {
        assert!(number(&r["pairs_per_s"], "pairs/s") > 0.0);
    }

    let distill = &report["distill"];
    assert_eq!(distill["backend"], "Gloo", "{distill}");
    assert_eq!(distill["world_size"], 1);
    assert_eq!(distill["steps"], 2);
    assert!(number(&distill["final_loss"], "final loss").is_finite());

    let table = std::fs::read_to_string(out.join("gpu-check.md")).unwrap();
    for row in [
        "| step bf16-autocast x 32",
        "| teacher logits fp32",
        "| teacher logits bf16",
        "| student logits fp32",
        "| student logits bf16",
        "| infer student batch 1",
        "| torchrun distill",
    ] {
        assert!(table.contains(row), "no `{row}` row in\n{table}");
    }
}
