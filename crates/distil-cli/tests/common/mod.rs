//! Helpers shared by the tests of the `distil` binary: the command, shards from a slice of the
//! shipped corpus, run configs for the tiny fixture teacher, the arguments of a tiny RTE
//! fine-tune, and readers of what a run writes.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures
// Each test binary uses its own subset of the helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use distil_testkit::fixture;

pub type Metrics = BTreeMap<u64, serde_json::Map<String, serde_json::Value>>;

pub fn distil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distil"));
    // Tensors this small gain nothing from threads, and spinning OpenMP workers crawl on a
    // shared CI machine.
    command.env("OMP_NUM_THREADS", "1").arg("-q");
    command
}

pub fn run(args: &[&str]) -> Output {
    distil().args(args).output().unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The binary run on the CPU in `dir`.
pub fn distil_in(dir: &Path, args: &[&str]) -> Output {
    distil()
        .current_dir(dir)
        .args(["--device", "cpu"])
        .args(args)
        .output()
        .expect("the distil binary runs")
}

/// An RTE folder with the first `rows` train and dev rows of the shipped files.
pub fn rte_slice(dir: &Path, rows: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["train.tsv", "dev.tsv"] {
        let text =
            std::fs::read_to_string(distil_testkit::repo_path("data/glue/RTE").join(name)).unwrap();
        let kept: Vec<&str> = text.lines().take(rows + 1).collect();
        std::fs::write(dir.join(name), kept.join("\n") + "\n").unwrap();
    }
}

/// `command glue` (`finetune` or `eval`) on RTE for `model` with `tokenizer`: the RTE folder
/// below the working directory, short sequences, runs in `runs/`.
pub fn rte_args<'a>(command: &'a str, model: &'a str, tokenizer: &'a str) -> Vec<&'a str> {
    vec![
        command,
        "glue",
        "--task",
        "rte",
        "--model",
        model,
        "--tokenizer",
        tokenizer,
        "--set",
        "data.dir=RTE",
        "--set",
        "features.max_seq_length=64",
        "--set",
        "output.dir=runs",
    ]
}

/// Shards of the first lines of Alice in Wonderland, tokenised with the teacher's tokenizer.
pub fn shards(dir: &Path) -> PathBuf {
    shards_of_lines(dir, "shards", 0..1200, &fixture("bert-mlm"))
}

/// Shards of lines `lines` of Alice in Wonderland in `dir/name`, tokenised with the tokenizer
/// in `tokenizer` (a model folder), in sequences that fit every fixture's position table (the
/// tiny RoBERTa's is the shortest: 62 positions).
pub fn shards_of_lines(
    dir: &Path,
    name: &str,
    lines: std::ops::Range<usize>,
    tokenizer: &Path,
) -> PathBuf {
    let text: Vec<&str> =
        include_str!("../../../../data/text/books/gutenberg/pg11-carroll-alice-in-wonderland.txt")
            .lines()
            .skip(lines.start)
            .take(lines.len())
            .collect();
    let corpus = dir.join(format!("{name}.txt"));
    std::fs::write(&corpus, text.join("\n")).unwrap();
    let out = dir.join(name);
    let prep = run(&[
        "prep",
        "--input",
        corpus.to_str().unwrap(),
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "--max-seq-len",
        "60",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(prep.status.success(), "prep: {}", stderr(&prep));
    out
}

/// `configs/distill/<name>`, a config shipped in the repository.
pub fn shipped_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs/distill")
        .join(name)
}

/// Overrides that point a shipped config at test shards, a temporary output folder and a
/// fixture teacher, then `extra`.
pub fn fixture_sets(dir: &Path, shards: &Path, teacher: &str, extra: &[&str]) -> Vec<String> {
    [
        format!("data.shards={}", shards.display()),
        format!("output.dir={}", dir.join("runs").display()),
        format!(
            "teacher.source={}",
            distil_testkit::fixture(teacher).display()
        ),
    ]
    .into_iter()
    .chain(extra.iter().map(|s| s.to_string()))
    .collect()
}

/// A run config for the fixture teacher and a 2-layer student, plus `extra` YAML lines (which
/// continue the `output:` section, then add `training:` and others).
pub fn config(dir: &Path, shards: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "teacher:\n  source: {teacher}\n\
         student:\n  teacher_layers: [0, 2]\n\
         data:\n  shards: {shards}\n  batch_size: 8\n  shuffle_buffer: 500\n\
         output:\n  dir: {out}\n  keep_last: 2\n{extra}",
        teacher = fixture("bert-mlm").display(),
        shards = shards.display(),
        out = dir.join("runs").display(),
    );
    let path = dir.join("run.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn distill(config: &Path, sets: &[&str]) -> Command {
    let mut command = distil();
    command.args(["distill", "--config", config.to_str().unwrap()]);
    for set in sets {
        command.args(["--set", set]);
    }
    command
}

pub fn distill_ok(config: &Path, sets: &[&str]) -> Output {
    let output = distill(config, sets).output().unwrap();
    assert!(output.status.success(), "distill: {}", stderr(&output));
    output
}

/// Resumes the run of `config`, which must fail; returns what it said.
pub fn resume_fails(config: &Path, sets: &[&str]) -> String {
    let output = distill(config, sets).arg("--resume").output().unwrap();
    assert!(!output.status.success());
    stderr(&output)
}

/// `metrics.jsonl` by step; every step appears once.
pub fn metrics(run_dir: &Path) -> Metrics {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let mut by_step = Metrics::new();
    for line in text.lines() {
        let serde_json::Value::Object(map) = serde_json::from_str(line).unwrap() else {
            panic!("not an object: {line}");
        };
        let step = map["step"].as_u64().unwrap();
        assert!(by_step.insert(step, map).is_none(), "step {step} twice");
    }
    by_step
}

pub fn checkpoint(run_dir: &Path, step: u64) -> PathBuf {
    run_dir.join("checkpoints").join(format!("step-{step:09}"))
}

/// Waits until `path` exists; fails if the child exits first.
pub fn wait_for(child: &mut Child, path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "distill exited ({status}) before {} appeared",
                path.display()
            );
        }
        assert!(start.elapsed() < Duration::from_secs(120), "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts the run of `config` (with the overrides `sets`) named `run` (below `runs`), SIGKILLs
/// it once its checkpoint of `step` exists, and checks that it had not finished; returns the
/// run folder.
pub fn kill_after_checkpoint(
    config: &Path,
    sets: &[&str],
    runs: &Path,
    run: &str,
    step: u64,
) -> PathBuf {
    let name = format!("output.run_name={run}");
    let sets: Vec<&str> = sets.iter().copied().chain([name.as_str()]).collect();
    let mut child = distill(config, &sets)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let killed = runs.join(run);
    wait_for(&mut child, &checkpoint(&killed, step));
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    assert!(
        !killed.join("student").exists(),
        "the run finished before the kill"
    );
    killed
}

/// Runs `config` (with `sets`, which must not name the run) to its end as run `whole` below
/// `runs`, and again as run `killed`, SIGKILLed once its checkpoint of `kill_at` exists and
/// then resumed. Every `keys` metric of every step after `kill_at` up to `last_step`, and the
/// final students' weights, must be bit-identical.
pub fn assert_killed_run_resumes_bit_for_bit(
    config: &Path,
    sets: &[&str],
    runs: &Path,
    kill_at: u64,
    last_step: u64,
    keys: &[&str],
) {
    let named = |run: &str| -> Vec<String> {
        let name = format!("output.run_name={run}");
        sets.iter().map(|s| s.to_string()).chain([name]).collect()
    };
    distill_ok(config, &as_strs(&named("whole")));
    let killed = kill_after_checkpoint(config, sets, runs, "killed", kill_at);
    let resumed = distill(config, &as_strs(&named("killed")))
        .arg("--resume")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "resume: {}", stderr(&resumed));
    let (whole, after_kill) = (metrics(&runs.join("whole")), metrics(&killed));
    for step in kill_at + 1..=last_step {
        for key in keys {
            // serde_json prints the shortest exact decimal, so equal text is equal bits.
            assert_eq!(
                whole[&step][*key].to_string(),
                after_kill[&step][*key].to_string(),
                "step {step} {key}"
            );
        }
    }
    let weights = |run: &Path| std::fs::read(run.join("student/model.safetensors")).unwrap();
    assert!(
        weights(&runs.join("whole")) == weights(&killed),
        "final students differ"
    );
}

fn as_strs(all: &[String]) -> Vec<&str> {
    all.iter().map(String::as_str).collect()
}

/// Each of `terms` fell: its mean over the first `window` log lines is at least 5% above its
/// mean over the last `window`.
pub fn assert_losses_fall(metrics: &Metrics, terms: &[&str], window: usize) {
    let logged: Vec<_> = metrics.values().collect();
    for term in terms {
        let mean = |lines: &[&serde_json::Map<String, serde_json::Value>]| {
            lines
                .iter()
                .map(|l| l[*term].as_f64().unwrap())
                .sum::<f64>()
                / lines.len() as f64
        };
        let first = mean(&logged[..window]);
        let last = mean(&logged[logged.len() - window..]);
        assert!(last < 0.95 * first, "{term}: first {first}, last {last}");
    }
}

/// `scripts/check_export.py` on `model`: it loads in `transformers` and computes distil's
/// logits and hidden states.
pub fn assert_loads_in_transformers(model: &Path) {
    let venv = std::env::var("DISTIL_VENV").expect("DISTIL_VENV (scripts/test.sh sets it)");
    let check = Command::new(Path::new(&venv).join("bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_export.py"))
        .args(["--distil", env!("CARGO_BIN_EXE_distil"), "--model"])
        .arg(model)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check_export: {}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
}
