//! A bare `BertModel` checkpoint (no MLM head, no `bert.` prefix), as sentence-embedding models
//! such as all-MiniLM-L6-v2 are saved, made from the tiny BERT MLM fixture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_core::checkpoint::{copy_tokenizer_files, read_tensors, save_hf_tensors, SaveOptions};
use tch::Tensor;

use crate::fixture;

/// Writes the `bert-mlm` fixture without `cls.*` into `dir` (config `architectures:
/// ["BertModel"]`, tokenizer files included) and returns `dir`.
pub fn encoder_only_teacher(dir: &Path) -> PathBuf {
    let source = fixture("bert-mlm");
    let tensors: BTreeMap<String, Tensor> = read_tensors(&source.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("cls."))
        .map(|(k, t)| (k.trim_start_matches("bert.").to_string(), t))
        .collect();
    let mut config = crate::read_json(&source.join("config.json"));
    config["architectures"] = serde_json::json!(["BertModel"]);
    save_hf_tensors(dir, &config, &tensors, &SaveOptions::default()).unwrap();
    copy_tokenizer_files(&source, dir).unwrap();
    dir.to_path_buf()
}
