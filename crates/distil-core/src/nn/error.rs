//! Errors raised while building or loading a model.

use std::path::PathBuf;

use crate::checkpoint::CheckpointError;

/// Why a model could not be configured or loaded. Messages name the file and key.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model config `{}`", path.display())]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    /// serde's message names the key (`missing field `hidden_size``) and the line.
    #[error("model config `{}`: {message}", path.display())]
    ParseConfig { path: PathBuf, message: String },
    #[error("model config `{}`, key `{key}`: {message}", path.display())]
    InvalidConfig {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("model directory `{}`: {message}", dir.display())]
    WrongModelType { dir: PathBuf, message: String },
    #[error("the model has no variable `{name}`")]
    UnknownVariable { name: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}
