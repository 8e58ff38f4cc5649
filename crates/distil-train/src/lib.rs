//! Distillation training: the triple loss (soft-target KL, masked-LM cross-entropy, cosine
//! alignment), the distillation step, the AdamW optimiser and schedule, resumable
//! checkpoints, and run logging.
//! The run directory, metrics, checkpoints and optimizer are task-agnostic and shared with
//! fine-tuning.

pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod error;
mod fs;
pub mod head_fit;
pub mod interrupt;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod progress;
pub mod rng;
pub mod run_dir;
pub mod running_means;
pub mod state;
pub mod step;

pub use checkpoint::{Checkpoint, CheckpointManager, MetricGoal};
pub use config::{
    check_compatibility, DistillConfig, LossConfig, ModelDims, Precision, TeacherSource,
    TrainingPrecision,
};
pub use distill::{DistillOptions, DistillOutcome, Distiller};
pub use error::TrainError;
pub use head_fit::{HeadFitConfig, HeadFitOutcome, HeadFitter};
pub use interrupt::Interrupt;
pub use loss::{
    LossContext, LossInputs, LossOutput, LossTerm, RowIndex, Rows, StudentInputs, TripleLoss,
};
pub use metrics::MetricsLogger;
pub use optim::{AdamW, AdamWConfig, GradAccumulation, LinearWarmupDecay, LossScaler};
pub use progress::TrainProgress;
pub use run_dir::{ExistingRun, RunDir};
pub use running_means::RunningMeans;
pub use state::TrainerState;
pub use step::{AttentionKernel, DeviceBatch, DistillStep, StepAutocast, StepModels, StepSwitches};
