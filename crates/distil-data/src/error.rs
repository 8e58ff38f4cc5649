//! Errors of the data pipeline, each naming the file, line, shard or config key at fault.

use std::path::PathBuf;

use distil_core::fs::WriteError;

use crate::tokenizer::TokenizerError;

/// Errors raised while preparing, reading, batching or masking token shards.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
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
    #[error("{path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
    #[error("{path} has no `text` column of strings (columns: {found})")]
    NoTextColumn { path: PathBuf, found: String },
    #[error("input {path} is not a file or directory")]
    MissingInput { path: PathBuf },
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("tokenizer {path}: {reason}")]
    TokenizerUnsuitable { path: PathBuf, reason: String },
    #[error("the tokenizer failed on the line starting {start:?}: {reason}")]
    Encode { start: String, reason: String },
    #[error("no sequences were left from {inputs} input file(s) after filtering")]
    NoSequences { inputs: usize },
    #[error("manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("shard {path}: {reason}")]
    Shard { path: PathBuf, reason: String },
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    #[error("cannot resume from the saved data position: {reason}")]
    Position { reason: String },
    #[error("cannot start the prefetch thread: {0}")]
    PrefetchThread(std::io::Error),
    #[error("vocabulary training failed: {reason}")]
    VocabTraining { reason: String },
    #[error("masking failed: {reason}")]
    Masking { reason: String },
}

impl From<WriteError> for DataError {
    fn from(e: WriteError) -> Self {
        DataError::Write {
            path: e.path,
            source: e.source,
        }
    }
}

impl DataError {
    pub(crate) fn config(key: &str, reason: impl Into<String>) -> Self {
        DataError::Config {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
