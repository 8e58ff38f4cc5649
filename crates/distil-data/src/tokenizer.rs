//! Loading a Hugging Face `tokenizer.json` from a local directory or a Hub id.

use std::path::{Path, PathBuf};

use distil_core::{CoreError, ModelSource};
use tokenizers::Tokenizer;

/// Errors raised while loading a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Source(#[from] CoreError),
    #[error("cannot parse tokenizer file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
}

/// Loads `tokenizer.json` from `spec`: a directory, the file itself, or a Hub id (cache first).
///
/// Truncation and padding stored in the file are cleared: every caller sets its own, and a
/// file that pads to a fixed length (as sentence-transformers exports do) would otherwise
/// change every encoding.
pub fn load_tokenizer(spec: &str) -> Result<Tokenizer, TokenizerError> {
    load_tokenizer_file(&tokenizer_file(spec)?)
}

/// The path of the `tokenizer.json` that `spec` names (fetched from the Hub when needed).
pub fn tokenizer_file(spec: &str) -> Result<PathBuf, TokenizerError> {
    let source = ModelSource::parse(spec);
    Ok(match &source {
        ModelSource::Local(p) if p.is_file() => p.clone(),
        _ => source.file("tokenizer.json")?,
    })
}

/// Loads a `tokenizer.json` file, clearing its truncation and padding like [`load_tokenizer`].
pub fn load_tokenizer_file(path: &Path) -> Result<Tokenizer, TokenizerError> {
    let path = path.to_path_buf();
    let mut tokenizer = Tokenizer::from_file(&path).map_err(|e| TokenizerError::Parse {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    tokenizer
        .with_truncation(None)
        .map_err(|e| TokenizerError::Parse {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}
