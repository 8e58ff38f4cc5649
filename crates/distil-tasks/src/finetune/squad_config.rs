//! `configs/squad/v*.yaml`: a SQuAD fine-tuning or evaluation run.

use std::path::{Path, PathBuf};

use distil_core::config::InvalidKey;
use serde::{Deserialize, Serialize};

use super::config::{
    validate_common, DistillationConfig, ModelConfig, OutputConfig, RunConfig, TrainingConfig,
};
use crate::squad::{
    read_squad, BadAnswerPolicy, DecodeConfig, SquadExample, SquadFeatureConfig, SquadVersion,
};
use crate::TaskError;

/// Everything a SQuAD run reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SquadRunConfig {
    /// `"1.1"` or `"2.0"` (unanswerable questions, the null answer and its threshold);
    /// `--version` sets it.
    pub version: SquadVersion,
    pub model: ModelConfig,
    pub data: SquadDataConfig,
    /// Windows: `max_seq_length` 384, `doc_stride` 128, `max_query_length` 64. `doc_stride_mode:
    /// step` (default) makes `doc_stride` the step between window starts, as the reference's
    /// `run_squad_w_distillation.py` and Google's BERT; `overlap` makes it the tokens that
    /// consecutive windows share, as `run_qa.py`.
    pub features: SquadFeatureConfig,
    /// n-best decoding: `n_best_size` 20, `max_answer_length` 30, `null_score_diff_threshold` 0.
    pub decode: DecodeConfig,
    pub training: TrainingConfig,
    pub distillation: DistillationConfig,
    pub output: OutputConfig,
}

impl Default for SquadRunConfig {
    fn default() -> Self {
        Self {
            version: SquadVersion::V2,
            model: ModelConfig::default(),
            data: SquadDataConfig::default(),
            features: SquadFeatureConfig::default(),
            decode: DecodeConfig::default(),
            training: TrainingConfig::default(),
            distillation: DistillationConfig::default(),
            output: OutputConfig::default(),
        }
    }
}

/// The SQuAD files. Only a dev subset ships (`data/squad/dev-v2.0-first5articles.json`);
/// the official train and dev files are passed with `--train-file` / `--dev-file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SquadDataConfig {
    pub train_file: Option<PathBuf>,
    pub dev_file: PathBuf,
    /// For smoke tests on the shipped subset only: with no `train_file`, train on this share
    /// of the dev file's paragraphs (the first ones) and evaluate on the rest. Scores from
    /// such a run are not SQuAD dev scores.
    pub dev_train_share: Option<f64>,
    /// Use only the first N training questions.
    pub max_train_examples: Option<usize>,
    /// Use only the first N evaluation questions.
    pub max_eval_examples: Option<usize>,
    /// A gold answer that is not found at its offset: `error` (default) or `skip` (counted).
    pub bad_answers: BadAnswerPolicy,
}

impl Default for SquadDataConfig {
    fn default() -> Self {
        Self {
            train_file: None,
            dev_file: PathBuf::from("data/squad/dev-v2.0-first5articles.json"),
            dev_train_share: None,
            max_train_examples: None,
            max_eval_examples: None,
            bad_answers: BadAnswerPolicy::Error,
        }
    }
}

/// The questions a run trains and evaluates on, and what reading them left out.
#[derive(Debug, Clone)]
pub struct SquadSplits {
    pub train: Vec<SquadExample>,
    pub eval: Vec<SquadExample>,
    /// Questions skipped for a bad answer (`bad_answers: skip`).
    pub skipped_bad_answers: usize,
    /// SQuAD v1.1 runs: unanswerable questions dropped from a v2.0 file.
    pub dropped_unanswerable: usize,
}

impl SquadDataConfig {
    /// Reads the files (the training side only when `with_train`), splitting the dev file
    /// when `dev_train_share` asks for it, then applies the caps.
    pub fn load(&self, version: SquadVersion, with_train: bool) -> Result<SquadSplits, TaskError> {
        let mut splits = SquadSplits {
            train: Vec::new(),
            eval: Vec::new(),
            skipped_bad_answers: 0,
            dropped_unanswerable: 0,
        };
        let mut read = |path: &Path| -> Result<Vec<SquadExample>, TaskError> {
            let dataset = read_squad(path, self.bad_answers)?;
            splits.skipped_bad_answers += dataset.skipped.len();
            let mut examples = dataset.examples;
            if version == SquadVersion::V1 {
                let before = examples.len();
                examples.retain(|e| !e.is_impossible);
                splits.dropped_unanswerable += before - examples.len();
            }
            Ok(examples)
        };
        let dev = read(&self.dev_file)?;
        let (train, eval) = match (&self.train_file, self.dev_train_share) {
            (Some(train_file), _) if with_train => (read(train_file)?, dev),
            (None, Some(share)) if with_train => split_by_paragraph(dev, share),
            _ => (Vec::new(), dev),
        };
        splits.train = cap(train, self.max_train_examples);
        splits.eval = cap(eval, self.max_eval_examples);
        Ok(splits)
    }
}

/// The first `share` of the paragraphs (rounded up) and the rest; questions about one
/// paragraph stay together so no context is seen on both sides.
fn split_by_paragraph(
    examples: Vec<SquadExample>,
    share: f64,
) -> (Vec<SquadExample>, Vec<SquadExample>) {
    let paragraphs = examples.iter().map(|e| e.paragraph + 1).max().unwrap_or(0);
    let cut = (paragraphs as f64 * share).ceil() as usize;
    examples.into_iter().partition(|e| e.paragraph < cut)
}

fn cap(mut examples: Vec<SquadExample>, max: Option<usize>) -> Vec<SquadExample> {
    if let Some(max) = max {
        examples.truncate(max);
    }
    examples
}

impl RunConfig for SquadRunConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        self.features
            .validate()
            .map_err(|e| InvalidKey::new("features", e.to_string()))?;
        self.decode
            .validate()
            .map_err(|e| InvalidKey::new("decode", e.to_string()))?;
        if let Some(share) = self.data.dev_train_share {
            if !(share > 0.0 && share < 1.0) {
                return Err(InvalidKey::new(
                    "data.dev_train_share",
                    format!("must be between 0 and 1 (exclusive), found {share}"),
                ));
            }
        }
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
