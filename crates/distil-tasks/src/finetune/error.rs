//! Errors of a fine-tuning or evaluation run: the task layer's, the models', the training
//! pieces', and the checks that tie them together (heads, teacher, lengths).

use std::path::PathBuf;

use distil_amp::AmpError;
use distil_core::checkpoint::CheckpointError;
use distil_core::config::ConfigError;
use distil_core::nn::ModelError;
use distil_core::CoreError;
use distil_data::TokenizerError;
use distil_train::TrainError;

use crate::TaskError;

#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error(transparent)]
    Source(#[from] CoreError),
    #[error(transparent)]
    Amp(#[from] AmpError),
    /// A model that must already be fine-tuned (a teacher, or a model to evaluate) lacks its
    /// task head, or has one of the wrong width.
    #[error("model `{}` has no fine-tuned {head} head: {reason}", dir.display())]
    NoHead {
        dir: PathBuf,
        head: &'static str,
        reason: String,
    },
    #[error("teacher `{}` cannot teach this student: {reason}", dir.display())]
    Teacher { dir: PathBuf, reason: String },
    #[error("cannot write `{}`", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no training data: {0}")]
    NoTrainingData(String),
    /// The tokenizer cannot build SQuAD windows for the model.
    #[error("tokenizer `{}` cannot build SQuAD windows: {reason}", path.display())]
    SquadTokenizer { path: PathBuf, reason: String },
}
