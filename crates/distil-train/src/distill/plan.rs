//! How long a run is: `training.max_steps` optimizer steps, or `training.epochs` passes over the
//! shards with the reference's step count for the schedule.

use distil_data::{BatchSize, Manifest};

use crate::config::DistillConfig;
use crate::optim::{reference_total_steps, LinearWarmupDecay};

/// What ends the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLength {
    /// After this many optimizer steps (the data repeats as needed).
    Steps(u64),
    /// When the stream reaches this epoch (leftover micro-batches are dropped, as in the
    /// reference).
    Epochs(u64),
}

/// The run's length, the optimizer steps it is expected to take and its schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunPlan {
    pub length: RunLength,
    /// Optimizer steps expected (exact for `max_steps` and for a fixed batch size).
    pub expected_steps: u64,
    pub schedule: LinearWarmupDecay,
}

impl RunPlan {
    pub fn new(config: &DistillConfig, manifest: &Manifest) -> Self {
        let opt = &config.optimizer;
        if let Some(steps) = config.training.max_steps {
            return Self {
                length: RunLength::Steps(steps),
                expected_steps: steps,
                schedule: LinearWarmupDecay::new(opt.learning_rate, steps, opt.warmup_prop),
            };
        }
        let epochs = config.training.epochs;
        let total = reference_total_steps(
            batches_per_epoch(config, manifest),
            opt.grad_accumulation,
            epochs,
        );
        Self {
            length: RunLength::Epochs(u64::from(epochs)),
            // The reference plans one step more than it takes (`int(...) + 1`).
            expected_steps: total.saturating_sub(1).max(1),
            schedule: LinearWarmupDecay::new(opt.learning_rate, total, opt.warmup_prop),
        }
    }
}

/// Batches in one epoch on each data-parallel rank (every rank reads its share of the rows,
/// so an optimizer step covers `world_size` times the batches). With a fixed batch size every
/// batch but the last is full, grouping or not, so this is exact; with a token budget it is the
/// unpadded lower bound (length grouping keeps padding small).
fn batches_per_epoch(config: &DistillConfig, manifest: &Manifest) -> u64 {
    let world_size = config.data.partition.world_size.max(1) as u64;
    let (rows, tokens) = (
        manifest.rows.div_ceil(world_size),
        manifest.tokens.div_ceil(world_size),
    );
    match config.data.batch_size() {
        BatchSize::Sequences(n) => rows.div_ceil(n as u64),
        BatchSize::Tokens(budget) => tokens.div_ceil(budget as u64),
    }
    .max(1)
}
