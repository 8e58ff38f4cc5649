//! Errors of the task layer: data files, encoding, configs and outputs.

use std::path::PathBuf;

use distil_core::fs::WriteError;

/// Errors raised while reading task data, building features, decoding and writing results.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected at least {expected} tab-separated columns, found {found}")]
    ShortRow {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("{path}:{line}: unknown label `{label}`; {task} expects one of {expected:?}")]
    UnknownLabel {
        path: PathBuf,
        line: usize,
        label: String,
        task: String,
        expected: Vec<String>,
    },
    #[error("{path}:{line}: score `{value}` is not a number")]
    BadScore {
        path: PathBuf,
        line: usize,
        value: String,
    },
    #[error("{path}: not a SQuAD file: {reason}")]
    SquadJson { path: PathBuf, reason: String },
    #[error("{path}: question {qid}: answer {text:?} at character {start} {reason}")]
    AnswerOutsideContext {
        path: PathBuf,
        qid: String,
        text: String,
        start: usize,
        reason: String,
    },
    #[error("tensor operation failed")]
    Tensor(#[from] tch::TchError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("the tokenizer has no {0} token")]
    MissingSpecialToken(distil_data::SpecialToken),
    /// SQuAD answers are cut from the context through the tokens' character offsets.
    #[error(
        "the tokenizer's offsets do not map its tokens back to the text ({0}); SQuAD needs \
         them to cut answers from the context"
    )]
    Offsets(String),
    /// The tokenizer lays a question and context out otherwise than the model family does.
    #[error(
        "the tokenizer lays the pair (\"question\", \"context\") out as {found}; the model takes \
         {expected}: use the tokenizer of the model's family"
    )]
    Layout { expected: String, found: String },
    #[error("invalid config: {key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("unknown GLUE task `{0}`; expected one of cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli")]
    UnknownTask(String),
}

impl From<WriteError> for TaskError {
    fn from(e: WriteError) -> Self {
        TaskError::Write {
            path: e.path,
            source: e.source,
        }
    }
}
