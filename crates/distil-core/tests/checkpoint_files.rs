//! Checkpoint files: HF directories written and read back, PyTorch `.bin` files read without
//! running pickle code, sharded indexes, canonical names, and bad files refused by name.

#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use distil_core::checkpoint::{
    canonicalize, find_weights, load_into, read_tensors, save_hf_dir, CheckpointError, LoadSpec,
    SaveOptions, WEIGHT_FILES,
};
use distil_testkit::fixture;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A small store with random values: a base-model prefix, a LayerNorm and a head.
fn tiny_store(seed: i64) -> VarStore {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let root = vs.root();
    let emb = &root / "distilbert" / "embeddings";
    let _ = emb
        .sub("word_embeddings")
        .randn_standard("weight", &[12, 4]);
    let _ = emb.sub("LayerNorm").randn_standard("weight", &[4]);
    let _ = emb.sub("LayerNorm").randn_standard("bias", &[4]);
    let _ = root.sub("vocab_projector").randn_standard("bias", &[12]);
    vs
}

fn config() -> serde_json::Value {
    serde_json::json!({"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"], "dim": 4})
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn saved_directory_reads_and_loads_back_identically() {
    let vs = tiny_store(1);
    let out = tempfile::tempdir().unwrap();
    let options = SaveOptions {
        dtype: None,
        tokenizer_dir: Some(fixture("bert-mlm")),
    };
    save_hf_dir(out.path(), &config(), &vs, &options).unwrap();
    assert_eq!(
        sorted_names(out.path()),
        [
            "config.json",
            "model.safetensors",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json"
        ],
        "no temporary files are left behind"
    );
    let saved_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(saved_config, config());

    let file = find_weights(out.path()).unwrap();
    assert_eq!(file, out.path().join("model.safetensors"));
    let header = std::fs::read(&file).unwrap();
    let header_len = u64::from_le_bytes(header[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&header[8..8 + header_len]).to_string();
    assert!(
        header.contains(r#""__metadata__":{"format":"pt"}"#),
        "{header}"
    );

    let tensors = read_tensors(&file).unwrap();
    let variables = vs.variables();
    assert_eq!(tensors.len(), variables.len());
    for (key, value) in &variables {
        assert!(tensors[key].equal(value), "{key}");
    }
    let fresh = tiny_store(2);
    load_into(&fresh, &tensors, &LoadSpec::new("distilbert")).unwrap();
    for (key, value) in fresh.variables() {
        assert!(variables[&key].equal(&value), "{key}");
    }
}

#[test]
fn saving_in_bf16_casts_weights_and_records_the_dtype() {
    let vs = tiny_store(3);
    let out = tempfile::tempdir().unwrap();
    let options = SaveOptions {
        dtype: Some(Kind::BFloat16),
        tokenizer_dir: None,
    };
    save_hf_dir(out.path(), &config(), &vs, &options).unwrap();
    let tensors = read_tensors(&out.path().join("model.safetensors")).unwrap();
    for (key, value) in vs.variables() {
        assert_eq!(tensors[&key].kind(), Kind::BFloat16, "{key}");
        assert!(tensors[&key].equal(&value.to_kind(Kind::BFloat16)), "{key}");
    }
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["dtype"], "bfloat16");
}

#[test]
fn a_config_without_model_type_is_refused_before_writing() {
    let vs = tiny_store(4);
    let out = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"architectures": ["DistilBertModel"]});
    let err = save_hf_dir(out.path(), &config, &vs, &SaveOptions::default()).unwrap_err();
    assert!(err.to_string().contains("model_type"), "{err}");
    assert!(sorted_names(out.path()).is_empty());
}

#[test]
fn pytorch_bin_and_safetensors_of_a_fixture_hold_the_same_tensors() {
    for model in ["bert-mlm", "distilbert-mlm"] {
        let dir = fixture(model);
        let from_bin = read_tensors(&dir.join("pytorch_model.bin")).unwrap();
        let from_safetensors = read_tensors(&dir.join("model.safetensors")).unwrap();
        // The `.bin` also holds the tied duplicates that the safetensors file leaves out.
        let canonical = canonicalize(from_bin, true).unwrap();
        assert!(!canonical.dropped_tied.is_empty(), "{model}");
        assert_eq!(
            canonical.tensors.keys().collect::<Vec<_>>(),
            from_safetensors.keys().collect::<Vec<_>>(),
            "{model}"
        );
        for (key, tensor) in &from_safetensors {
            let other = &canonical.tensors[key];
            assert_eq!(other.kind(), tensor.kind(), "{model} {key}");
            assert!(other.equal(tensor), "{model} {key}");
        }
    }
}

#[test]
fn canonical_names_rename_legacy_keys_and_drop_tied_duplicates() {
    let t = |n: i64| Tensor::arange(n, (Kind::Float, Device::Cpu));
    let tensors = BTreeMap::from([
        ("bert.embeddings.word_embeddings.weight".to_string(), t(8)),
        ("bert.embeddings.LayerNorm.gamma".to_string(), t(2)),
        ("bert.embeddings.LayerNorm.beta".to_string(), t(2)),
        ("bert.embeddings.position_ids".to_string(), t(3)),
        ("cls.predictions.decoder.weight".to_string(), t(8)),
        ("cls.predictions.decoder.bias".to_string(), t(4)),
    ]);
    let tied = canonicalize(
        tensors.iter().map(|(k, v)| (k.clone(), v.copy())).collect(),
        true,
    )
    .unwrap();
    assert_eq!(
        tied.tensors.keys().collect::<Vec<_>>(),
        [
            "bert.embeddings.LayerNorm.bias",
            "bert.embeddings.LayerNorm.weight",
            "bert.embeddings.word_embeddings.weight",
            "cls.predictions.bias"
        ]
    );
    assert_eq!(tied.dropped_tied, ["cls.predictions.decoder.weight"]);
    assert_eq!(tied.dropped_buffers, ["bert.embeddings.position_ids"]);
    let untied = canonicalize(tensors, false).unwrap();
    assert!(untied
        .tensors
        .contains_key("cls.predictions.decoder.weight"));

    let both = BTreeMap::from([
        ("ln.gamma".to_string(), t(2)),
        ("ln.weight".to_string(), t(2)),
    ]);
    let err = canonicalize(both, true).unwrap_err();
    assert!(
        err.to_string().contains("`ln.gamma` and `ln.weight`"),
        "{err}"
    );
}

#[test]
fn a_shard_index_reads_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let a = Tensor::arange(4, (Kind::Float, Device::Cpu));
    let b = Tensor::arange(6, (Kind::Int64, Device::Cpu)).reshape([2, 3]);
    Tensor::write_safetensors(
        &[("a", &a)],
        dir.path().join("model-00001-of-00002.safetensors"),
    )
    .unwrap();
    Tensor::write_safetensors(
        &[("b", &b)],
        dir.path().join("model-00002-of-00002.safetensors"),
    )
    .unwrap();
    let index = serde_json::json!({"metadata": {}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}});
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    let file = find_weights(dir.path()).unwrap();
    assert!(file.ends_with("model.safetensors.index.json"));
    let tensors = read_tensors(&file).unwrap();
    assert!(tensors["a"].equal(&a) && tensors["b"].equal(&b));

    let escaping = serde_json::json!({"weight_map": {"a": "../elsewhere.safetensors"}});
    std::fs::write(&file, escaping.to_string()).unwrap();
    let err = read_tensors(&file).unwrap_err();
    assert!(err.to_string().contains("not a file name"), "{err}");
}

#[test]
fn a_truncated_safetensors_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture("bert-mlm/model.safetensors")).unwrap();
    for cut in [whole.len() - 100, whole.len() / 2, 100, 5] {
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, &whole[..cut]).unwrap();
        let err = read_tensors(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::Safetensors { .. }), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn a_directory_without_weights_lists_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    let err = find_weights(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    for name in WEIGHT_FILES {
        assert!(msg.contains(name), "{msg}");
    }
}

/// Writes `bytes` as a `pytorch_model.bin` and returns the error reading it gives.
fn bin_error(bytes: &[u8]) -> (tempfile::TempDir, PathBuf, CheckpointError) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pytorch_model.bin");
    std::fs::write(&path, bytes).unwrap();
    let err = read_tensors(&path).unwrap_err();
    (dir, path, err)
}

#[test]
fn garbage_and_truncated_bin_files_are_errors_naming_the_file() {
    let (_dir, path, err) = bin_error(b"this is not a checkpoint at all");
    assert!(matches!(err, CheckpointError::TorchArchive { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let whole = std::fs::read(fixture("bert-mlm/pytorch_model.bin")).unwrap();
    for cut in [whole.len() - 30, whole.len() / 2, 10] {
        std::fs::write(&path, &whole[..cut]).unwrap();
        let err = read_tensors(&path).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

/// A zip archive laid out as `torch.save` lays it out: this pickle and these storages.
fn torch_zip(path: &Path, pickle: &[u8], storages: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", stored).unwrap();
    zip.write_all(pickle).unwrap();
    for (key, bytes) in storages {
        zip.start_file(format!("archive/data/{key}"), stored)
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn a_pickle_naming_a_forbidden_global_is_refused_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("executed");
    let command = format!("touch {}", marker.display());
    let mut pickle = b"\x80\x02cos\nsystem\nq\x00X".to_vec();
    pickle.extend((command.len() as u32).to_le_bytes());
    pickle.extend(command.as_bytes());
    pickle.extend(b"\x85R.");
    let path = dir.path().join("pytorch_model.bin");
    torch_zip(&path, &pickle, &[]);

    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, CheckpointError::Refused { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("`os.system`"), "{msg}");
    assert!(
        msg.contains("safetensors.torch import save_file"),
        "names the conversion: {msg}"
    );
    assert!(!marker.exists(), "the pickle's command ran");
}

#[test]
fn the_legacy_non_zip_format_is_refused_with_the_conversion() {
    // Legacy torch.save files open with a pickled magic number, not a zip header.
    let (_dir, _path, err) = bin_error(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.");
    let msg = err.to_string();
    assert!(msg.contains("legacy"), "{msg}");
    assert!(msg.contains("weights_only=True"), "{msg}");
}

#[test]
fn a_tensor_view_outside_its_storage_is_refused() {
    // `_rebuild_tensor_v2(storage('0', FloatStorage, numel 2), offset 0, size (4,), ...)`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pytorch_model.bin");
    let pickle = b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x04\x85K\x01\x85\x89NtRs.";
    torch_zip(&path, pickle, &[("0", &[0u8; 8])]);
    let err = read_tensors(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("tensor `w`") && msg.contains("storage of 2 elements"),
        "{msg}"
    );
}

/// The pickle and storages of a `torch.save` archive.
fn torch_zip_parts(path: &Path) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut pickle = Vec::new();
    let mut storages = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name.ends_with("/data.pkl") {
            pickle = bytes;
        } else if let Some((_, key)) = name.split_once("/data/") {
            storages.push((key.to_string(), bytes));
        }
    }
    (pickle, storages)
}

#[test]
fn every_cut_or_corrupted_pickle_is_an_error_or_a_clean_read_never_a_panic() {
    let (pickle, storages) = torch_zip_parts(&fixture("distilbert-mlm/pytorch_model.bin"));
    let storages: Vec<(&str, &[u8])> = storages
        .iter()
        .map(|(k, b)| (k.as_str(), b.as_slice()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pytorch_model.bin");
    // Every few bytes, and every byte near the end where the records are completed.
    let cuts = (0..pickle.len())
        .step_by(5)
        .chain(pickle.len().saturating_sub(64)..pickle.len());
    for cut in cuts {
        // Reading stops in the pickle, before any storage is needed.
        torch_zip(&path, &pickle[..cut], &[]);
        let err = read_tensors(&path).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    // Flip single bytes at pseudo-random places: names may change, but reads never panic
    // and every tensor read stays inside its storage.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut corrupted = pickle.clone();
        let at = (state % corrupted.len() as u64) as usize;
        corrupted[at] ^= 1 << (state >> 61);
        torch_zip(&path, &corrupted, &storages);
        if let Ok(tensors) = read_tensors(&path) {
            assert!(tensors.values().all(|t| t.numel() <= 1000 * 32));
        }
    }
}
