//! Zero-shot STS and linear probes on the tiny fixture BERT against what `transformers`, scipy
//! and scikit-learn computed (`scripts/make_representation_fixtures.py`), their determinism,
//! and the errors that name the file or task at fault.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::path::{Path, PathBuf};

use distil_tasks::representation::{
    linear_probe, sts_zero_shot, LogisticOptions, LogisticRegression, Pooling, ProbeOptions,
    RepresentationError, StsOptions,
};
use distil_tasks::GlueTask;
use distil_testkit::{fixture, read_json};
use serde_json::Value;
use tch::{Device, Tensor};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/representation")
        .join(name)
}

fn sts_options(pooling: Pooling, max_seq_length: usize) -> StsOptions {
    StsOptions {
        pooling,
        batch_size: 7, // batches of mixed lengths, and a short last one
        max_seq_length,
        max_pairs: None,
    }
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// `[rows, columns]` of a JSON matrix as a `Double` tensor.
fn matrix(value: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = value.as_array().unwrap().iter().map(floats).collect();
    let columns = rows[0].len() as i64;
    let flat: Vec<f64> = rows.concat();
    Tensor::from_slice(&flat).view([-1, columns])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.flatten(0, -1)).unwrap()
}

/// Every entry within `rel` of the reference's largest magnitude.
fn assert_close_relative(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale,
            "{what}[{i}]: {g} vs {w} (scale {scale})"
        );
    }
}

#[test]
fn sts_matches_transformers_and_scipy() {
    let expected = read_json(&data("sts.json"));
    let max_seq_length = expected["max_seq_length"].as_u64().unwrap() as usize;
    for pooling in [Pooling::Mean, Pooling::Cls] {
        let want = &expected[pooling.name()];
        let score = sts_zero_shot(
            &fixture("bert-mlm"),
            None,
            &data("STS-B/dev.tsv"),
            &sts_options(pooling, max_seq_length),
            Device::Cpu,
            false,
        )
        .unwrap();
        assert_eq!(score.pairs, expected["pairs"].as_u64().unwrap() as usize);
        assert_eq!(score.max_seq_length, max_seq_length);
        for key in ["spearman", "pearson"] {
            let got = match key {
                "spearman" => score.spearman,
                _ => score.pearson,
            };
            let want = want[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-4,
                "{pooling} {key}: {got} vs {want}"
            );
        }
    }
}

/// The default length (128) is capped at the fixture's 64 positions, which the sentences
/// exceed: without the cap the model would index past its position table.
#[test]
fn the_length_is_capped_at_the_model_positions() {
    let expected = read_json(&data("sts.json"));
    let score = sts_zero_shot(
        &fixture("bert-mlm"),
        None,
        &data("STS-B/dev.tsv"),
        &StsOptions::default(),
        Device::Cpu,
        false,
    )
    .unwrap();
    assert_eq!(score.max_seq_length, 64);
    let want = expected["mean"]["spearman"].as_f64().unwrap();
    assert!((score.spearman - want).abs() < 1e-4, "{}", score.spearman);
}

#[test]
fn probes_match_sklearn() {
    let expected = read_json(&data("probe.json"));
    for case in expected["cases"].as_array().unwrap() {
        let task: GlueTask = case["task"].as_str().unwrap().parse().unwrap();
        let options = ProbeOptions {
            pooling: serde_json::from_value(case["pooling"].clone()).unwrap(),
            train_examples: case["train_examples"].as_u64().unwrap() as usize,
            l2: case["l2"].as_f64().unwrap(),
            batch_size: 16,
            max_seq_length: case["max_seq_length"].as_u64().unwrap() as usize,
            ..ProbeOptions::default()
        };
        let probe = linear_probe(
            &fixture("bert-mlm"),
            None,
            task,
            &data("glue"),
            &options,
            Device::Cpu,
            false,
        )
        .unwrap();
        let score = &probe.score;
        assert!(score.converged, "{task}: {score:?}");
        assert_eq!(
            score.train_examples as u64,
            case["train_examples"].as_u64().unwrap()
        );
        assert_eq!(
            score.dev_examples as u64,
            case["dev_examples"].as_u64().unwrap()
        );
        assert_close_relative(
            &format!("{task} coef"),
            &values(&probe.classifier.coef),
            &values(&matrix(&case["coef"])),
            1e-3,
        );
        assert_close_relative(
            &format!("{task} intercept"),
            &values(&probe.classifier.intercept),
            &floats(&case["intercept"]),
            1e-3,
        );
        assert_eq!(score.accuracy, case["accuracy"].as_f64().unwrap(), "{task}");
        assert_eq!(score.metrics["acc"], score.accuracy, "{task}");
    }
}

/// The solver alone on fixed features: sklearn's binary form (one vector) and its multinomial
/// form (one per class, intercepts summing to zero), under weak and strong penalties.
#[test]
fn logistic_regression_matches_sklearn() {
    let expected = read_json(&data("logistic.json"));
    for case in expected["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<usize> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let classes = labels.iter().max().unwrap() + 1;
        let options = LogisticOptions {
            l2: 1.0 / case["C"].as_f64().unwrap(),
            ..LogisticOptions::default()
        };
        let features = matrix(&case["features"]);
        let fitted = LogisticRegression::fit(&features, &labels, classes, &options).unwrap();
        assert!(fitted.converged, "{name}: {} iterations", fitted.iterations);
        assert!(
            fitted.iterations <= 20,
            "{name}: {} iterations",
            fitted.iterations
        );
        let want = matrix(&case["coef"]);
        assert_eq!(fitted.coef.size(), want.size(), "{name}");
        assert_close_relative(name, &values(&fitted.coef), &values(&want), 1e-4);
        assert_close_relative(
            name,
            &values(&fitted.intercept),
            &floats(&case["intercept"]),
            1e-4,
        );
    }
}

#[test]
fn runs_are_deterministic() {
    let sts = || {
        let score = sts_zero_shot(
            &fixture("bert-mlm"),
            None,
            &data("STS-B/dev.tsv"),
            &sts_options(Pooling::Mean, 64),
            Device::Cpu,
            false,
        )
        .unwrap();
        serde_json::to_string(&score).unwrap()
    };
    assert_eq!(sts(), sts());
    let probe = || {
        let probe = linear_probe(
            &fixture("bert-mlm"),
            None,
            GlueTask::Rte,
            &data("glue"),
            &ProbeOptions::default(),
            Device::Cpu,
            false,
        )
        .unwrap();
        serde_json::to_string(&probe.score).unwrap()
    };
    assert_eq!(probe(), probe());
}

fn probe_error(task: GlueTask, glue_dir: &Path, options: &ProbeOptions) -> RepresentationError {
    linear_probe(
        &fixture("bert-mlm"),
        None,
        task,
        glue_dir,
        options,
        Device::Cpu,
        false,
    )
    .unwrap_err()
}

fn sts_error(file: &Path) -> RepresentationError {
    sts_zero_shot(
        &fixture("bert-mlm"),
        None,
        file,
        &StsOptions::default(),
        Device::Cpu,
        false,
    )
    .unwrap_err()
}

#[test]
fn a_regression_task_cannot_be_probed() {
    let err = probe_error(GlueTask::Stsb, &data("glue"), &ProbeOptions::default());
    assert!(
        matches!(
            err,
            RepresentationError::RegressionTask {
                task: GlueTask::Stsb
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("STS-B is a regression task"),
        "{err}"
    );
}

#[test]
fn missing_and_empty_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tsv");
    let err = sts_error(&missing);
    assert!(format!("{err:#}").contains("nope.tsv"), "{err}");

    let empty = dir.path().join("STS-B-empty.tsv");
    std::fs::write(
        &empty,
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n",
    )
    .unwrap();
    let err = sts_error(&empty);
    assert!(matches!(err, RepresentationError::NoPairs { .. }), "{err}");
    assert!(err.to_string().contains("STS-B-empty.tsv"), "{err}");

    // A probe: no task folder, then a header-only dev file.
    let err = probe_error(GlueTask::Sst2, dir.path(), &ProbeOptions::default());
    assert!(err.to_string().contains("SST-2/train.tsv"), "{err}");
    let sst = dir.path().join("SST-2");
    std::fs::create_dir(&sst).unwrap();
    std::fs::copy(data("glue/SST-2/train.tsv"), sst.join("train.tsv")).unwrap();
    std::fs::write(sst.join("dev.tsv"), "sentence\tlabel\n").unwrap();
    let err = probe_error(GlueTask::Sst2, dir.path(), &ProbeOptions::default());
    assert!(
        matches!(err, RepresentationError::NoExamples { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SST-2/dev.tsv"), "{err}");
}

/// The first two SST-2 training rows shipped are both negative: no positive example to learn
/// the class from.
#[test]
fn training_rows_without_a_class_are_an_error() {
    let options = ProbeOptions {
        train_examples: 2,
        ..ProbeOptions::default()
    };
    let err = probe_error(GlueTask::Sst2, &data("glue"), &options);
    assert!(
        matches!(err, RepresentationError::MissingClass { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SST-2/train.tsv"), "{err}");
}
