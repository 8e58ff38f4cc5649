//! GLUE metrics against scikit-learn and scipy on fixed predictions
//! (`scripts/make_metric_fixtures.py` wrote `tests/data/glue_metric_fixtures.json`).

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use distil_tasks::glue::metrics::{accuracy, binary_f1, matthews_corrcoef, pearson, spearman};
use distil_tasks::{GlueLabel, GlueSplit, GlueTask};
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/glue_metric_fixtures.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn classes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(ours: f64, reference: &Value, what: &str) {
    let reference = reference.as_f64().unwrap();
    assert!(
        (ours - reference).abs() < TOLERANCE,
        "{what}: {ours} vs sklearn/scipy {reference}"
    );
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let fixture = fixture();
    let cases = fixture["classification"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (gold, predicted) = (classes(&case["gold"]), classes(&case["pred"]));
        close(
            accuracy(&gold, &predicted),
            &case["acc"],
            &format!("{name} acc"),
        );
        close(
            matthews_corrcoef(&gold, &predicted),
            &case["mcc"],
            &format!("{name} mcc"),
        );
        if let Some(f1) = case.get("f1") {
            close(binary_f1(&gold, &predicted), f1, &format!("{name} f1"));
        }
    }
}

#[test]
fn correlations_match_scipy() {
    let fixture = fixture();
    for case in fixture["regression"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (gold, predicted) = (floats(&case["gold"]), floats(&case["pred"]));
        close(
            pearson(&predicted, &gold),
            &case["pearson"],
            &format!("{name} pearson"),
        );
        close(
            spearman(&predicted, &gold),
            &case["spearmanr"],
            &format!("{name} spearman"),
        );
    }
}

#[test]
fn each_task_reports_its_official_metrics() {
    let fixture = fixture();
    let binary = &fixture["classification"][0];
    let to_labels = |v: &Value| {
        classes(v)
            .into_iter()
            .map(GlueLabel::Class)
            .collect::<Vec<_>>()
    };
    let (gold, predicted) = (to_labels(&binary["gold"]), to_labels(&binary["pred"]));

    let cola = GlueTask::Cola
        .metrics(GlueSplit::Dev, &gold, &predicted)
        .unwrap();
    assert_eq!(cola.keys().collect::<Vec<_>>(), vec!["mcc"]);
    close(cola["mcc"], &binary["mcc"], "CoLA mcc");

    for task in [GlueTask::Mrpc, GlueTask::Qqp] {
        let m = task.metrics(GlueSplit::Dev, &gold, &predicted).unwrap();
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            vec!["acc", "acc_and_f1", "f1"]
        );
        close(m["acc"], &binary["acc"], "acc");
        close(m["f1"], &binary["f1"], "f1");
        let mean = (binary["acc"].as_f64().unwrap() + binary["f1"].as_f64().unwrap()) / 2.0;
        assert!((m["acc_and_f1"] - mean).abs() < TOLERANCE);
    }
    for task in [
        GlueTask::Sst2,
        GlueTask::Qnli,
        GlueTask::Rte,
        GlueTask::Wnli,
    ] {
        let m = task.metrics(GlueSplit::Dev, &gold, &predicted).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["acc"]);
        close(m["acc"], &binary["acc"], "acc");
    }

    let three = &fixture["classification"][3];
    let (gold3, predicted3) = (to_labels(&three["gold"]), to_labels(&three["pred"]));
    let matched = GlueTask::Mnli
        .metrics(GlueSplit::Dev, &gold3, &predicted3)
        .unwrap();
    close(matched["mnli/acc"], &three["acc"], "MNLI-m acc");
    let mismatched = GlueTask::Mnli
        .metrics(GlueSplit::DevMismatched, &gold3, &predicted3)
        .unwrap();
    close(mismatched["mnli-mm/acc"], &three["acc"], "MNLI-mm acc");

    let sts = &fixture["regression"][0];
    let scores = |v: &Value| {
        floats(v)
            .into_iter()
            .map(GlueLabel::Score)
            .collect::<Vec<_>>()
    };
    let m = GlueTask::Stsb
        .metrics(GlueSplit::Dev, &scores(&sts["gold"]), &scores(&sts["pred"]))
        .unwrap();
    close(m["pearson"], &sts["pearson"], "STS-B pearson");
    close(m["spearmanr"], &sts["spearmanr"], "STS-B spearman");
    let corr = (sts["pearson"].as_f64().unwrap() + sts["spearmanr"].as_f64().unwrap()) / 2.0;
    assert!((m["corr"] - corr).abs() < TOLERANCE);

    // Scores where classes are expected, and a length mismatch, are errors.
    assert!(GlueTask::Sst2
        .metrics(GlueSplit::Dev, &gold[..2], &scores(&sts["pred"])[..2])
        .is_err());
    assert!(GlueTask::Sst2
        .metrics(GlueSplit::Dev, &gold, &predicted[1..])
        .is_err());
}
