//! Reading HF `config.json` files into the models' serde mirrors, which tolerate unknown keys
//! (HF files carry many) but not missing required ones.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ModelError;
use crate::config::InvalidKey;

/// A model config read from `config.json`.
pub trait HfConfig: DeserializeOwned {
    /// Checks what serde cannot (e.g. heads dividing the width).
    fn validate(&self) -> Result<(), InvalidKey>;
}

/// Reads, parses and validates `path` (a `config.json`, or the directory holding it); errors
/// name the file and the key.
pub fn read_config_file<C: HfConfig>(path: &Path) -> Result<C, ModelError> {
    let path = &if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config::<C>(&text, path)
}

/// Parses and validates config text that came from `path` (named in errors).
pub fn parse_config<C: HfConfig>(text: &str, path: &Path) -> Result<C, ModelError> {
    // serde names a missing key itself; the path tracker adds the key of a wrongly typed value.
    let mut json = serde_json::Deserializer::from_str(text);
    let config: C = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        ModelError::ParseConfig {
            path: path.to_path_buf(),
            message: if key == "." {
                message
            } else {
                format!("key `{key}`: {message}")
            },
        }
    })?;
    config
        .validate()
        .map_err(|InvalidKey { key, message }| ModelError::InvalidConfig {
            path: path.to_path_buf(),
            key,
            message,
        })?;
    Ok(config)
}

/// The label count of a classification head as HF derives it: `id2label`'s size, else
/// `num_labels`, else 2.
pub fn label_count(id2label: Option<&BTreeMap<String, String>>, num_labels: Option<i64>) -> i64 {
    match (id2label, num_labels) {
        (Some(labels), _) if !labels.is_empty() => labels.len() as i64,
        (_, Some(n)) => n,
        _ => 2,
    }
}

/// `model_type` must be `expected`: a config of another architecture would be misread.
pub fn check_model_type(model_type: &str, expected: &str) -> Result<(), InvalidKey> {
    if model_type == expected {
        return Ok(());
    }
    Err(InvalidKey::new(
        "model_type",
        format!("expected \"{expected}\", found \"{model_type}\""),
    ))
}

/// The heads (key `heads_key`) must divide the width (key `width_key`).
pub fn check_heads_divide(
    (heads_key, heads): (&str, i64),
    (width_key, width): (&str, i64),
) -> Result<(), InvalidKey> {
    if width % heads == 0 {
        return Ok(());
    }
    Err(InvalidKey::new(
        heads_key,
        format!("{heads} heads do not divide {width_key} {width}"),
    ))
}

/// The MLM decoder shares the word-embedding tensor, so a file with untied output embeddings
/// (`tie_word_embeddings: false` among the config's other keys) would be misread.
pub fn check_tied_embeddings(extra: &Map<String, Value>) -> Result<(), InvalidKey> {
    if extra.get("tie_word_embeddings") == Some(&Value::Bool(false)) {
        return Err(InvalidKey::new(
            "tie_word_embeddings",
            "untied output embeddings are not supported",
        ));
    }
    Ok(())
}

/// The first of `(key, value)` that is not positive, as an error naming the key.
pub fn check_positive(values: &[(&str, i64)]) -> Result<(), InvalidKey> {
    match values.iter().find(|(_, v)| *v <= 0) {
        Some((key, value)) => Err(InvalidKey::new(
            *key,
            format!("must be positive, found {value}"),
        )),
        None => Ok(()),
    }
}
