//! Fine-tuning and evaluation runs on GLUE and SQuAD, with optional task-time distillation
//! from a fine-tuned teacher. The loop, optimizer, checkpoints and logs are `distil-train`'s
//! shared pieces; this module adds the task objectives, the dev evaluation and the outputs.

pub mod config;
pub mod error;
pub mod glue_config;
pub mod glue_run;
pub mod loss;
mod majority;
pub mod model;
mod setup;
pub mod squad_config;
pub mod squad_run;
pub mod trainer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_train::ExistingRun;
use tch::Device;

pub use config::{
    load_run_config, DistillationConfig, ModelConfig, OutputConfig, RunConfig, TrainingConfig,
};
pub use error::FinetuneError;
pub use glue_config::{GlueDataConfig, GlueRunConfig};
pub use glue_run::{eval_glue, finetune_glue, main_metric_key, GlueData, GlueFineTune};
pub use loss::{classification_kd, span_kd, StepLoss};
pub use majority::majority_baseline;
pub use model::{HeadState, SequenceClassifier, SpanExtractor, TaskModel};
pub use squad_config::{SquadDataConfig, SquadRunConfig, SquadSplits};
pub use squad_run::{eval_squad, finetune_squad, SquadData, SquadFineTune};
pub use trainer::{train, FineTuneTask, LoopOptions, LoopOutcome, Scored};

/// A training run continues its folder only when resuming.
fn existing_run(options: &LoopOptions) -> ExistingRun {
    if options.resume {
        ExistingRun::Resume
    } else {
        ExistingRun::Refuse
    }
}

/// How evaluation batches are built and where they run.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub pad_id: i64,
    pub eval_batch_size: usize,
    pub device: Device,
}

impl Batching {
    /// Evaluation batches of `training.eval_batch_size`, padded with `pad_id`.
    pub fn new(pad_id: i64, training: &TrainingConfig, device: Device) -> Self {
        Self {
            pad_id,
            eval_batch_size: training.eval_batch_size,
            device,
        }
    }
}

/// What a finished (or interrupted) run left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// `experiments/<run>/`.
    pub dir: PathBuf,
    /// Stopped by Ctrl-C; `--resume` continues it.
    pub interrupted: bool,
    /// The final dev scores (empty when interrupted).
    pub metrics: BTreeMap<String, f64>,
}

impl RunSummary {
    fn finished(dir: &Path, metrics: BTreeMap<String, f64>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            interrupted: false,
            metrics,
        }
    }

    fn interrupted(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            interrupted: true,
            metrics: BTreeMap::new(),
        }
    }
}
