//! Errors of checkpoint IO, each naming the file, the key and the shapes involved.

use std::path::PathBuf;

use crate::fs::WriteError;

/// A Python one-liner that rewrites a PyTorch checkpoint as safetensors; `torch.load` with
/// `weights_only=True` refuses code objects, so running it is safe on untrusted files.
pub fn conversion_command(path: &std::path::Path) -> String {
    let src = path.display();
    let dst = path.with_file_name("model.safetensors");
    format!(
        "python -c \"import torch; from safetensors.torch import save_file; \
         sd = torch.load('{src}', map_location='cpu', weights_only=True); \
         save_file({{k: v.contiguous().clone() for k, v in sd.items()}}, '{}', \
         metadata={{'format': 'pt'}})\"",
        dst.display()
    )
}

/// A tensor whose shape disagrees with the size a config key gives it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} says `{key}` = {value}, so `{tensor}` should be {expected:?}, but the checkpoint has \
     {found:?}",
    path.display()
)]
pub struct ConfigShapeMismatch {
    pub path: PathBuf,
    pub key: String,
    pub value: i64,
    pub tensor: String,
    pub expected: Vec<i64>,
    pub found: Vec<i64>,
}

/// Everything that can go wrong while reading, matching or writing weights.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a valid safetensors file ({reason})", path.display())]
    Safetensors { path: PathBuf, reason: String },
    #[error("{}: not a valid PyTorch checkpoint ({reason})", path.display())]
    TorchArchive { path: PathBuf, reason: String },
    #[error(
        "{}: refused to load ({reason}); distil never runs pickle code. Convert the file to \
         safetensors with:\n  {}",
        path.display(),
        conversion_command(path)
    )]
    Refused { path: PathBuf, reason: String },
    #[error("{}: tensor `{key}` has dtype {dtype}, which distil does not read", path.display())]
    UnsupportedDtype {
        path: PathBuf,
        key: String,
        dtype: String,
    },
    #[error(
        "{}: unrecognised weights file; expected `.safetensors`, `.bin` (PyTorch zip) or a \
         `*.index.json` shard index",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    #[error("no weights in {}: looked for {}", dir.display(), looked_for.join(", "))]
    NoWeights {
        dir: PathBuf,
        looked_for: Vec<String>,
    },
    #[error("weight `{key}` is missing (looked for {})", tried.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))]
    MissingKey { key: String, tried: Vec<String> },
    #[error(
        "weight `{key}`: expected shape {expected:?}, found {found:?} (file key `{file_key}`)"
    )]
    ShapeMismatch {
        key: String,
        file_key: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error(transparent)]
    ConfigShape(Box<ConfigShapeMismatch>),
    #[error("{} says `{key}` = {value}, but the checkpoint has {found} layers", path.display())]
    ConfigLayers {
        path: PathBuf,
        key: String,
        value: i64,
        found: i64,
    },
    #[error("the checkpoint holds both `{key}` and `{other}`, which name the same weight")]
    Conflict { key: String, other: String },
    #[error("tensor `{key}`")]
    Tensor { key: String, source: tch::TchError },
    #[error("{}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    /// An error of the inner kind, found while working on `path`.
    #[error("{}", path.display())]
    InFile {
        path: PathBuf,
        source: Box<CheckpointError>,
    },
}

impl From<WriteError> for CheckpointError {
    fn from(e: WriteError) -> Self {
        CheckpointError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl CheckpointError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn tensor(key: &str, source: tch::TchError) -> Self {
        CheckpointError::Tensor {
            key: key.to_string(),
            source,
        }
    }

    /// Adds the file being worked on to an error that does not name one yet.
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            CheckpointError::MissingKey { .. }
            | CheckpointError::ShapeMismatch { .. }
            | CheckpointError::Tensor { .. } => CheckpointError::InFile {
                path: path.to_path_buf(),
                source: Box::new(self),
            },
            other => other,
        }
    }
}
