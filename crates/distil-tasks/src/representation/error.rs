//! Errors of a representation evaluation: the task layer's (data files, tensors), the model's
//! and the tokenizer's, and what makes an evaluation impossible (no data, a regression task).

use std::path::PathBuf;

use distil_amp::AmpError;
use distil_core::nn::ModelError;
use distil_data::TokenizerError;

use crate::{GlueTask, TaskError};

#[derive(Debug, thiserror::Error)]
pub enum RepresentationError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error(transparent)]
    Amp(#[from] AmpError),
    #[error("{}: no sentence pairs to score", path.display())]
    NoPairs { path: PathBuf },
    #[error("{}: no examples", path.display())]
    NoExamples { path: PathBuf },
    /// A linear probe classifies; STS-B's scores would need a regression probe.
    #[error(
        "{task} is a regression task; a linear probe takes a classification task (cola, sst-2, \
         mrpc, qqp, mnli, qnli, rte, wnli)"
    )]
    RegressionTask { task: GlueTask },
    /// sklearn refuses one class too; a class never seen gets no meaningful weights.
    #[error(
        "{}: the first {examples} training examples have no `{label}` example; a probe needs \
         every class",
        path.display()
    )]
    MissingClass {
        path: PathBuf,
        examples: usize,
        label: String,
    },
}

impl From<tch::TchError> for RepresentationError {
    fn from(e: tch::TchError) -> Self {
        RepresentationError::Task(TaskError::Tensor(e))
    }
}
