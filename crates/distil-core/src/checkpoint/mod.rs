//! Checkpoint IO compatible with Hugging Face `transformers`: read `model.safetensors`,
//! sharded checkpoints and PyTorch `pytorch_model.bin` files (without running pickle code),
//! match file keys to a VarStore's variables with HF's renamings ([`load_into`]), and write
//! HF model directories ([`save_hf_dir`]).

mod canonical;
mod config_shapes;
mod dtype;
mod error;
mod inspect;
mod load;
mod pickle;
mod safetensors;
mod save;
mod sharded;
mod torch_bin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::Tensor;

pub use canonical::{
    canonicalize, has_mlm_head, has_pooler, ties_word_embeddings, Canonical, TiedKey, TIED_KEYS,
};
pub use config_shapes::check_config_shapes;
pub use dtype::{kind_name, parse_float_kind};
pub use error::{conversion_command, CheckpointError, ConfigShapeMismatch};
pub use inspect::{inspect, Inspection, TensorEntry};
pub use load::{load_file_into, load_into, LoadReport, LoadSpec};
pub use save::{
    copy_tokenizer_files, save_hf_dir, save_hf_tensors, SaveOptions, TOKENIZER_FILES,
    TRAINING_ONLY_PREFIX,
};

/// Weight files of an HF model directory, in the order they are preferred.
pub const WEIGHT_FILES: [&str; 4] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
];

/// The weights file of a model directory (see [`WEIGHT_FILES`]); a path to a file is
/// returned as it is.
pub fn find_weights(dir: &Path) -> Result<PathBuf, CheckpointError> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(CheckpointError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
        ));
    }
    WEIGHT_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| CheckpointError::NoWeights {
            dir: dir.to_path_buf(),
            looked_for: WEIGHT_FILES.iter().map(|s| s.to_string()).collect(),
        })
}

/// Reads every tensor of a weights file onto the CPU, choosing the format by file name:
/// `*.safetensors`, `*.bin`/`*.pt`/`*.pth` (PyTorch zip) or `*.index.json` (shards).
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if name.ends_with(".index.json") {
        sharded::read_sharded(path)
    } else if name.ends_with(".safetensors") {
        safetensors::read_safetensors(path)
    } else if [".bin", ".pt", ".pth"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        torch_bin::read_torch_bin(path)
    } else {
        Err(CheckpointError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}
