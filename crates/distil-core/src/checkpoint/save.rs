//! Writing a Hugging Face model directory: `config.json`, `model.safetensors` and the
//! tokenizer files, each written whole or not at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use super::safetensors::write_safetensors;
use super::CheckpointError;
use crate::fs::write_atomically;

/// Tokenizer files copied into a model directory when present.
pub const TOKENIZER_FILES: [&str; 5] = [
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
];

/// Modules that train beside a model without being part of it (the learned projections of
/// intermediate-layer distillation losses) live under this path of the model's VarStore:
/// checkpoints keep them for an exact resume, HF exports leave them out.
pub const TRAINING_ONLY_PREFIX: &str = "distillation";

/// Choices for [`save_hf_dir`].
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// Cast floating-point weights to this kind (`Float`, `BFloat16`, `Half`); `None` keeps
    /// each tensor's own.
    pub dtype: Option<Kind>,
    /// Copy the tokenizer files found here.
    pub tokenizer_dir: Option<PathBuf>,
}

/// Writes an HF model directory from a VarStore: exactly its variables go into
/// `model.safetensors`, except those under [`TRAINING_ONLY_PREFIX`] (tied weights share a
/// tensor rather than being variables, so they are left out as `transformers` leaves them
/// out). `config` must be a JSON object with `model_type` and `architectures`; see
/// [`save_hf_tensors`].
pub fn save_hf_dir(
    dir: &Path,
    config: &serde_json::Value,
    vs: &VarStore,
    options: &SaveOptions,
) -> Result<(), CheckpointError> {
    let training_only = format!("{TRAINING_ONLY_PREFIX}.");
    let tensors: BTreeMap<String, Tensor> = vs
        .variables()
        .into_iter()
        .filter(|(name, _)| !name.starts_with(&training_only))
        .collect();
    save_hf_tensors(dir, config, &tensors, options)
}

/// Writes an HF model directory from named tensors: `model.safetensors`, the tokenizer
/// files of `options.tokenizer_dir`, then `config.json` (with `dtype` set when a dtype
/// is chosen). Every file goes through a temporary file and a rename.
pub fn save_hf_tensors(
    dir: &Path,
    config: &serde_json::Value,
    tensors: &BTreeMap<String, Tensor>,
    options: &SaveOptions,
) -> Result<(), CheckpointError> {
    let config_path = dir.join("config.json");
    let mut config = config.clone();
    let fields = config
        .as_object_mut()
        .ok_or_else(|| CheckpointError::Config {
            path: config_path.clone(),
            reason: "the config to save is not a JSON object".to_string(),
        })?;
    for required in ["model_type", "architectures"] {
        if !fields.contains_key(required) {
            return Err(CheckpointError::Config {
                path: config_path,
                reason: format!("the config to save has no `{required}`"),
            });
        }
    }
    if let Some(kind) = options.dtype {
        // transformers 4.57 writes `dtype`; older configs carry `torch_dtype`.
        fields.insert("dtype".to_string(), torch_dtype_name(kind).into());
        if fields.contains_key("torch_dtype") {
            fields.insert("torch_dtype".to_string(), torch_dtype_name(kind).into());
        }
    }

    std::fs::create_dir_all(dir).map_err(|e| CheckpointError::io(dir, e))?;
    write_safetensors(&dir.join("model.safetensors"), tensors, options.dtype)?;
    if let Some(source) = &options.tokenizer_dir {
        copy_tokenizer_files(source, dir)?;
    }
    let mut text = serde_json::to_string_pretty(&config).map_err(|e| CheckpointError::Config {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    text.push('\n');
    write_atomically(&config_path, text.as_bytes())?;
    Ok(())
}

/// Copies whichever of [`TOKENIZER_FILES`] exist in `from` into `to`; returns their names.
pub fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<Vec<String>, CheckpointError> {
    let mut copied = Vec::new();
    for name in TOKENIZER_FILES {
        let source = from.join(name);
        if !source.is_file() {
            continue;
        }
        let bytes = std::fs::read(&source).map_err(|e| CheckpointError::io(&source, e))?;
        write_atomically(&to.join(name), &bytes)?;
        copied.push(name.to_string());
    }
    Ok(copied)
}

/// The `dtype` value `transformers` writes for a kind.
fn torch_dtype_name(kind: Kind) -> &'static str {
    match kind {
        Kind::BFloat16 => "bfloat16",
        Kind::Half => "float16",
        Kind::Double => "float64",
        _ => "float32",
    }
}
