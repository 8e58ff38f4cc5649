//! Result files are written to a temporary file in the target folder, then renamed over the
//! target, so an interrupted run never leaves a half-written file.

use std::io::Write;
use std::path::Path;

use crate::TaskError;

/// Writes `bytes` to `path` atomically, creating the parent folder when missing.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    let error = |source: std::io::Error| TaskError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(error)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.as_file().sync_all().map_err(error)?;
    file.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), TaskError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| TaskError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    write_atomically(path, &bytes)
}
