//! Where a model or tokenizer comes from: a local directory, or a Hugging Face Hub id that is
//! looked up in the local hub cache first and downloaded only when the network allows.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo};

use crate::checkpoint::TOKENIZER_FILES;
use crate::CoreError;

/// Weight files fetched for a Hub model, best first (sharded checkpoints are not fetched).
const HUB_WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

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

    /// The local folder of a model: a local directory as it is, or for a Hub id the cache
    /// snapshot folder once it holds `config.json`, the weights (`model.safetensors`, else
    /// `pytorch_model.bin`) and whichever tokenizer files the model has (fetched when missing
    /// and allowed).
    pub fn model_dir(&self) -> Result<PathBuf, CoreError> {
        if let ModelSource::Local(dir) = self {
            return if dir.exists() {
                Ok(dir.clone())
            } else {
                Err(CoreError::MissingDir(dir.clone()))
            };
        }
        let config = self.file("config.json")?;
        // A Hub model has one of the weight files, and asking for an absent one fails.
        if let Err(first) = self.file(HUB_WEIGHT_FILES[0]) {
            self.file(HUB_WEIGHT_FILES[1]).map_err(|_| first)?;
        }
        for name in TOKENIZER_FILES {
            // Most models lack some of these; one that cannot be fetched is simply absent.
            let _ = self.file(name);
        }
        Ok(config
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf))
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
    fn a_local_model_folder_is_used_as_it_is_and_a_missing_one_is_named(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let source = ModelSource::parse(&dir.path().display().to_string());
        assert_eq!(source.model_dir()?, dir.path());
        let missing = dir.path().join("no-such-model");
        let err = ModelSource::Local(missing.clone()).model_dir().unwrap_err();
        assert!(
            matches!(&err, CoreError::MissingDir(d) if *d == missing),
            "{err}"
        );
        assert!(err.to_string().contains("does not exist"), "{err}");
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
