//! `distil eval sts|probe` end to end on the tiny fixture models: the JSON they write (its
//! numbers those of `scripts/make_representation_fixtures.py` for the fixture BERT), every
//! model family, identical reruns, and the one-line errors naming the file or task at fault.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run, stderr};
use distil_testkit::{fixture_arg, read_json, repo_path};

fn data(name: &str) -> PathBuf {
    repo_path("crates/distil-tasks/tests/data/representation").join(name)
}

fn eval(subcommand: &str, model: &str, options: &[&str]) -> Output {
    let mut args = vec!["--device", "cpu", "eval", subcommand, "--model", model];
    args.extend(options);
    run(&args)
}

fn sts(model: &str, data: &Path, out: &Path) -> Output {
    let options = [
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    eval("sts", model, &options)
}

/// The error a failed run printed: exactly one line, which must mention `what`.
fn one_line_error(output: &Output, what: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    let said = stderr(output);
    assert_eq!(said.trim_end().lines().count(), 1, "{said}");
    assert!(said.starts_with("error: ") && said.contains(what), "{said}");
}

#[test]
fn sts_writes_the_transformers_scores() {
    let want = read_json(&data("sts.json"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sts.json");
    let output = sts(&fixture_arg("bert-mlm"), &data("STS-B/dev.tsv"), &out);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Spearman"));
    let got = read_json(&out);
    for key in ["model", "data", "pooling", "pairs", "spearman", "pearson"] {
        assert!(got.get(key).is_some(), "{key} missing: {got}");
    }
    assert_eq!(got["pooling"], "mean");
    assert_eq!(got["pairs"], want["pairs"]);
    for key in ["spearman", "pearson"] {
        let (g, w) = (
            got[key].as_f64().unwrap(),
            want["mean"][key].as_f64().unwrap(),
        );
        assert!((g - w).abs() < 1e-4, "{key}: {g} vs {w}");
    }
}

#[test]
fn probe_writes_the_sklearn_accuracy() {
    let want = &read_json(&data("probe.json"))["cases"][0];
    assert_eq!(want["task"], "sst-2");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.json");
    let train = want["train_examples"].to_string();
    let glue = data("glue");
    let options = [
        "--task",
        "sst-2",
        "--glue-dir",
        glue.to_str().unwrap(),
        "--train-examples",
        &train,
        "--out",
        out.to_str().unwrap(),
    ];
    let output = eval("probe", &fixture_arg("bert-mlm"), &options);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("dev accuracy 62.00%"));
    let got = read_json(&out);
    for key in [
        "model",
        "task",
        "pooling",
        "train_examples",
        "dev_examples",
        "accuracy",
        "l2",
        "iterations",
        "converged",
    ] {
        assert!(got.get(key).is_some(), "{key} missing: {got}");
    }
    assert_eq!(got["task"], "sst-2");
    assert_eq!(got["train_examples"], want["train_examples"]);
    assert_eq!(got["dev_examples"], want["dev_examples"]);
    assert_eq!(got["accuracy"], want["accuracy"]);
    assert_eq!(got["converged"], true);
}

/// Every family `distil` loads embeds through the same path: DistilBERT (no segment ids),
/// RoBERTa (`<s>`, position ids past the padding index) and GPT-2 (no pad token of its own).
/// Two runs write the same bytes.
#[test]
fn every_family_scores_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["distilbert-mlm", "roberta-mlm", "gpt2-lm", "bert-mlm"] {
        let mut written = Vec::new();
        for run in 0..2 {
            let out = dir.path().join(format!("{model}-{run}.json"));
            let output = sts(&fixture_arg(model), &data("STS-B/dev.tsv"), &out);
            assert!(output.status.success(), "{model}: {}", stderr(&output));
            written.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(written[0], written[1], "{model}: reruns differ");
        let got: serde_json::Value = serde_json::from_slice(&written[0]).unwrap();
        assert!(
            got["spearman"].as_f64().unwrap().is_finite(),
            "{model}: {got}"
        );
    }
}

#[test]
fn a_missing_file_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-sts.tsv");
    let output = sts(
        &fixture_arg("bert-mlm"),
        &missing,
        &dir.path().join("o.json"),
    );
    one_line_error(&output, "no-such-sts.tsv");
    assert!(!dir.path().join("o.json").exists());
}

#[test]
fn an_empty_tsv_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-sts.tsv");
    let header =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    std::fs::write(&empty, header).unwrap();
    let output = sts(&fixture_arg("bert-mlm"), &empty, &dir.path().join("o.json"));
    one_line_error(&output, "empty-sts.tsv: no sentence pairs");
}

#[test]
fn probing_a_regression_task_is_one_line_naming_it() {
    let glue = data("glue");
    let options = ["--task", "sts-b", "--glue-dir", glue.to_str().unwrap()];
    let output = eval("probe", &fixture_arg("bert-mlm"), &options);
    one_line_error(&output, "STS-B is a regression task");
}

#[test]
fn an_unknown_pooling_is_a_clap_error() {
    let output = eval("sts", &fixture_arg("bert-mlm"), &["--pooling", "max"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--pooling"), "{}", stderr(&output));
}
