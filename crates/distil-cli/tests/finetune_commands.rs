//! `distil finetune` and `distil eval` as a user runs them: a tiny GLUE run through the
//! binary, and bad input that must end in a clear error naming what is wrong.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{distil_in as distil, rte_args, rte_slice, stderr};
use distil_testkit::{fixture_arg, read_json, repo_path};

#[test]
fn a_bert_with_a_fresh_head_fine_tunes_on_rte_and_evaluates() {
    let work = tempfile::tempdir().unwrap();
    rte_slice(&work.path().join("RTE"), 24);
    let tokenizer = fixture_arg("bert-mlm");
    let model = fixture_arg("bert-seqcls");
    let mut args = rte_args("finetune", &model, &tokenizer);
    args.extend(["--set", "training.epochs=1", "--run", "rte"]);
    // -q hides warnings; run this one at the default level to see the load report.
    let run = Command::new(env!("CARGO_BIN_EXE_distil"))
        .current_dir(work.path())
        .env("OMP_NUM_THREADS", "1")
        .args(["--device", "cpu"])
        .args(&args)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let log = stderr(&run);
    // The fixture's head has 3 labels; RTE needs 2, so the classifier starts fresh.
    assert!(log.contains("classifier has 3 outputs"), "{log}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("acc"));
    let out = work.path().join("runs/rte");
    for file in [
        "results.json",
        "config.yaml",
        "metrics.jsonl",
        "model/model.safetensors",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The same run name again is refused rather than overwritten.
    let again = distil(work.path(), &args);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));

    let saved = out.join("model").display().to_string();
    let scored = distil(work.path(), &rte_args("eval", &saved, &tokenizer));
    assert!(scored.status.success(), "{}", stderr(&scored));
    let trained = read_json(&out.join("results.json"));
    let evaluated = read_json(&work.path().join("runs/eval-rte-model/results.json"));
    assert_eq!(trained["metrics"], evaluated["metrics"]);
}

#[test]
fn a_short_tsv_row_is_an_error_naming_file_and_line() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("RTE");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("train.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\tA b.\tC d.\tentailment\n1\tonly two\n",
    )
    .unwrap();
    std::fs::copy(repo_path("data/glue/RTE/dev.tsv"), dir.join("dev.tsv")).unwrap();
    let model = fixture_arg("distilbert-seqcls");
    let tokenizer = fixture_arg("distilbert-mlm");
    let run = distil(work.path(), &rte_args("finetune", &model, &tokenizer));
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(message.contains("RTE/train.tsv:3"), "{message}");
    assert!(message.contains("found 2"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn an_unknown_task_and_a_missing_model_are_named() {
    let work = tempfile::tempdir().unwrap();
    let model = fixture_arg("distilbert-seqcls");
    let run = distil(
        work.path(),
        &["finetune", "glue", "--task", "sst3", "--model", &model],
    );
    assert!(!run.status.success());
    assert!(
        stderr(&run).contains("unknown GLUE task `sst3`"),
        "{}",
        stderr(&run)
    );

    let missing = work.path().join("no-such-model");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["finetune", "glue", "--task", "sst-2", "--model", missing],
        vec!["eval", "squad", "--version", "2.0", "--model", missing],
    ] {
        let run = distil(work.path(), &args);
        assert!(!run.status.success());
        let message = stderr(&run);
        assert!(message.contains("no-such-model"), "{message}");
        assert!(message.contains("does not exist"), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    let version = distil(
        work.path(),
        &["eval", "squad", "--version", "3.0", "--model", &model],
    );
    assert!(!version.status.success());
    assert!(stderr(&version).contains("3.0"), "{}", stderr(&version));
}
