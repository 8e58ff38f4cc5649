//! Errors of the shared layer.

use std::path::PathBuf;

/// Errors raised while resolving devices, model sources and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("invalid device `{0}`: expected cpu, cuda, cuda:N or auto")]
    InvalidDevice(String),
    #[error("device `{spec}` asked for, but {reason}")]
    DeviceUnavailable { spec: String, reason: String },
    #[error("model directory `{}` does not exist", .0.display())]
    MissingDir(PathBuf),
    #[error("`{file}` not found in local directory {dir}")]
    MissingFile { dir: PathBuf, file: String },
    #[error(
        "`{id}` is neither a local path nor a cached Hugging Face Hub model, and downloading \
         `{file}` failed ({reason}); pass a local directory that holds `{file}` instead"
    )]
    HubUnavailable {
        id: String,
        file: String,
        reason: String,
    },
}
