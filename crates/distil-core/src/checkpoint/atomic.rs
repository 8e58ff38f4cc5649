//! Writing a file so that it appears whole or not at all.

use std::io::Write;
use std::path::Path;

use super::CheckpointError;

/// Writes `bytes` to a temporary file in `path`'s directory, flushes it to disk and renames
/// it over `path`, so a crash or kill never leaves a partial file under the final name.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let io = |e| CheckpointError::io(path, e);
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    temp.write_all(bytes).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
