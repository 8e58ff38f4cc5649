//! Making checkpoint writes durable: syncing a file before its folder is renamed, and the
//! folder after (whole-file writes go through `distil_core::fs::write_atomically`).

use std::path::Path;

use crate::error::TrainError;

/// Flushes a file's contents to disk (a checkpoint file before its folder is renamed).
pub(crate) fn sync_file(path: &Path) -> Result<(), TrainError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainError::io(path, e))
}

/// Makes a rename inside `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TrainError::io(dir, e))
}
