//! The sections every fine-tuning config shares (`model`, `training`, `distillation`,
//! `output`), with the defaults of the reference's `run_glue.py` / `run_squad.py`, and the
//! loading of a run config from a YAML file (or the built-in defaults) plus `--set` overrides.

use std::path::{Path, PathBuf};

use distil_core::config::{load_config, parse_config, ConfigError, InvalidKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A run config that can check itself after loading.
pub trait RunConfig: DeserializeOwned {
    fn validate(&self) -> Result<(), InvalidKey>;
}

/// Reads `path` (or, without one, the built-in defaults), applies `overrides`
/// (`a.b=value`) and validates; errors name the file and the key.
pub fn load_run_config<T: RunConfig>(
    path: Option<&Path>,
    overrides: &[String],
) -> Result<T, ConfigError> {
    let (config, origin): (T, PathBuf) = match path {
        Some(path) => (load_config(path, overrides)?, path.to_path_buf()),
        None => {
            let origin = PathBuf::from("(built-in defaults)");
            (parse_config("", &origin, overrides)?, origin)
        }
    };
    config.validate().map_err(|e| e.in_file(&origin))?;
    Ok(config)
}

/// The models of a run. The command line's `--model`, `--tokenizer` and `--teacher` fill
/// these, so the saved config records what was used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The model to fine-tune (or evaluate): an HF directory or a Hub id.
    pub source: Option<String>,
    /// `tokenizer.json` directory, file or Hub id; defaults to `source`.
    pub tokenizer: Option<String>,
    /// A teacher already fine-tuned on the task: adds the soft-target loss ("DistilBERT (D)").
    pub teacher: Option<String>,
}

impl ModelConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        for (key, value) in [
            ("model.source", &self.source),
            ("model.tokenizer", &self.tokenizer),
            ("model.teacher", &self.teacher),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(InvalidKey::new(
                    key,
                    "is empty; leave it out or name a model",
                ));
            }
        }
        Ok(())
    }

    /// Where the tokenizer comes from.
    pub fn tokenizer_spec(&self) -> Option<&str> {
        self.tokenizer.as_deref().or(self.source.as_deref())
    }
}

/// Optimisation and schedule. Defaults are `run_glue.py`'s and `run_squad.py`'s: lr 5e-5,
/// 3 epochs, batch 8, AdamW (0.9, 0.999, eps 1e-8), no weight decay, clipping at 1.0, no
/// warmup then linear decay to 0, seed 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: u32,
    pub train_batch_size: usize,
    /// Evaluation results do not depend on it (batches are padded per batch and padding is
    /// masked), only speed does.
    pub eval_batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub adam_epsilon: f64,
    pub adam_betas: [f64; 2],
    /// Global gradient-norm clipping; 0 turns it off.
    pub max_grad_norm: f64,
    pub warmup_steps: u64,
    pub seed: u64,
    /// Optimizer steps between `metrics.jsonl` lines.
    pub logging_steps: u64,
    /// Optimizer steps between mid-epoch checkpoints; 0 checkpoints only at each epoch's end
    /// (after the dev evaluation).
    pub checkpoint_steps: u64,
    /// Checkpoints kept besides the best one.
    pub keep_last: usize,
    /// Keep the epoch with the best dev score as the final model (else the last epoch).
    pub keep_best: bool,
    /// Score the dev set after every epoch (false: after the last only, as the legacy
    /// `run_glue.py` does; needs `keep_best: false`, and saves the evaluations' time).
    pub evaluate_each_epoch: bool,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            train_batch_size: 8,
            eval_batch_size: 64,
            learning_rate: 5e-5,
            weight_decay: 0.0,
            adam_epsilon: 1e-8,
            adam_betas: [0.9, 0.999],
            max_grad_norm: 1.0,
            warmup_steps: 0,
            seed: 42,
            logging_steps: 50,
            checkpoint_steps: 0,
            keep_last: 1,
            keep_best: true,
            evaluate_each_epoch: true,
        }
    }
}

impl TrainingConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        let positive = [
            ("training.epochs", u64::from(self.epochs)),
            ("training.train_batch_size", self.train_batch_size as u64),
            ("training.eval_batch_size", self.eval_batch_size as u64),
            ("training.logging_steps", self.logging_steps),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(InvalidKey::new(*key, "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(InvalidKey::new(
                "training.learning_rate",
                format!("must be a positive number, found {}", self.learning_rate),
            ));
        }
        for (key, value) in [
            ("training.weight_decay", self.weight_decay),
            ("training.max_grad_norm", self.max_grad_norm),
            ("training.adam_epsilon", self.adam_epsilon),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InvalidKey::new(
                    key,
                    format!("must be 0 or more, found {value}"),
                ));
            }
        }
        if self.keep_best && !self.evaluate_each_epoch {
            return Err(InvalidKey::new(
                "training.evaluate_each_epoch",
                "keep_best picks the best epoch on dev, so every epoch must be scored: set \
                 keep_best: false to score the last epoch only",
            ));
        }
        if self.adam_betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return Err(InvalidKey::new(
                "training.adam_betas",
                format!("each must be in [0, 1), found {:?}", self.adam_betas),
            ));
        }
        Ok(())
    }
}

/// Task-time distillation from a fine-tuned teacher (`model.teacher`):
/// `alpha_task * task loss + alpha_ce * KL(teacher || student at T) * T^2`. The reference
/// (`run_squad_w_distillation.py`) uses 0.5, 0.5 and T = 2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistillationConfig {
    pub alpha_task: f64,
    pub alpha_ce: f64,
    pub temperature: f64,
}

impl Default for DistillationConfig {
    fn default() -> Self {
        Self {
            alpha_task: 0.5,
            alpha_ce: 0.5,
            temperature: 2.0,
        }
    }
}

impl DistillationConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        for (key, value) in [
            ("distillation.alpha_task", self.alpha_task),
            ("distillation.alpha_ce", self.alpha_ce),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InvalidKey::new(
                    key,
                    format!("must be 0 or more, found {value}"),
                ));
            }
        }
        if self.alpha_task + self.alpha_ce <= 0.0 {
            return Err(InvalidKey::new(
                "distillation.alpha_ce",
                "alpha_task and alpha_ce are both 0: nothing to train on",
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(InvalidKey::new(
                "distillation.temperature",
                format!("must be positive, found {}", self.temperature),
            ));
        }
        Ok(())
    }
}

/// Where the run folder goes: `<dir>/<run_name>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    pub dir: PathBuf,
    /// Defaults to `<command>-<task>-<model folder name>` (`--run` sets it).
    pub run_name: Option<String>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("experiments"),
            run_name: None,
        }
    }
}

impl OutputConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        match &self.run_name {
            Some(name) if name.is_empty() || name.contains(['/', '\\']) || name == ".." => Err(
                InvalidKey::new("output.run_name", format!("`{name}` is not a folder name")),
            ),
            _ => Ok(()),
        }
    }

    /// The run folder, naming it `<prefix>-<model folder name>` when no name is set.
    pub fn run_dir(&self, prefix: &str, model: Option<&str>) -> PathBuf {
        let name = self.run_name.clone().unwrap_or_else(|| {
            let model = model
                .and_then(|m| Path::new(m.trim_end_matches('/')).file_name())
                .map(|n| n.to_string_lossy().replace(' ', "_"))
                .unwrap_or_else(|| "model".to_string());
            format!("{prefix}-{model}")
        });
        self.dir.join(name)
    }
}

/// Validates the shared sections in order.
pub(crate) fn validate_common(
    model: &ModelConfig,
    training: &TrainingConfig,
    distillation: &DistillationConfig,
    output: &OutputConfig,
) -> Result<(), InvalidKey> {
    model.validate()?;
    training.validate()?;
    distillation.validate()?;
    output.validate()
}
