//! Resumable checkpoints: `checkpoints/step-000000080/` holds the student weights, the
//! optimizer state and `trainer_state.json`. Each is written into `.partial-step-*` and the
//! folder renamed when complete, so a crash mid-write never damages an earlier checkpoint. The
//! last `keep_last` checkpoints and the best one are kept.

use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use crate::error::TrainError;
use crate::fs::{sync_dir, sync_file};
use crate::optim::AdamW;
use crate::state::TrainerState;

const MODEL_FILE: &str = "model.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "trainer_state.json";
const BEST_FILE: &str = "best.json";
const PREFIX: &str = "step-";
const PARTIAL_PREFIX: &str = ".partial-";

/// Whether a larger or a smaller metric marks the best checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricGoal {
    Minimize,
    Maximize,
}

impl MetricGoal {
    fn better(self, candidate: f64, incumbent: f64) -> bool {
        match self {
            MetricGoal::Minimize => candidate < incumbent,
            MetricGoal::Maximize => candidate > incumbent,
        }
    }
}

/// One complete checkpoint folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub dir: PathBuf,
    /// The optimizer step it was taken after.
    pub step: u64,
}

impl Checkpoint {
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(MODEL_FILE)
    }

    pub fn optimizer_path(&self) -> PathBuf {
        self.dir.join(OPTIMIZER_FILE)
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn read_state(&self) -> Result<TrainerState, TrainError> {
        TrainerState::read(&self.state_path())
    }

    /// Loads the weights and optimizer state into the run's store and optimizer and returns
    /// the trainer state.
    pub fn restore(
        &self,
        vs: &mut VarStore,
        optimizer: &mut AdamW,
    ) -> Result<TrainerState, TrainError> {
        let state = self.read_state()?;
        let model = self.model_path();
        vs.load(&model).map_err(|e| TrainError::tch(&model, e))?;
        optimizer.load(&self.optimizer_path())?;
        Ok(state)
    }

    fn is_complete(&self) -> bool {
        [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE]
            .iter()
            .all(|f| self.dir.join(f).is_file())
            && self.read_state().is_ok()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct BestRecord {
    step: u64,
    metric: f64,
}

/// Writes, finds and prunes the checkpoints of one run.
#[derive(Debug, Clone)]
pub struct CheckpointManager {
    dir: PathBuf,
    keep_last: usize,
    goal: MetricGoal,
}

impl CheckpointManager {
    /// Checkpoints live in `dir`; at least one is always kept.
    pub fn new(dir: impl Into<PathBuf>, keep_last: usize, goal: MetricGoal) -> Self {
        Self {
            dir: dir.into(),
            keep_last: keep_last.max(1),
            goal,
        }
    }

    /// Saves a checkpoint for `state.optimizer_step`. `metric` (say an eval score) competes
    /// for "best"; the winner's value is recorded in the state written.
    pub fn save(
        &self,
        vs: &VarStore,
        optimizer: &AdamW,
        state: &TrainerState,
        metric: Option<f64>,
    ) -> Result<Checkpoint, TrainError> {
        let step = state.optimizer_step;
        let final_dir = self.dir.join(format!("{PREFIX}{step:09}"));
        let done = Checkpoint {
            dir: final_dir.clone(),
            step,
        };
        if done.is_complete() {
            // Already saved at this step (a Ctrl-C right after a scheduled checkpoint).
            return Ok(done);
        }
        let partial = self.dir.join(format!("{PARTIAL_PREFIX}{PREFIX}{step:09}"));
        remove_dir_if_present(&partial)?;
        std::fs::create_dir_all(&partial).map_err(|e| TrainError::io(&partial, e))?;

        let best = self.best_record()?;
        let is_best = metric.is_some_and(|m| {
            m.is_finite() && best.as_ref().is_none_or(|b| self.goal.better(m, b.metric))
        });
        let mut state = state.clone();
        if is_best {
            state.best_metric = metric;
        }
        let model = partial.join(MODEL_FILE);
        vs.save(&model).map_err(|e| TrainError::tch(&model, e))?;
        sync_file(&model)?;
        let opt = partial.join(OPTIMIZER_FILE);
        optimizer.save(&opt)?;
        sync_file(&opt)?;
        // The trainer state goes last: its presence marks a finished folder.
        state.write(&partial.join(STATE_FILE))?;

        remove_dir_if_present(&final_dir)?;
        std::fs::rename(&partial, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        sync_dir(&self.dir)?;
        if let (true, Some(metric)) = (is_best, metric) {
            let record = serde_json::to_vec(&BestRecord { step, metric }).map_err(|source| {
                TrainError::State {
                    path: self.dir.join(BEST_FILE),
                    source,
                }
            })?;
            write_atomically(&self.dir.join(BEST_FILE), &record)?;
        }
        self.prune()?;
        Ok(done)
    }

    /// Complete checkpoints, oldest first. Partial folders and folders missing a file or with
    /// an unreadable state are skipped.
    pub fn list(&self) -> Result<Vec<Checkpoint>, TrainError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrainError::io(&self.dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TrainError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(step) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let checkpoint = Checkpoint {
                dir: entry.path(),
                step,
            };
            if checkpoint.is_complete() {
                found.push(checkpoint);
            } else {
                log::warn!(
                    "skipping incomplete checkpoint {}",
                    checkpoint.dir.display()
                );
            }
        }
        found.sort_by_key(|c| c.step);
        Ok(found)
    }

    /// The newest complete checkpoint, for `--resume`.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        Ok(self.list()?.pop())
    }

    /// The checkpoint with the best metric, while it is still on disk.
    pub fn best(&self) -> Result<Option<Checkpoint>, TrainError> {
        let Some(record) = self.best_record()? else {
            return Ok(None);
        };
        Ok(self.list()?.into_iter().find(|c| c.step == record.step))
    }

    /// Deletes folders left by a write that never finished.
    pub fn remove_partial(&self) -> Result<(), TrainError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(PARTIAL_PREFIX)
            {
                remove_dir_if_present(&entry.path())?;
            }
        }
        Ok(())
    }

    fn best_record(&self) -> Result<Option<BestRecord>, TrainError> {
        let path = self.dir.join(BEST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| TrainError::State { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::io(&path, e)),
        }
    }

    fn prune(&self) -> Result<(), TrainError> {
        let best_step = self.best_record()?.map(|b| b.step);
        let all = self.list()?;
        let cut = all.len().saturating_sub(self.keep_last);
        for old in &all[..cut] {
            if Some(old.step) != best_step {
                remove_dir_if_present(&old.dir)?;
            }
        }
        Ok(())
    }
}

fn remove_dir_if_present(dir: &Path) -> Result<(), TrainError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TrainError::io(dir, e)),
    }
}
