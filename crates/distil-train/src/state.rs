//! The trainer's position, saved with each checkpoint as `trainer_state.json`.

use std::path::Path;

use distil_core::fs::write_atomically;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::optim::LossScalerState;

/// Everything besides tensors that a resumed run needs to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerState {
    /// Optimizer steps done; also the schedule's position.
    pub optimizer_step: u64,
    /// Micro-batches done; dropout is re-seeded from `(seed, micro_step)`, so this and `seed`
    /// are the whole random state of the model side.
    pub micro_step: u64,
    pub epoch: u64,
    pub tokens_seen: u64,
    pub seed: u64,
    /// Where the data stream stands (the data crate's own serialisable position; for
    /// distillation a list with one per data-parallel rank, rank `r` resuming from entry `r`).
    pub data_position: serde_json::Value,
    /// fp16 runs only.
    pub loss_scaler: Option<LossScalerState>,
    /// Best value so far of the metric used to keep the best checkpoint.
    pub best_metric: Option<f64>,
}

impl TrainerState {
    /// The state of a run that has not started.
    pub fn new(seed: u64) -> Self {
        Self {
            optimizer_step: 0,
            micro_step: 0,
            epoch: 0,
            tokens_seen: 0,
            seed,
            data_position: serde_json::Value::Null,
            loss_scaler: None,
            best_metric: None,
        }
    }

    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        serde_json::from_str(&text).map_err(|source| TrainError::State {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(self).map_err(|source| TrainError::State {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(write_atomically(path, text.as_bytes())?)
    }
}
