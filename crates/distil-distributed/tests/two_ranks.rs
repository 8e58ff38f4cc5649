//! Two ranks on Gloo, as `torchrun` would start them (its environment variables set here, a
//! free port on 127.0.0.1): their data-parallel training ends with identical parameters that
//! equal one process trained on both ranks' batches together; a killed rank makes the other
//! fail with a clear error within the timeout; a rendezvous nobody hosts fails in time.
//!
//! The binary is its own worker: with `DISTIL_TEST_ROLE` set it acts as one rank.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use distil_distributed::{
    average_gradients, broadcast_parameters, Backend, DistributedError, ProcessGroup, World,
};
use distil_testkit::{free_port, torchrun_rank};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const STEPS: usize = 5;
const ROWS: i64 = 6;
const BUCKET_BYTES: usize = 256;

fn main() {
    match std::env::var("DISTIL_TEST_ROLE").as_deref() {
        Ok(role) => std::process::exit(worker(role)),
        Err(_) => {
            // `cargo test` passes harness flags (filters, --nocapture); there is nothing to filter.
            run(
                "two_ranks_match_one_process_on_both_batches",
                two_ranks_match_one_process,
            );
            run(
                "a_killed_rank_fails_the_other_within_the_timeout",
                killed_rank_fails_the_other,
            );
            run(
                "a_rendezvous_without_a_host_times_out",
                rendezvous_without_host_times_out,
            );
        }
    }
}

fn run(name: &str, test: fn()) {
    let start = Instant::now();
    test();
    println!(
        "test {name} ... ok ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
}

/// A two-layer net whose initial weights depend on `seed`.
fn model(vs: &nn::VarStore, seed: i64) -> impl Module {
    tch::manual_seed(seed);
    let root = vs.root();
    nn::seq()
        .add(nn::linear(&root / "dense", 8, 16, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(&root / "out", 16, 4, Default::default()))
}

/// Rank `rank`'s batch at `step`: deterministic inputs and targets, different per rank.
fn batch(rank: usize, step: usize) -> (Tensor, Tensor) {
    let phase = (rank * 7 + step + 1) as f64;
    let x = (Tensor::arange(ROWS * 8, (Kind::Float, Device::Cpu)) * (0.37 * phase))
        .sin()
        .view([ROWS, 8]);
    let y = (Tensor::arange(ROWS * 4, (Kind::Float, Device::Cpu)) * (0.11 * phase))
        .cos()
        .view([ROWS, 4]);
    (x, y)
}

fn optimizer(vs: &nn::VarStore) -> nn::Optimizer {
    nn::AdamW::default().build(vs, 1e-2).unwrap()
}

/// One rank: join, train (`train`) or all-reduce until something fails (`loop`).
fn worker(role: &str) -> i32 {
    let timeout = Duration::from_secs_f64(
        std::env::var("DISTIL_TEST_TIMEOUT")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let world = World::from_env().unwrap().unwrap();
    let result = ProcessGroup::join(&world, Backend::Gloo, timeout).and_then(|group| match role {
        "train" => train(
            &group,
            Path::new(&std::env::var("DISTIL_TEST_OUT").unwrap()),
        ),
        _ => all_reduce_forever(&group),
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rank {} error: {e}", world.rank);
            1
        }
    }
}

fn train(group: &ProcessGroup, out: &Path) -> Result<(), DistributedError> {
    let vs = nn::VarStore::new(Device::Cpu);
    // Each rank starts from different weights; the broadcast gives all of them rank 0's.
    let net = model(&vs, 100 + group.rank() as i64);
    let mut opt = optimizer(&vs);
    let params = vs.trainable_variables();
    broadcast_parameters(group, &params, BUCKET_BYTES)?;
    for step in 0..STEPS {
        let (x, y) = batch(group.rank(), step);
        let loss = net.forward(&x).mse_loss(&y, tch::Reduction::Mean);
        opt.zero_grad();
        loss.backward();
        average_gradients(group, &params, BUCKET_BYTES)?;
        opt.step();
    }
    vs.save(out.join(format!("rank{}.safetensors", group.rank())))
        .unwrap();
    Ok(())
}

fn all_reduce_forever(group: &ProcessGroup) -> Result<(), DistributedError> {
    let mut ones = Tensor::ones([1024], (Kind::Float, Device::Cpu));
    group.all_reduce_sum(&mut ones)?;
    println!("joined");
    loop {
        group.all_reduce_sum(&mut ones)?;
        let _ = ones.fill_(1.0);
    }
}

fn spawn_rank(role: &str, rank: usize, port: u16, timeout_secs: f64, out: &Path) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    torchrun_rank(&mut command, rank, 2, port)
        .env("DISTIL_TEST_ROLE", role)
        .env("DISTIL_TEST_TIMEOUT", timeout_secs.to_string())
        .env("DISTIL_TEST_OUT", out)
        .env("GLOO_SOCKET_IFNAME", "lo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` up to `limit`, killing it on overrun; returns its exit status (None when
/// it had to be killed) and its stderr.
fn wait_within(child: &mut Child, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

fn two_ranks_match_one_process() {
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut ranks: Vec<Child> = (0..2)
        .map(|rank| spawn_rank("train", rank, port, 60.0, out.path()))
        .collect();
    for (rank, child) in ranks.iter_mut().enumerate() {
        let (status, stderr) = wait_within(child, Duration::from_secs(120));
        assert!(status.is_some_and(|s| s.success()), "rank {rank}: {stderr}");
    }
    let load = |rank: usize| {
        let mut named =
            Tensor::read_safetensors(out.path().join(format!("rank{rank}.safetensors"))).unwrap();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    };
    let (rank0, rank1) = (load(0), load(1));

    // One process, rank 0's initial weights, both ranks' batches as one batch of 2 x ROWS
    // rows: the mean loss over it is the mean of the ranks' mean losses.
    let vs = nn::VarStore::new(Device::Cpu);
    let net = model(&vs, 100);
    let mut opt = optimizer(&vs);
    for step in 0..STEPS {
        let ((x0, y0), (x1, y1)) = (batch(0, step), batch(1, step));
        let x = Tensor::cat(&[x0, x1], 0);
        let y = Tensor::cat(&[y0, y1], 0);
        let loss = net.forward(&x).mse_loss(&y, tch::Reduction::Mean);
        opt.zero_grad();
        loss.backward();
        opt.step();
    }
    let reference = vs.variables();
    let initial = {
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = model(&vs, 100);
        vs.variables()
    };
    assert_eq!(rank0.len(), reference.len());
    for ((name, a), (_, b)) in rank0.iter().zip(&rank1) {
        assert!(a.equal(b), "{name} differs between the ranks");
        let diff = (a - &reference[name]).abs().max().double_value(&[]);
        assert!(diff <= 1e-6, "{name}: max |ddp - single| = {diff:e}");
        // Training moved the weights, so the match is not one of untouched initial values.
        let moved = (a - &initial[name]).abs().max().double_value(&[]);
        assert!(moved > 1e-3, "{name} moved only {moved:e}");
    }
}

fn killed_rank_fails_the_other() {
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let timeout_secs = 5.0;
    let mut survivor = spawn_rank("loop", 0, port, timeout_secs, out.path());
    let mut victim = spawn_rank("loop", 1, port, timeout_secs, out.path());
    let mut line = String::new();
    BufReader::new(victim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "joined");
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_at = Instant::now();
    let (status, stderr) = wait_within(&mut survivor, Duration::from_secs_f64(timeout_secs + 10.0));
    let status = status.unwrap_or_else(|| panic!("rank 0 hung after rank 1 was killed: {stderr}"));
    assert!(!status.success());
    assert!(
        stderr.contains("rank 0 error: rank 0: all_reduce failed"),
        "{stderr}"
    );
    eprintln!(
        "  rank 0 exited {:.1} s after rank 1 was killed: {}",
        killed_at.elapsed().as_secs_f64(),
        stderr.lines().next().unwrap_or_default()
    );
}

fn rendezvous_without_host_times_out() {
    let port = free_port();
    let world = World {
        rank: 1,
        world_size: 2,
        local_rank: 1,
        master_addr: "127.0.0.1".to_string(),
        master_port: port,
        agent_store: false,
    };
    let start = Instant::now();
    let err = ProcessGroup::join(&world, Backend::Gloo, Duration::from_secs(2)).unwrap_err();
    let elapsed = start.elapsed();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "rank 1 of 2 could not join the group at 127.0.0.1:{port} (timeout 2 s)"
        )),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}
