//! The `distil fit-head` config (`configs/fit-head/*.yaml`).

use std::path::{Path, PathBuf};

use distil_core::config::{load_config, ConfigError, InvalidKey};
use distil_core::DeviceSpec;
use distil_data::{DataConfig, MaskingConfig, MaskingStrategy};
use serde::{Deserialize, Serialize};

use crate::config::{data_key, device_spec};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadFitConfig {
    /// The encoder: a local BERT or DistilBERT directory or a Hub id; a checkpoint that has a
    /// head gets it refitted.
    pub teacher: String,
    /// The training shards and their masking (BERT's uniform masking by default).
    pub data: DataConfig,
    pub eval: HeadEvalConfig,
    pub training: HeadTrainingConfig,
    pub output: HeadOutputConfig,
}

/// Held-out shards (`distil prep` of text the training shards do not hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadEvalConfig {
    pub shards: PathBuf,
    /// Batches scored (of `data.batch_size` sequences, masked as `data.masking` says).
    pub batches: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadTrainingConfig {
    /// Optimizer steps, one batch each.
    pub steps: u64,
    pub learning_rate: f64,
    /// Fraction of the steps spent warming up, then linear decay to 0.
    pub warmup_prop: f64,
    /// AdamW's decoupled decay on the transform's weight matrix.
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub seed: u64,
    #[serde(with = "device_spec")]
    pub device: DeviceSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadOutputConfig {
    /// Parent of the run directory.
    pub dir: PathBuf,
    pub run_name: String,
    /// Steps between metrics lines.
    pub log_interval: u64,
}

impl Default for HeadFitConfig {
    fn default() -> Self {
        Self {
            teacher: String::new(),
            data: DataConfig {
                batch_size: Some(32),
                masking: MaskingConfig {
                    strategy: MaskingStrategy::Uniform,
                    ..MaskingConfig::default()
                },
                ..DataConfig::default()
            },
            eval: HeadEvalConfig::default(),
            training: HeadTrainingConfig::default(),
            output: HeadOutputConfig::default(),
        }
    }
}

impl Default for HeadEvalConfig {
    fn default() -> Self {
        Self {
            shards: PathBuf::new(),
            batches: 20,
        }
    }
}

impl Default for HeadTrainingConfig {
    fn default() -> Self {
        Self {
            steps: 300,
            learning_rate: 2e-3,
            warmup_prop: 0.05,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 42,
            device: DeviceSpec::Auto,
        }
    }
}

impl Default for HeadOutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("experiments"),
            run_name: "fit-head".to_string(),
            log_interval: 10,
        }
    }
}

impl HeadFitConfig {
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let config: Self = load_config(path, overrides)?;
        config.validate().map_err(|e| e.in_file(path))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.teacher.is_empty() {
            return Err(InvalidKey::new(
                "teacher",
                "required: the encoder's directory or Hub id",
            ));
        }
        self.data.validate().map_err(data_key)?;
        if self.eval.shards.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "eval.shards",
                "required: held-out shards written by `distil prep`",
            ));
        }
        if self.eval.shards == self.data.shards {
            return Err(InvalidKey::new(
                "eval.shards",
                "must differ from data.shards: the head is scored on text it was not fitted on",
            ));
        }
        let positive = [
            ("eval.batches", self.eval.batches as f64),
            ("training.steps", self.training.steps as f64),
            ("training.learning_rate", self.training.learning_rate),
            ("training.max_grad_norm", self.training.max_grad_norm),
            ("output.log_interval", self.output.log_interval as f64),
        ];
        for (key, value) in positive {
            if !(value > 0.0 && value.is_finite()) {
                return Err(InvalidKey::new(key, format!("must be > 0, found {value}")));
            }
        }
        if !(0.0..1.0).contains(&self.training.warmup_prop) {
            return Err(InvalidKey::new("training.warmup_prop", "must be in [0, 1)"));
        }
        if self.training.weight_decay.is_nan() || self.training.weight_decay < 0.0 {
            return Err(InvalidKey::new("training.weight_decay", "must be >= 0"));
        }
        let name = self.output.run_name.as_str();
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(InvalidKey::new(
                "output.run_name",
                format!("must be a plain folder name, found `{name}`"),
            ));
        }
        Ok(())
    }

    pub fn run_dir(&self) -> PathBuf {
        self.output.dir.join(&self.output.run_name)
    }
}
