//! Result files written as pretty JSON through `distil_core::fs::write_atomically`, so an
//! interrupted run never leaves a half-written file.

use std::path::Path;

use distil_core::fs::write_atomically;

use crate::TaskError;

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), TaskError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| TaskError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    Ok(write_atomically(path, &bytes)?)
}
