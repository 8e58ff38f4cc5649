//! `distil distill` as `torchrun --nproc-per-node 2` starts it (its environment variables set
//! here, a free port on 127.0.0.1, Gloo on the CPU): both ranks end with bit-identical weights,
//! only rank 0 writes the run, its checkpoints hold one data position per rank and refuse a
//! resume with another world size; a killed rank makes the other fail within the timeout.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{checkpoint, config, distill, metrics, resume_fails, shards, stderr, wait_for};
use distil_testkit::{free_port, read_json, torchrun_rank};

const TIMEOUT_SECS: u64 = 20;

/// Shards and a run config of `extra` lines (continuing `output:`) with a short collective
/// timeout and small gradient buckets (several all-reduces per step).
fn ddp_config(dir: &Path, extra: &str) -> PathBuf {
    let shards = shards(dir);
    let distributed = format!("distributed:\n  timeout_secs: {TIMEOUT_SECS}\n  bucket_mib: 0.5\n");
    config(dir, &shards, &format!("{extra}{distributed}"))
}

/// The ranks of a two-process job on `port`.
fn spawn_ranks(config: &Path, port: u16) -> Vec<Child> {
    (0..2)
        .map(|rank| {
            torchrun_rank(&mut distill(config, &[]), rank, 2, port)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Runs a two-process job to its end: both ranks succeed and end with the same weights.
/// Different batches and dropout on each rank: only averaged gradients from broadcast
/// weights keep the replicas equal.
fn run_ranks_to_the_end(config: &Path) -> Vec<Output> {
    let outputs: Vec<Output> = spawn_ranks(config, free_port())
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for (rank, output) in outputs.iter().enumerate() {
        assert!(output.status.success(), "rank {rank}: {}", stderr(output));
    }
    assert_eq!(weights_digest(&outputs[0]), weights_digest(&outputs[1]));
    outputs
}

/// The digest a rank printed at the end.
fn weights_digest(output: &Output) -> String {
    let said = String::from_utf8_lossy(&output.stdout);
    let (_, rest) = said.split_once("weights digest ").expect(&said);
    rest.split(')').next().unwrap().to_string()
}

#[test]
fn two_ranks_end_with_identical_weights_and_rank_zero_writes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = ddp_config(
        dir.path(),
        "  run_name: ddp\n  log_interval: 1\n  checkpoint_interval: 3\n\
         optimizer:\n  grad_accumulation: 2\n  learning_rate: 1.0e-3\n\
         training:\n  device: cpu\n  max_steps: 6\n",
    );
    let outputs = run_ranks_to_the_end(&config);
    assert!(String::from_utf8_lossy(&outputs[1].stdout).starts_with("rank 1: finished"));

    let run_dir = dir.path().join("runs/ddp");
    let logged = metrics(&run_dir);
    assert_eq!(
        logged.keys().copied().collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(logged
        .values()
        .all(|l| l["losses/loss"].as_f64().unwrap().is_finite()));
    assert!(run_dir.join("student/model.safetensors").is_file());

    let state = read_json(&checkpoint(&run_dir, 6).join("trainer_state.json"));
    let positions = state["data_position"].as_array().unwrap();
    assert_eq!(positions.len(), 2);
    for (rank, position) in positions.iter().enumerate() {
        assert_eq!(position["partition"]["rank"], rank);
        assert_eq!(position["partition"]["world_size"], 2);
    }

    // A single process cannot take over the two ranks' positions.
    let message = resume_fails(&config, &["training.max_steps=8"]);
    assert!(
        message.contains("data positions for 2 rank(s) but this run has 1"),
        "{message}"
    );
}

#[test]
fn a_killed_rank_makes_the_other_fail_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let config = ddp_config(
        dir.path(),
        "  run_name: kill\n  log_interval: 1\n  checkpoint_interval: 100000\n\
         optimizer:\n  grad_accumulation: 1\n\
         training:\n  device: cpu\n  max_steps: 100000\n",
    );
    let mut ranks = spawn_ranks(&config, free_port());
    wait_for(&mut ranks[0], &dir.path().join("runs/kill/metrics.jsonl"));
    ranks[1].kill().unwrap(); // SIGKILL: the rank vanishes mid-training
    ranks[1].wait().unwrap();
    let killed_at = Instant::now();
    let survivor = ranks.remove(0).wait_with_output().unwrap();
    let waited = killed_at.elapsed();
    assert!(!survivor.status.success());
    assert!(
        waited < Duration::from_secs(TIMEOUT_SECS + 30),
        "took {waited:?}"
    );
    let message = stderr(&survivor);
    assert!(
        message.contains("rank 0") && message.contains("failed"),
        "{message}"
    );
}

#[test]
fn an_epoch_bounded_run_stops_every_rank_at_the_same_step() {
    let dir = tempfile::tempdir().unwrap();
    // The ranks' shares of the epoch may differ by a batch; accumulation 3 leaves a remainder.
    let config = ddp_config(
        dir.path(),
        "  run_name: epoch\n  log_interval: 2\n  checkpoint_interval: 100000\n\
         optimizer:\n  grad_accumulation: 3\n\
         training:\n  device: cpu\n  epochs: 1\n",
    );
    let outputs = run_ranks_to_the_end(&config);
    let steps = |output: &Output| {
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        let (_, rest) = said.split_once("finished after ").expect(&said);
        rest.split(' ').next().unwrap().parse::<u64>().unwrap()
    };
    assert_eq!(steps(&outputs[0]), steps(&outputs[1]));
    let last = *metrics(&dir.path().join("runs/epoch"))
        .keys()
        .last()
        .unwrap();
    assert_eq!(last, steps(&outputs[0]));
}
