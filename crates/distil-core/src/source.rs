//! Where a model or tokenizer comes from: a local directory, or a Hugging Face Hub id that is
//! looked up in the local hub cache first and downloaded only when the network allows.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo};

use crate::CoreError;

/// A local directory or a Hub model id such as `bert-base-uncased`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Local(PathBuf),
    Hub(String),
}

impl ModelSource {
    /// An existing path is local; anything else is taken as a Hub id.
    pub fn parse(spec: &str) -> Self {
        let path = Path::new(spec);
        if path.exists() || spec.starts_with('.') || spec.starts_with('/') {
            ModelSource::Local(path.to_path_buf())
        } else {
            ModelSource::Hub(spec.to_string())
        }
    }

    /// Returns the path of `file` in this source, downloading it when needed and allowed
    /// (`HF_HUB_OFFLINE=1` forbids downloads).
    pub fn file(&self, file: &str) -> Result<PathBuf, CoreError> {
        match self {
            ModelSource::Local(dir) => {
                let dir = if dir.is_file() {
                    dir.parent().unwrap_or(Path::new(".")).to_path_buf()
                } else {
                    dir.clone()
                };
                let path = dir.join(file);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(CoreError::MissingFile {
                        dir,
                        file: file.to_string(),
                    })
                }
            }
            ModelSource::Hub(id) => hub_file(id, file),
        }
    }

    /// Like [`ModelSource::file`], but `None` when the file simply is not there.
    pub fn optional_file(&self, file: &str) -> Result<Option<PathBuf>, CoreError> {
        match self.file(file) {
            Ok(path) => Ok(Some(path)),
            Err(CoreError::MissingFile { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Local(p) => write!(f, "{}", p.display()),
            ModelSource::Hub(id) => write!(f, "hub:{id}"),
        }
    }
}

fn hub_file(id: &str, file: &str) -> Result<PathBuf, CoreError> {
    if let Some(path) = Cache::from_env()
        .repo(Repo::model(id.to_string()))
        .get(file)
    {
        return Ok(path);
    }
    let unavailable = |reason: String| CoreError::HubUnavailable {
        id: id.to_string(),
        file: file.to_string(),
        reason,
    };
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        return Err(unavailable("HF_HUB_OFFLINE=1".to_string()));
    }
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| unavailable(e.to_string()))?;
    api.model(id.to_string())
        .get(file)
        .map_err(|e| unavailable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_directory_finds_present_and_reports_missing_files(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("config.json"), "{}")?;
        let source = ModelSource::parse(&dir.path().display().to_string());
        assert_eq!(source.file("config.json")?, dir.path().join("config.json"));
        assert_eq!(source.optional_file("model.safetensors")?, None);
        let err = source.file("model.safetensors").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("model.safetensors"), "{err}");
        Ok(())
    }

    #[test]
    fn offline_hub_id_gives_an_actionable_error() {
        std::env::set_var("HF_HUB_OFFLINE", "1");
        std::env::set_var("HF_HOME", std::env::temp_dir().join("distil-empty-hf-home"));
        let source = ModelSource::parse("no-such-org/no-such-model");
        assert_eq!(source, ModelSource::Hub("no-such-org/no-such-model".into()));
        let err = source.file("tokenizer.json").map(|_| ()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pass a local directory"), "{msg}");
        assert!(msg.contains("no-such-org/no-such-model"), "{msg}");
    }
}
