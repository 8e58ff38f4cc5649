//! A frozen linear probe on a GLUE classification task: how much of the task a linear map of
//! the encoder's pooled vectors can read off, with nothing fine-tuned. The reference is
//! SentEval's protocol with scikit-learn's estimator:
//!
//! ```python
//! scaler = StandardScaler().fit(train)        # the training features' mean and (population) std
//! probe = LogisticRegression(C=1 / l2).fit(scaler.transform(train), train_labels)
//! accuracy = probe.score(scaler.transform(dev), dev_labels)
//! ```
//!
//! Features are the pooled last hidden states of the first `train_examples` training rows and
//! of every dev row; a pair task's two sentences are one sequence, as fine-tuning feeds them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::encoder::{progress_bar, SentenceEncoder, Text};
use super::logistic::{LogisticOptions, LogisticRegression};
use super::{Pooling, RepresentationError};
use crate::glue::metrics::accuracy;
use crate::{GlueExample, GlueLabel, GlueSplit, GlueTask, TaskError};

/// How the probe is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeOptions {
    pub pooling: Pooling,
    /// The first this many training rows are the probe's training set.
    pub train_examples: usize,
    /// The L2 penalty, `1 / C` in sklearn's terms.
    pub l2: f64,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Tokens per input, special tokens included (capped at the model's positions).
    pub max_seq_length: usize,
    /// Newton iterations at most (a few suffice; see [`LogisticRegression`]).
    pub max_iter: usize,
    /// Only the first N dev rows are scored (null: all).
    pub max_dev_examples: Option<usize>,
}

impl ProbeOptions {
    /// Checked before any file is read or model loaded, so a bad option fails at once.
    pub fn validate(&self) -> Result<(), TaskError> {
        let invalid = |key, reason: &str| {
            Err(TaskError::Config {
                key,
                reason: reason.to_string(),
            })
        };
        if self.train_examples == 0 {
            return invalid("train_examples", "must be at least 1");
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "must be at least 1");
        }
        if !(self.l2 > 0.0 && self.l2.is_finite()) {
            return invalid("l2", "must be positive and finite");
        }
        Ok(())
    }
}

impl Default for ProbeOptions {
    /// sklearn's default `C = 1`; 5000 training rows keep SST-2's features a few seconds' work.
    fn default() -> Self {
        Self {
            pooling: Pooling::Mean,
            train_examples: 5000,
            l2: 1.0,
            batch_size: 64,
            max_seq_length: 128,
            max_iter: LogisticOptions::default().max_iter,
            max_dev_examples: None,
        }
    }
}

/// The result of [`linear_probe`], as `distil eval probe` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeScore {
    pub model: PathBuf,
    /// The task's key (`sst-2`).
    pub task: String,
    pub pooling: Pooling,
    /// The truncation length used (the asked one, or the model's positions when fewer).
    pub max_seq_length: usize,
    pub train_examples: usize,
    pub dev_examples: usize,
    /// Dev accuracy, a fraction (as sklearn's `score` and `run_glue.py` give it).
    pub accuracy: f64,
    /// The task's official dev metrics, keyed as `run_glue.py` reports them (`mcc` for CoLA,
    /// `acc`/`f1` for MRPC and QQP, ...).
    pub metrics: BTreeMap<String, f64>,
    pub l2: f64,
    /// Newton iterations of the fit.
    pub iterations: usize,
    pub converged: bool,
}

/// A fitted probe: its score, and the standardisation and classifier that produced it.
#[derive(Debug)]
pub struct LinearProbe {
    pub score: ProbeScore,
    pub standardizer: Standardizer,
    pub classifier: LogisticRegression,
}

/// sklearn's `StandardScaler`: each feature centred on the training mean and divided by the
/// training (population) standard deviation; a constant feature is divided by 1.
#[derive(Debug)]
pub struct Standardizer {
    /// `[features]`, `Double`.
    pub mean: Tensor,
    /// `[features]`, `Double`.
    pub scale: Tensor,
}

impl Standardizer {
    pub fn fit(features: &Tensor) -> Result<Self, TaskError> {
        let features = features.f_to_kind(Kind::Double)?;
        let mean = features.f_mean_dim(0, false, None)?;
        let std = features.f_std_dim(0, false, false)?;
        let scale = std.f_masked_fill(&std.f_eq(0.0)?, 1.0)?;
        Ok(Self { mean, scale })
    }

    pub fn transform(&self, features: &Tensor) -> Result<Tensor, TaskError> {
        let centred = features.f_to_kind(Kind::Double)?.f_sub(&self.mean)?;
        Ok(centred.f_div(&self.scale)?)
    }
}

/// Fits and scores a probe of the model in `model_dir` on `task` (its `train.tsv` and dev file
/// under `glue_dir/<Task>/`); see the module docs. A regression task (STS-B), a missing or
/// empty file, or training rows that lack a class are errors naming the task or file.
pub fn linear_probe(
    model_dir: &Path,
    tokenizer: Option<&str>,
    task: GlueTask,
    glue_dir: &Path,
    options: &ProbeOptions,
    device: Device,
    progress: bool,
) -> Result<LinearProbe, RepresentationError> {
    if task.is_regression() {
        return Err(RepresentationError::RegressionTask { task });
    }
    options.validate()?;
    let task_dir = glue_dir.join(task.dir_name());
    let train_path = task.split_path(&task_dir, GlueSplit::Train)?;
    let dev_path = task.split_path(&task_dir, GlueSplit::Dev)?;
    let mut train = read_nonempty(task, GlueSplit::Train, &train_path)?;
    train.truncate(options.train_examples);
    let mut dev = read_nonempty(task, GlueSplit::Dev, &dev_path)?;
    if let Some(limit) = options.max_dev_examples {
        dev.truncate(limit.max(1));
    }
    let train_labels = class_ids(&train)?;
    let dev_labels = class_ids(&dev)?;
    let labels = task.labels().unwrap_or_default();
    if let Some(missing) = (0..labels.len()).find(|c| !train_labels.contains(c)) {
        return Err(RepresentationError::MissingClass {
            path: train_path,
            examples: train.len(),
            label: labels[missing].to_string(),
        });
    }

    let encoder = SentenceEncoder::load(model_dir, tokenizer, options.max_seq_length, device)?;
    let bar = progress_bar(train.len() + dev.len(), progress);
    let embed = |examples: &[GlueExample], message: &'static str| {
        bar.set_message(message);
        let texts: Vec<Text<'_>> = examples
            .iter()
            .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
            .collect();
        encoder.embed(&texts, options.pooling, options.batch_size, &bar)
    };
    let train_features = embed(&train, "train")?;
    let dev_features = embed(&dev, "dev")?;
    bar.finish_and_clear();

    let standardizer = Standardizer::fit(&train_features)?;
    let logistic = LogisticOptions {
        l2: options.l2,
        max_iter: options.max_iter,
        ..LogisticOptions::default()
    };
    let classifier = LogisticRegression::fit(
        &standardizer.transform(&train_features)?,
        &train_labels,
        labels.len(),
        &logistic,
    )?;
    let predicted = classifier.predict(&standardizer.transform(&dev_features)?)?;
    let as_labels = |ids: &[usize]| ids.iter().map(|&c| GlueLabel::Class(c)).collect::<Vec<_>>();
    let metrics = task.metrics(
        GlueSplit::Dev,
        &as_labels(&dev_labels),
        &as_labels(&predicted),
    )?;
    let score = ProbeScore {
        model: model_dir.to_path_buf(),
        task: task.key().to_string(),
        pooling: options.pooling,
        max_seq_length: encoder.max_seq_length(),
        train_examples: train.len(),
        dev_examples: dev.len(),
        accuracy: accuracy(&dev_labels, &predicted),
        metrics,
        l2: options.l2,
        iterations: classifier.iterations,
        converged: classifier.converged,
    };
    Ok(LinearProbe {
        score,
        standardizer,
        classifier,
    })
}

/// The split's examples, or an error naming the file when it has none.
fn read_nonempty(
    task: GlueTask,
    split: GlueSplit,
    path: &Path,
) -> Result<Vec<GlueExample>, RepresentationError> {
    let examples = task.read_examples(split, path)?;
    if examples.is_empty() {
        return Err(RepresentationError::NoExamples {
            path: path.to_path_buf(),
        });
    }
    Ok(examples)
}

/// The class id of each example (a classification task's train and dev rows all have one).
fn class_ids(examples: &[GlueExample]) -> Result<Vec<usize>, TaskError> {
    examples
        .iter()
        .map(|e| match e.label {
            Some(GlueLabel::Class(c)) => Ok(c),
            other => Err(TaskError::Mismatch {
                what: "label of a classification example",
                expected: "a class".to_string(),
                found: format!("{other:?} at line {}", e.line),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardising_centres_and_scales_like_sklearn() {
        let x = Tensor::from_slice(&[1.0f64, 5.0, 3.0, 5.0, 8.0, 5.0]).view([3, 2]);
        let s = Standardizer::fit(&x).unwrap();
        let t: Vec<Vec<f64>> = Vec::try_from(s.transform(&x).unwrap()).unwrap();
        // Column 0: mean 4, population std sqrt(26/3); column 1 constant: scale 1.
        let std = (26.0f64 / 3.0).sqrt();
        let want = [[-3.0 / std, 0.0], [-1.0 / std, 0.0], [4.0 / std, 0.0]];
        for (row, want) in t.iter().zip(want) {
            for (got, want) in row.iter().zip(want) {
                assert!((got - want).abs() < 1e-12, "{t:?}");
            }
        }
    }
}
