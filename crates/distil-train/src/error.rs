//! Errors of the training crate, each naming the file, key or step it concerns.

use std::path::{Path, PathBuf};

use distil_core::config::{ConfigError, InvalidKey};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("incompatible models")]
    Incompatible(#[from] InvalidKey),
    /// A setting this machine or build cannot honour (fp16 on CPU, say), naming the key.
    #[error(transparent)]
    Unsupported(InvalidKey),
    #[error(transparent)]
    Model(#[from] distil_core::nn::ModelError),
    #[error(transparent)]
    Core(#[from] distil_core::CoreError),
    #[error("initialising the student from the teacher")]
    InitStudent(#[from] distil_student::InitStudentError),
    #[error(transparent)]
    Data(#[from] distil_data::DataError),
    #[error(transparent)]
    Checkpoint(#[from] distil_core::checkpoint::CheckpointError),
    #[error("cannot access `{}`", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}`", path.display())]
    Tch {
        path: PathBuf,
        source: tch::TchError,
    },
    #[error("`{}` is not a valid trainer state", path.display())]
    State {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "checkpoints in `{}` hold data positions for {found} rank(s) but this run has \
         {world_size}; resume with the world size that wrote them",
        path.display()
    )]
    RankPositions {
        path: PathBuf,
        found: usize,
        world_size: usize,
    },
    #[error(transparent)]
    Distributed(#[from] distil_distributed::DistributedError),
    /// Autocast, TF32 or CUDA memory statistics refused by libtorch.
    #[error(transparent)]
    Amp(#[from] distil_amp::AmpError),
    #[error("optimizer state `{}` does not fit this model: {message}", path.display())]
    OptimizerState { path: PathBuf, message: String },
    #[error(
        "run directory `{}` already holds a run; pass --resume to continue it or choose another \
         output.run_name",
        path.display()
    )]
    RunExists { path: PathBuf },
    #[error(
        "the fitted MLM head does no better than the unigram baseline on the held-out shards \
         (loss {head_loss:.3} vs {unigram_loss:.3} nats, accuracy {head_accuracy:.3} vs \
         {unigram_accuracy:.3}; `{}`): the teacher was not saved. Fit longer or with another \
         learning rate",
        results.display()
    )]
    HeadNotFitted {
        results: PathBuf,
        head_loss: f64,
        unigram_loss: f64,
        head_accuracy: f64,
        unigram_accuracy: f64,
    },
    #[error("cannot install the Ctrl-C handler: {0}")]
    Interrupt(String),
    #[error(
        "`{metric}` is {value} at optimizer step {step}; stopping (the last checkpoint is intact)"
    )]
    NonFinite {
        step: u64,
        metric: String,
        value: f64,
    },
}

impl TrainError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn tch(path: &Path, source: tch::TchError) -> Self {
        TrainError::Tch {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<distil_core::fs::WriteError> for TrainError {
    fn from(e: distil_core::fs::WriteError) -> Self {
        TrainError::Io {
            path: e.path,
            source: e.source,
        }
    }
}
