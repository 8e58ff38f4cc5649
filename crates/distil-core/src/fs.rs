//! Writing files and folders so that they appear whole or not at all, with the permissions any
//! other written file gets (mode 0o666 or 0o777 less the process umask: 0644 and 0755 under
//! umask 022). Temporary files are private by default, which would leave a model folder that
//! another user, or a container running as another user, cannot read.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A write that failed, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes `bytes` to a temporary file in `path`'s folder (created when missing), flushes it to
/// disk and renames it over `path`, so a crash or kill never leaves a partial file under the
/// final name.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(error)?;
    let mut temp = temp_file_in(dir).map_err(error)?;
    temp.write_all(bytes).map_err(error)?;
    temp.as_file().sync_all().map_err(error)?;
    temp.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

/// A temporary file in `dir` created as `File::create` would create it (mode 0o666 less the
/// umask), for a file written in pieces and then renamed into place.
pub fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// The folder a file is written in; `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)] // helpers fail loudly like the tests they serve

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The process umask, from `/proc/self/status` (reading it with `umask(2)` would change it).
    fn umask() -> Option<u32> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn written_files_get_the_mode_a_created_file_gets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.json");
        write_atomically(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");

        let reference = dir.path().join("reference");
        std::fs::File::create(&reference).unwrap();
        assert_eq!(mode(&path), mode(&reference));
        // Not the private mode (0600) of a temporary file.
        assert_eq!(mode(&path), 0o666 & !umask().unwrap());
    }

    /// Reruns this test binary under umask 022 for the named test, which then checks 0644.
    #[test]
    fn under_umask_022_files_are_0644_and_folders_0755() {
        const CHILD: &str = "DISTIL_FS_TEST_UMASK_022";
        if std::env::var_os(CHILD).is_none() {
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg("umask 022; exec \"$0\" \"$@\"")
                .arg(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "fs::tests::under_umask_022_files_are_0644_and_folders_0755",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            // The filter must have run the test, not zero tests.
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "{stdout}"
            );
            return;
        }
        assert_eq!(umask(), Some(0o022));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model").join("config.json");
        write_atomically(&path, b"{}").unwrap();
        assert_eq!(mode(&path), 0o644);
        assert_eq!(mode(path.parent().unwrap()), 0o755);
    }

    #[test]
    fn rewriting_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomically(&path, b"a longer first version").unwrap();
        write_atomically(&path, b"short").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["results.json"]);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("config.json");
        let err = write_atomically(&path, b"{}").unwrap_err();
        assert_eq!(err.path, path);
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}
