//! Under umask 022 every file `distil export`, `distil prep`, `distil distill` and
//! `distil finetune` write is mode 0644 and every folder 0755, as `save_pretrained` leaves
//! them: a model folder must be readable by another user, or by a container running as one.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use distil_testkit::{fixture_arg, repo_path};

/// Runs `distil` under umask 022 in `dir` and checks that it succeeded.
fn distil_ok(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("sh")
        .args(["-c", "umask 022; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_distil"))
        .args(["--device", "cpu", "-q"])
        .args(args)
        .current_dir(dir)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "distil {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every file and folder under `root` (itself included), with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let meta = std::fs::metadata(root).unwrap();
    let mut found = vec![(
        root.to_path_buf(),
        meta.is_dir(),
        meta.permissions().mode() & 0o777,
    )];
    if meta.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            found.extend(modes(&entry.unwrap().path()));
        }
    }
    found
}

/// Checks that `root` holds each of `expected` and that everything under it is 0644 or 0755.
fn assert_readable_by_all(root: &Path, expected: &[&str]) {
    for name in expected {
        assert!(root.join(name).exists(), "{} is missing", name);
    }
    let wrong: Vec<String> = modes(root)
        .into_iter()
        .filter(|&(_, is_dir, mode)| mode != if is_dir { 0o755 } else { 0o644 })
        .map(|(path, _, mode)| format!("{} {mode:o}", path.display()))
        .collect();
    assert!(wrong.is_empty(), "not 0644/0755: {wrong:#?}");
}

#[test]
fn export_writes_a_model_folder_everyone_can_read() {
    let work = tempfile::tempdir().unwrap();
    let model = fixture_arg("distilbert-mlm");
    distil_ok(work.path(), &["export", "--model", &model, "--out", "out"]);
    assert_readable_by_all(
        &work.path().join("out"),
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
}

#[test]
fn prep_and_distill_write_shards_a_run_and_checkpoints_everyone_can_read() {
    let work = tempfile::tempdir().unwrap();
    let text: Vec<&str> =
        include_str!("../../../data/text/books/gutenberg/pg11-carroll-alice-in-wonderland.txt")
            .lines()
            .take(300)
            .collect();
    std::fs::write(work.path().join("corpus.txt"), text.join("\n")).unwrap();
    let teacher = fixture_arg("bert-mlm");
    let teacher = teacher.as_str();
    distil_ok(
        work.path(),
        &[
            "prep",
            "--input",
            "corpus.txt",
            "--tokenizer",
            teacher,
            "--max-seq-len",
            "64",
            "--out",
            "shards",
        ],
    );
    assert_readable_by_all(&work.path().join("shards"), &["manifest.json"]);

    let config = format!(
        "teacher:\n  source: {teacher}\n\
         student:\n  teacher_layers: [0, 2]\n\
         data:\n  shards: shards\n  batch_size: 8\n  shuffle_buffer: 100\n\
         output:\n  dir: runs\n  run_name: modes\n  log_interval: 2\n  checkpoint_interval: 2\n\
         training:\n  device: cpu\n  max_steps: 4\n"
    );
    std::fs::write(work.path().join("run.yaml"), config).unwrap();
    distil_ok(work.path(), &["distill", "--config", "run.yaml"]);
    assert_readable_by_all(
        &work.path().join("runs/modes"),
        &[
            "config.yaml",
            "metrics.jsonl",
            "student/config.json",
            "student/model.safetensors",
            "student/tokenizer.json",
            "checkpoints/step-000000004/model.safetensors",
            "checkpoints/step-000000004/trainer_state.json",
        ],
    );
}

#[test]
fn finetune_writes_results_and_a_model_folder_everyone_can_read() {
    let work = tempfile::tempdir().unwrap();
    let rte = work.path().join("RTE");
    std::fs::create_dir_all(&rte).unwrap();
    for name in ["train.tsv", "dev.tsv"] {
        let text = std::fs::read_to_string(repo_path("data/glue/RTE").join(name)).unwrap();
        let kept: Vec<&str> = text.lines().take(17).collect();
        std::fs::write(rte.join(name), kept.join("\n") + "\n").unwrap();
    }
    let model = fixture_arg("distilbert-seqcls");
    let tokenizer = fixture_arg("distilbert-mlm");
    distil_ok(
        work.path(),
        &[
            common::rte_args("finetune", &model, &tokenizer),
            vec!["--set", "training.epochs=1", "--run", "rte"],
        ]
        .concat(),
    );
    assert_readable_by_all(
        &work.path().join("runs/rte"),
        &[
            "results.json",
            "config.yaml",
            "model/config.json",
            "model/model.safetensors",
            "model/tokenizer.json",
        ],
    );
}
