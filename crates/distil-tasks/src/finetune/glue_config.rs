//! `configs/glue/<task>.yaml`: a GLUE fine-tuning or evaluation run.

use std::path::PathBuf;

use distil_core::config::InvalidKey;
use serde::{Deserialize, Serialize};

use super::config::{
    validate_common, DistillationConfig, ModelConfig, OutputConfig, RunConfig, TrainingConfig,
};
use crate::glue::{GlueFeatureConfig, GlueTask};

/// Everything a GLUE run reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlueRunConfig {
    /// The task (`sst-2`, `mnli`, ...); `--task` sets it, and a config written for another
    /// task is refused.
    pub task: Option<String>,
    pub model: ModelConfig,
    pub data: GlueDataConfig,
    pub features: GlueFeatureConfig,
    pub training: TrainingConfig,
    pub distillation: DistillationConfig,
    pub output: OutputConfig,
}

/// Where the task's TSV files are, and optional caps for quick runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlueDataConfig {
    /// The task folder as GLUE distributes it (`train.tsv`, `dev.tsv`, `test.tsv`; MNLI's
    /// `dev_matched.tsv` ...). Defaults to `data/glue/<Task>`.
    pub dir: Option<PathBuf>,
    /// Use only the first N training rows.
    pub max_train_examples: Option<usize>,
    /// Use only the first N rows of each dev split.
    pub max_eval_examples: Option<usize>,
    /// Predict the test split(s) into GLUE-submission TSVs (skipped when the file is absent).
    pub predict_test: bool,
}

impl Default for GlueDataConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_train_examples: None,
            max_eval_examples: None,
            predict_test: true,
        }
    }
}

impl GlueRunConfig {
    /// The task, checked against the config's own `task` when both are given.
    pub fn resolve_task(&mut self, task: GlueTask) -> Result<(), InvalidKey> {
        if let Some(named) = &self.task {
            let parsed: GlueTask = named
                .parse()
                .map_err(|e: crate::TaskError| InvalidKey::new("task", e.to_string()))?;
            if parsed != task {
                return Err(InvalidKey::new(
                    "task",
                    format!("the config is for {parsed}, the command line asks for {task}"),
                ));
            }
        }
        self.task = Some(task.key().to_string());
        Ok(())
    }

    /// The task folder.
    pub fn data_dir(&self, task: GlueTask) -> PathBuf {
        self.data
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data/glue").join(task.dir_name()))
    }
}

impl RunConfig for GlueRunConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        if let Some(task) = &self.task {
            task.parse::<GlueTask>()
                .map_err(|e| InvalidKey::new("task", e.to_string()))?;
        }
        self.features
            .validate()
            .map_err(|e| InvalidKey::new("features.max_seq_length", e.to_string()))?;
        for (key, cap) in [
            ("data.max_train_examples", self.data.max_train_examples),
            ("data.max_eval_examples", self.data.max_eval_examples),
        ] {
            if cap == Some(0) {
                return Err(InvalidKey::new(key, "must be at least 1 (or left out)"));
            }
        }
        validate_common(
            &self.model,
            &self.training,
            &self.distillation,
            &self.output,
        )
    }
}
