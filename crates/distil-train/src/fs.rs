//! Crash-safe file writes: a temporary file in the same folder, synced, then renamed.

use std::io::Write;
use std::path::Path;

use crate::error::TrainError;

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| TrainError::io(path, e);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

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
