//! Building a model in a fresh VarStore and filling it from an HF checkpoint through
//! [`crate::checkpoint::load_into`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::nn::{self, VarStore};
use tch::{Device, Tensor};

use super::{read_config_file, HfConfig, ModelError};
use crate::checkpoint::{find_weights, load_into, read_tensors, LoadReport, LoadSpec};

/// A loaded model, the store owning its variables (for training, casting or saving), its
/// config and what the load did.
#[derive(Debug)]
pub struct Pretrained<M, C> {
    pub vs: VarStore,
    pub model: M,
    pub config: C,
    pub report: LoadReport,
}

/// Reads the weights of a model directory (or a weights file): the file used and its tensors.
pub fn read_weights(dir: &Path) -> Result<(PathBuf, BTreeMap<String, Tensor>), ModelError> {
    let file = find_weights(dir)?;
    let tensors = read_tensors(&file)?;
    Ok((file, tensors))
}

/// Builds a model with `build` in a new store on `device`, then loads `tensors` (read from
/// `file`, named in errors) as `spec` says.
pub fn build_and_load<M, C>(
    config: C,
    tensors: &BTreeMap<String, Tensor>,
    file: &Path,
    spec: &LoadSpec,
    device: Device,
    build: impl FnOnce(nn::Path, &C) -> M,
) -> Result<Pretrained<M, C>, ModelError> {
    let vs = VarStore::new(device);
    let model = build(vs.root(), &config);
    let report = load_into(&vs, tensors, spec).map_err(|e| e.in_file(file))?;
    Ok(Pretrained {
        vs,
        model,
        config,
        report,
    })
}

/// A model with a fixed layout that loads from an HF directory.
pub trait PretrainedModel: Sized {
    type Config: HfConfig;

    /// The model with fresh (HF-initialised) weights; the parent path is the store's root.
    fn build(p: nn::Path, config: &Self::Config) -> Self;

    /// How checkpoint keys map to this model's variables (base prefix, fresh heads).
    fn load_spec() -> LoadSpec;

    /// Loads `config.json` and the weights of an HF model directory.
    fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, Self::Config>, ModelError> {
        let config: Self::Config = read_config_file(&dir.join("config.json"))?;
        let (file, tensors) = read_weights(dir)?;
        Self::from_tensors(config, &tensors, &file, device)
    }

    /// Builds the model for `config` and loads `tensors` (read from `file`) into it.
    fn from_tensors(
        config: Self::Config,
        tensors: &BTreeMap<String, Tensor>,
        file: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, Self::Config>, ModelError> {
        build_and_load(config, tensors, file, &Self::load_spec(), device, |p, c| {
            Self::build(p, c)
        })
    }
}
