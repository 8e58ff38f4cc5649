//! Loading a Hugging Face `tokenizer.json` from a local directory or a Hub id.

use std::path::PathBuf;

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
    let source = ModelSource::parse(spec);
    let path = match &source {
        ModelSource::Local(p) if p.is_file() => p.clone(),
        _ => source.file("tokenizer.json")?,
    };
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
