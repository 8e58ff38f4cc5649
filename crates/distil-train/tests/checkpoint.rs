//! Checkpoints: round trip, keep-last-K-plus-best pruning, and a crash in the middle of a
//! write (simulated by leaving a partial folder) that leaves the previous checkpoint loadable.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use distil_train::{AdamW, AdamWConfig, Checkpoint, CheckpointManager, MetricGoal, TrainerState};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

struct Run {
    vs: VarStore,
    opt: AdamW,
}

fn new_run(seed: i64) -> Run {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let root = vs.root();
    let _ = (&root / "encoder").randn("weight", &[6, 4], 0.0, 1.0);
    let _ = (&root / "encoder").randn("bias", &[4], 0.0, 1.0);
    let frozen = (&root / "position_embeddings").randn("weight", &[3, 4], 0.0, 1.0);
    let _ = frozen.set_requires_grad(false);
    let opt = AdamW::new(
        &vs,
        AdamWConfig {
            betas: (0.9, 0.98),
            eps: 1e-6,
            weight_decay: 0.0,
        },
    );
    Run { vs, opt }
}

impl Run {
    fn train_step(&mut self) {
        let loss = self
            .vs
            .trainable_variables()
            .iter()
            .map(|v| v.square().sum(Kind::Float))
            .reduce(|a, b| a + b)
            .unwrap();
        loss.backward();
        self.opt.step(1e-2);
        self.opt.zero_grad();
    }

    fn state(&self, step: u64) -> TrainerState {
        TrainerState {
            optimizer_step: step,
            micro_step: step * 2,
            data_position: serde_json::json!({"shard": 1, "offset": step * 10}),
            ..TrainerState::new(56)
        }
    }

    /// Saves this run as optimizer step `step` with `metric`.
    fn save(&self, manager: &CheckpointManager, step: u64, metric: Option<f64>) -> Checkpoint {
        manager
            .save(&self.vs, &self.opt, &self.state(step), metric)
            .unwrap()
    }

    fn weights(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<_> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[test]
fn frozen_variables_are_not_optimised() {
    let run = new_run(1);
    assert_eq!(run.opt.params().count(), 2);
}

#[test]
fn restore_gives_back_weights_optimizer_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(dir.path(), 2, MetricGoal::Minimize);
    let mut run = new_run(1);
    run.train_step();
    let saved = run.save(&manager, 1, None);
    assert_eq!(saved.step, 1);

    let mut fresh = new_run(2);
    let state = manager
        .latest()
        .unwrap()
        .unwrap()
        .restore(&mut fresh.vs, &mut fresh.opt)
        .unwrap();
    assert_eq!(state, run.state(1));
    assert_eq!(fresh.opt.step_count(), 1);
    for ((n, a), (_, b)) in run.weights().iter().zip(fresh.weights()) {
        assert!(a.equal(&b), "{n} differs after restore");
    }
    // Both continue identically.
    run.train_step();
    fresh.train_step();
    for ((n, a), (_, b)) in run.weights().iter().zip(fresh.weights()) {
        assert!(a.equal(&b), "{n} differs one step after restore");
    }
}

#[test]
fn keeps_the_last_k_plus_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(dir.path(), 2, MetricGoal::Minimize);
    let mut run = new_run(1);
    for (step, metric) in [(10, 3.0), (20, 1.0), (30, 2.0), (40, 4.0)] {
        run.train_step();
        run.save(&manager, step, Some(metric));
    }
    let steps: Vec<u64> = manager.list().unwrap().iter().map(|c| c.step).collect();
    assert_eq!(steps, [20, 30, 40]);
    let best = manager.best().unwrap().unwrap();
    assert_eq!(best.step, 20);
    assert_eq!(best.read_state().unwrap().best_metric, Some(1.0));
    assert_eq!(manager.latest().unwrap().unwrap().step, 40);
}

#[test]
fn a_crash_mid_write_leaves_the_previous_checkpoint_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(dir.path(), 3, MetricGoal::Minimize);
    let mut run = new_run(1);
    run.train_step();
    run.save(&manager, 1, None);
    let good: Vec<(String, Tensor)> = run
        .weights()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();

    // The process dies while writing step 2: a partial folder with half a weights file.
    run.train_step();
    let partial = dir.path().join(".partial-step-000000002");
    std::fs::create_dir_all(&partial).unwrap();
    run.vs.save(partial.join("model.safetensors")).unwrap();
    let bytes = std::fs::read(partial.join("model.safetensors")).unwrap();
    std::fs::write(partial.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    // And a step folder someone emptied by hand is not taken either.
    std::fs::create_dir_all(dir.path().join("step-000000003")).unwrap();

    let latest = manager.latest().unwrap().unwrap();
    assert_eq!(latest.step, 1);
    let mut fresh = new_run(3);
    let state = latest.restore(&mut fresh.vs, &mut fresh.opt).unwrap();
    assert_eq!(state.optimizer_step, 1);
    for ((n, a), (_, b)) in good.iter().zip(fresh.weights()) {
        assert!(a.equal(&b), "{n} differs");
    }

    // Resuming cleans the partial folder, and saving step 2 again works.
    manager.remove_partial().unwrap();
    assert!(!partial.exists());
    run.save(&manager, 2, None);
    assert_eq!(manager.latest().unwrap().unwrap().step, 2);
}
