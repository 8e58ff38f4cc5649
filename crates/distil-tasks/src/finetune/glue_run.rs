//! `distil finetune glue` and `distil eval glue`: GLUE data to features, the classification
//! (or STS-B regression) objective with optional task-time distillation, dev metrics, dev
//! predictions, GLUE-submission TSVs and the fine-tuned model.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use distil_amp::InferenceModeGuard;
use distil_core::fs::write_atomically;
use distil_core::nn::sequence_classification_loss;
use distil_data::load_tokenizer;
use serde_json::json;
use tch::Device;

use super::config::DistillationConfig;
use super::error::FinetuneError;
use super::glue_config::GlueRunConfig;
use super::loss::{classification_kd, StepLoss};
use super::model::{collate_segments, input_for, ModelRef, SequenceClassifier, TaskModel};
use super::setup::{
    load_logged, save_model, start_evaluation, start_training, train_then_evaluate, Evaluated,
    RunSpec, StartedRun,
};
use super::trainer::{FineTuneTask, LoopOptions, Scored};
use super::{Batching, RunSummary};
use crate::batch::SegmentIds;
use crate::glue::{
    ClassificationBatch, GlueEncoder, GlueExample, GlueFeature, GlueLabel, GlueSplit, GlueTask,
};
use crate::output::write_json;
use crate::TaskError;

/// The score that picks the best epoch: the task's headline metric.
pub fn main_metric_key(task: GlueTask) -> &'static str {
    match task {
        GlueTask::Cola => "mcc",
        GlueTask::Stsb => "corr",
        GlueTask::Mrpc | GlueTask::Qqp => "acc_and_f1",
        GlueTask::Mnli => "mnli/acc",
        _ => "acc",
    }
}

/// One split's rows and their features.
#[derive(Debug)]
pub struct GlueSplitData {
    pub split: GlueSplit,
    pub examples: Vec<GlueExample>,
    pub features: Vec<GlueFeature>,
}

/// A task's data for one run.
#[derive(Debug)]
pub struct GlueData {
    pub task: GlueTask,
    pub train: Vec<GlueFeature>,
    pub dev: Vec<GlueSplitData>,
    pub test: Vec<GlueSplitData>,
}

impl GlueData {
    /// Reads and encodes the task folder's splits: train when `with_train`, every dev split,
    /// and the test splits that exist when `predict_test`.
    pub fn load(
        task: GlueTask,
        config: &GlueRunConfig,
        encoder: &GlueEncoder,
        with_train: bool,
    ) -> Result<Self, FinetuneError> {
        let dir = config.data_dir(task);
        let read = |split: GlueSplit, cap: Option<usize>| -> Result<GlueSplitData, TaskError> {
            let mut examples = task.read_examples(split, &task.split_path(&dir, split)?)?;
            if let Some(cap) = cap {
                examples.truncate(cap);
            }
            let features = encoder.encode(&examples)?;
            Ok(GlueSplitData {
                split,
                examples,
                features,
            })
        };
        let train = if with_train {
            read(GlueSplit::Train, config.data.max_train_examples)?.features
        } else {
            Vec::new()
        };
        let dev = task
            .dev_splits()
            .iter()
            .map(|&split| read(split, config.data.max_eval_examples))
            .collect::<Result<Vec<_>, _>>()?;
        let mut test = Vec::new();
        if config.data.predict_test {
            for &split in task.test_splits() {
                let path = task.split_path(&dir, split)?;
                if path.is_file() {
                    test.push(read(split, None)?);
                } else {
                    log::warn!("no {} (skipping its submission file)", path.display());
                }
            }
        }
        Ok(Self {
            task,
            train,
            dev,
            test,
        })
    }
}

/// A SequenceClassifier as an objective holds it.
pub type Classifier<'a> = ModelRef<'a, SequenceClassifier>;

/// The GLUE objective over one run's data.
pub struct GlueFineTune<'a> {
    task: GlueTask,
    data: &'a GlueData,
    student: Classifier<'a>,
    teacher: Option<Classifier<'a>>,
    weights: DistillationConfig,
    /// `Keep` when any model of the run is a BERT.
    collate_segments: SegmentIds,
    batching: Batching,
}

impl<'a> GlueFineTune<'a> {
    pub fn new(
        data: &'a GlueData,
        student: Classifier<'a>,
        teacher: Option<Classifier<'a>>,
        weights: DistillationConfig,
        batching: Batching,
    ) -> Self {
        Self {
            collate_segments: collate_segments(&student, teacher.as_ref()),
            task: data.task,
            data,
            student,
            teacher,
            weights,
            batching,
        }
    }

    /// The student's loss on a batch of features: the head's loss, plus the soft-target term
    /// when there is a teacher. The teacher runs in eval mode without gradients on its own
    /// inputs (with segment ids when it is a BERT).
    pub fn loss(&self, features: &[&GlueFeature], train: bool) -> StepLoss {
        let batch =
            ClassificationBatch::collate(features, self.batching.pad_id, self.collate_segments)
                .to_device(self.batching.device);
        let logits = self
            .student
            .model
            .logits(&input_for(&batch.inputs, self.student.segments), train);
        let task_loss = match &batch.labels {
            Some(labels) => sequence_classification_loss(&logits, labels),
            None => logits.sum(tch::Kind::Float) * 0.0,
        };
        let kd = self.teacher.as_ref().map(|teacher| {
            let teacher_logits = tch::no_grad(|| {
                teacher
                    .model
                    .logits(&input_for(&batch.inputs, teacher.segments), false)
            });
            classification_kd(&logits, &teacher_logits, self.weights.temperature)
        });
        StepLoss::combine(task_loss, kd, &self.weights)
    }

    /// The student's predictions for `features`, in order. The logits only become labels, so
    /// the forward runs in inference mode (no autograd bookkeeping).
    pub fn predict(&self, features: &[GlueFeature]) -> Result<Vec<GlueLabel>, FinetuneError> {
        let _inference = InferenceModeGuard::enter()?;
        let mut predictions = Vec::with_capacity(features.len());
        for chunk in features.chunks(self.batching.eval_batch_size) {
            let refs: Vec<&GlueFeature> = chunk.iter().collect();
            let batch =
                ClassificationBatch::collate(&refs, self.batching.pad_id, self.student.segments)
                    .to_device(self.batching.device);
            let logits = self
                .student
                .model
                .logits(&input_for(&batch.inputs, self.student.segments), false);
            predictions.extend(self.task.predictions_from_logits(&logits)?);
        }
        Ok(predictions)
    }
}

/// Dev predictions and metrics of every dev split.
#[derive(Debug, Clone)]
pub struct GlueEvaluation {
    pub task: GlueTask,
    pub predictions: Vec<(GlueSplit, Vec<GlueLabel>)>,
    pub metrics: BTreeMap<String, f64>,
}

impl Scored for GlueEvaluation {
    fn metrics(&self) -> BTreeMap<String, f64> {
        self.metrics.clone()
    }

    fn main_metric(&self) -> f64 {
        let value = self
            .metrics
            .get(main_metric_key(self.task))
            .copied()
            .unwrap_or(f64::NEG_INFINITY);
        // A constant prediction makes Pearson NaN; it must still lose to any real score.
        if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        }
    }
}

impl FineTuneTask for GlueFineTune<'_> {
    type Feature = GlueFeature;
    type Evaluation = GlueEvaluation;

    fn train_features(&self) -> &[GlueFeature] {
        &self.data.train
    }

    fn batch_loss(&self, features: &[&GlueFeature], train: bool) -> StepLoss {
        self.loss(features, train)
    }

    fn evaluate(&self) -> Result<GlueEvaluation, FinetuneError> {
        let mut metrics = BTreeMap::new();
        let mut predictions = Vec::new();
        for split in &self.data.dev {
            let predicted = self.predict(&split.features)?;
            let gold: Vec<GlueLabel> = split.examples.iter().filter_map(|e| e.label).collect();
            metrics.extend(self.task.metrics(split.split, &gold, &predicted)?);
            predictions.push((split.split, predicted));
        }
        Ok(GlueEvaluation {
            task: self.task,
            predictions,
            metrics,
        })
    }
}

/// The classifier of `spec` with the task's labels, its load report logged.
fn load_classifier(
    task: GlueTask,
    spec: &str,
    device: Device,
) -> Result<TaskModel<SequenceClassifier>, FinetuneError> {
    let labels: Vec<String> = match task.labels() {
        Some(names) => names.iter().map(|n| n.to_string()).collect(),
        None => vec!["LABEL_0".to_string()],
    };
    load_logged(spec, "classification", |dir| {
        SequenceClassifier::load(dir, &labels, device)
    })
}

/// Fine-tunes `config.model.source` on `task` and writes the run folder.
pub fn finetune_glue(
    task: GlueTask,
    config: &GlueRunConfig,
    device: Device,
    options: &LoopOptions,
) -> Result<RunSummary, FinetuneError> {
    let StartedRun {
        source,
        run,
        mut student,
        teacher,
        tokenizer_spec,
    } = start_training(
        run_spec(task, config, "finetune"),
        config.training.seed,
        options,
        |spec| load_classifier(task, spec, device),
    )?;
    let encoder = GlueEncoder::new(&load_tokenizer(tokenizer_spec)?, &config.features)?;
    let data = GlueData::load(task, config, &encoder, true)?;
    // Saved once everything loaded: a run that failed to start leaves an empty folder, which
    // a rerun may reuse.
    run.save_config(config)?;
    let segments = student.segments();
    let TaskModel { vs, model, .. } = &mut student;
    let objective = GlueFineTune::new(
        &data,
        Classifier {
            model: &*model,
            segments,
        },
        teacher.as_ref().map(Classifier::from),
        config.distillation,
        Batching::new(encoder.pad_id(), &config.training, device),
    );
    let Some(Evaluated { evaluation, best }) =
        train_then_evaluate(&objective, vs, &config.training, &run, options)?
    else {
        return Ok(RunSummary::interrupted(run.root()));
    };
    write_outputs(&objective, &evaluation, run.root(), source, best)?;
    save_model(&student, student.model.architecture(), &run, tokenizer_spec)?;
    Ok(RunSummary::finished(run.root(), evaluation.metrics))
}

/// Evaluates an already fine-tuned classifier on the dev split(s) (and predicts the test
/// split) without training.
pub fn eval_glue(
    task: GlueTask,
    config: &GlueRunConfig,
    device: Device,
) -> Result<RunSummary, FinetuneError> {
    let StartedRun {
        source,
        run,
        student,
        tokenizer_spec,
        ..
    } = start_evaluation(run_spec(task, config, "eval"), |spec| {
        load_classifier(task, spec, device)
    })?;
    let encoder = GlueEncoder::new(&load_tokenizer(tokenizer_spec)?, &config.features)?;
    let data = GlueData::load(task, config, &encoder, false)?;
    run.save_config(config)?;
    let objective = GlueFineTune::new(
        &data,
        Classifier::from(&student),
        None,
        config.distillation,
        Batching::new(encoder.pad_id(), &config.training, device),
    );
    let evaluation = tch::no_grad(|| objective.evaluate())?;
    write_outputs(&objective, &evaluation, run.root(), source, None)?;
    Ok(RunSummary::finished(run.root(), evaluation.metrics))
}

/// The run folder `<kind>-<task>` and the classification head on `config`'s model.
fn run_spec<'c>(task: GlueTask, config: &'c GlueRunConfig, kind: &str) -> RunSpec<'c> {
    RunSpec {
        model: &config.model,
        output: &config.output,
        name: format!("{kind}-{}", task.key()),
        max_seq_length: config.features.max_seq_length,
        head: "classification",
    }
}

/// `results.json`, `predictions/<split>.tsv` and `submission/<Task>.tsv`.
fn write_outputs(
    objective: &GlueFineTune<'_>,
    evaluation: &GlueEvaluation,
    dir: &Path,
    source: &str,
    best: Option<(u64, f64)>,
) -> Result<(), FinetuneError> {
    let task = objective.task;
    let data = objective.data;
    let mut sizes = serde_json::Map::new();
    for (split, predicted) in &evaluation.predictions {
        let Some(split_data) = data.dev.iter().find(|d| d.split == *split) else {
            continue;
        };
        sizes.insert(split_name(*split).into(), split_data.examples.len().into());
        let mut text = String::from("line\tprediction\tlabel\n");
        for (example, &prediction) in split_data.examples.iter().zip(predicted) {
            let gold = match example.label {
                Some(label) => task.prediction_text(label)?,
                None => String::new(),
            };
            let _ = writeln!(
                text,
                "{}\t{}\t{gold}",
                example.line,
                task.prediction_text(prediction)?
            );
        }
        let path = dir
            .join("predictions")
            .join(format!("{}.tsv", split_name(*split)));
        write_atomically(&path, text.as_bytes()).map_err(TaskError::from)?;
    }
    for split in &data.test {
        let predicted = objective.predict(&split.features)?;
        task.write_submission(
            &dir.join("submission"),
            split.split,
            &split.examples,
            &predicted,
        )?;
    }
    let results = json!({
        "task": task.dir_name(),
        "model": source,
        "examples": sizes,
        "main_metric": main_metric_key(task),
        "best_epoch": best.map(|(epoch, _)| epoch),
        "metrics": evaluation.metrics,
    });
    write_json(&dir.join("results.json"), &results)?;
    Ok(())
}

fn split_name(split: GlueSplit) -> &'static str {
    match split {
        GlueSplit::Train => "train",
        GlueSplit::Dev => "dev",
        GlueSplit::DevMismatched => "dev_mismatched",
        GlueSplit::Test => "test",
        GlueSplit::TestMismatched => "test_mismatched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_main_metric_its_metrics_report() {
        for task in GlueTask::ALL {
            let n = 4;
            let gold: Vec<GlueLabel> = (0..n)
                .map(|i| match task.labels() {
                    Some(_) => GlueLabel::Class(i % 2),
                    None => GlueLabel::Score(i as f64),
                })
                .collect();
            let metrics = task.metrics(task.dev_splits()[0], &gold, &gold).unwrap();
            assert!(metrics.contains_key(main_metric_key(task)), "{task}");
        }
    }
}
