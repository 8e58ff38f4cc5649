//! `distil finetune squad` and `distil eval squad`: SQuAD windows, the span objective with
//! optional task-time distillation, n-best decoding to `predictions.json`, and the official
//! EM/F1 (HasAns/NoAns for v2.0).

use std::collections::BTreeMap;

use distil_amp::InferenceModeGuard;
use distil_core::nn::span_loss;
use distil_core::CoreError;
use distil_data::tokenizer::{load_tokenizer_file, tokenizer_file};
use distil_data::TokenizerError;
use serde_json::Value;
use tch::Device;

use super::config::DistillationConfig;
use super::error::FinetuneError;
use super::loss::{span_kd, StepLoss};
use super::model::{collate_segments, input_for, ModelRef, SpanExtractor, TaskModel};
use super::setup::{
    load_logged, save_model, start_evaluation, start_training, train_then_evaluate, Evaluated,
    RunSpec, StartedRun,
};
use super::squad_config::{SquadRunConfig, SquadSplits};
use super::trainer::{FineTuneTask, LoopOptions, Scored};
use super::{Batching, RunSummary};
use crate::batch::SegmentIds;
use crate::output::write_json;
use crate::squad::{
    decode_answers, evaluate, DecodeConfig, FeatureLogits, PairLayout, QaBatch, SquadExample,
    SquadFeature, SquadFeatureConfig, SquadFeaturizer, SquadPredictions, SquadScores, SquadVersion,
};
use crate::TaskError;

/// A SpanExtractor as an objective holds it.
pub type Reader<'a> = ModelRef<'a, SpanExtractor>;

/// The windows a run trains and evaluates on.
#[derive(Debug)]
pub struct SquadData {
    pub version: SquadVersion,
    pub train: Vec<SquadFeature>,
    pub eval_examples: Vec<SquadExample>,
    pub eval_features: Vec<SquadFeature>,
}

impl SquadData {
    pub fn build(
        version: SquadVersion,
        splits: SquadSplits,
        featurizer: &SquadFeaturizer,
    ) -> Result<Self, TaskError> {
        Ok(Self {
            version,
            train: featurizer.build(&splits.train)?,
            eval_features: featurizer.build(&splits.eval)?,
            eval_examples: splits.eval,
        })
    }
}

/// The SQuAD objective over one run's data.
pub struct SquadFineTune<'a> {
    data: &'a SquadData,
    student: Reader<'a>,
    teacher: Option<Reader<'a>>,
    weights: DistillationConfig,
    decode: DecodeConfig,
    collate_segments: SegmentIds,
    batching: Batching,
}

/// Scores and the predictions they came from.
#[derive(Debug, Clone)]
pub struct SquadEvaluation {
    pub scores: SquadScores,
    pub predictions: SquadPredictions,
}

impl Scored for SquadEvaluation {
    fn metrics(&self) -> BTreeMap<String, f64> {
        numbers(&self.scores.to_json())
    }

    fn main_metric(&self) -> f64 {
        self.scores.all.f1
    }
}

/// The numeric entries of a JSON object.
fn numbers(value: &Value) -> BTreeMap<String, f64> {
    value
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
}

impl<'a> SquadFineTune<'a> {
    pub fn new(
        data: &'a SquadData,
        student: Reader<'a>,
        teacher: Option<Reader<'a>>,
        weights: DistillationConfig,
        decode: DecodeConfig,
        batching: Batching,
    ) -> Self {
        Self {
            collate_segments: collate_segments(&student, teacher.as_ref()),
            data,
            student,
            teacher,
            weights,
            decode,
            batching,
        }
    }

    /// The student's loss on a batch of windows: the span loss, plus the mean of the start
    /// and end soft-target terms when there is a teacher (run in eval mode, without
    /// gradients, on its own inputs).
    pub fn loss(&self, features: &[&SquadFeature], train: bool) -> StepLoss {
        let batch = QaBatch::collate(features, self.batching.pad_id, self.collate_segments)
            .to_device(self.batching.device);
        let (start, end) = self
            .student
            .model
            .logits(&input_for(&batch.inputs, self.student.segments), train);
        let task_loss = span_loss(&start, &end, &batch.start_positions, &batch.end_positions);
        let kd = self.teacher.as_ref().map(|teacher| {
            let (t_start, t_end) = tch::no_grad(|| {
                teacher
                    .model
                    .logits(&input_for(&batch.inputs, teacher.segments), false)
            });
            span_kd(
                (&start, &end),
                (&t_start, &t_end),
                &batch.inputs.attention_mask,
                self.weights.temperature,
            )
        });
        StepLoss::combine(task_loss, kd, &self.weights)
    }

    /// Decodes the student's answers for the evaluation questions and scores them. The logits
    /// only become answers, so the forward runs in inference mode (no autograd bookkeeping).
    pub fn evaluate_answers(&self) -> Result<SquadEvaluation, FinetuneError> {
        let _inference = InferenceModeGuard::enter()?;
        let mut logits = Vec::with_capacity(self.data.eval_features.len());
        for chunk in self
            .data
            .eval_features
            .chunks(self.batching.eval_batch_size)
        {
            let refs: Vec<&SquadFeature> = chunk.iter().collect();
            let batch = QaBatch::collate(&refs, self.batching.pad_id, self.student.segments)
                .to_device(self.batching.device);
            let (start, end) = self
                .student
                .model
                .logits(&input_for(&batch.inputs, self.student.segments), false);
            logits.extend(FeatureLogits::from_batch(&start, &end)?);
        }
        let version = self.data.version;
        let predictions = decode_answers(
            &self.data.eval_examples,
            &self.data.eval_features,
            &logits,
            version,
            &self.decode,
        )?;
        let null_odds = (version == SquadVersion::V2).then_some(&predictions.null_odds);
        let scores = evaluate(
            &self.data.eval_examples,
            &predictions.answers,
            null_odds,
            version,
        );
        Ok(SquadEvaluation {
            scores,
            predictions,
        })
    }
}

impl FineTuneTask for SquadFineTune<'_> {
    type Feature = SquadFeature;
    type Evaluation = SquadEvaluation;

    fn train_features(&self) -> &[SquadFeature] {
        &self.data.train
    }

    fn batch_loss(&self, features: &[&SquadFeature], train: bool) -> StepLoss {
        self.loss(features, train)
    }

    fn evaluate(&self) -> Result<SquadEvaluation, FinetuneError> {
        self.evaluate_answers()
    }
}

fn load_reader(spec: &str, device: Device) -> Result<TaskModel<SpanExtractor>, FinetuneError> {
    load_logged(spec, "question-answering", |dir| {
        SpanExtractor::load(dir, device)
    })
}

/// The featurizer for the model's `layout` with the tokenizer of `spec`. A tokenizer that
/// cannot serve SQuAD (no `tokenizer.json`, offsets that do not locate its tokens, another
/// family's layout) is an error naming its file.
fn load_featurizer(
    spec: &str,
    layout: PairLayout,
    features: &SquadFeatureConfig,
) -> Result<SquadFeaturizer, FinetuneError> {
    let path = match tokenizer_file(spec) {
        Err(TokenizerError::Source(CoreError::MissingFile { dir, file })) => {
            return Err(FinetuneError::SquadTokenizer {
                path: dir.join(file),
                reason: "no such file; SQuAD needs a fast tokenizer's tokenizer.json, whose \
                         offsets map tokens back to the context (vocab.txt, or vocab.json and \
                         merges.txt, give none)"
                    .into(),
            });
        }
        found => found?,
    };
    SquadFeaturizer::new(&load_tokenizer_file(&path)?, layout, features).map_err(|e| match e {
        TaskError::Offsets(_) | TaskError::Layout { .. } | TaskError::MissingSpecialToken(_) => {
            FinetuneError::SquadTokenizer {
                path,
                reason: e.to_string(),
            }
        }
        other => other.into(),
    })
}

/// An error unless the teacher takes question and context as the student does: both read
/// the same windows.
fn check_teacher_layout(
    student: &TaskModel<SpanExtractor>,
    teacher: Option<&TaskModel<SpanExtractor>>,
) -> Result<(), FinetuneError> {
    match teacher {
        Some(teacher) if teacher.model.layout() != student.model.layout() => {
            Err(FinetuneError::Teacher {
                dir: teacher.dir.clone(),
                reason: format!(
                    "it is a {} model, which takes SQuAD windows as {}; the {} student takes {}",
                    teacher.config.model_type(),
                    teacher.model.layout().describe(),
                    student.config.model_type(),
                    student.model.layout().describe()
                ),
            })
        }
        _ => Ok(()),
    }
}

/// Reads the data and logs what reading left out.
fn load_splits(config: &SquadRunConfig, with_train: bool) -> Result<SquadSplits, FinetuneError> {
    let splits = config.data.load(config.version, with_train)?;
    if splits.skipped_bad_answers > 0 {
        log::warn!(
            "skipped {} questions whose answer is not in the context",
            splits.skipped_bad_answers
        );
    }
    if splits.dropped_unanswerable > 0 {
        log::warn!(
            "SQuAD v1.1 run: dropped {} unanswerable (v2.0) questions",
            splits.dropped_unanswerable
        );
    }
    if with_train && splits.train.is_empty() {
        return Err(FinetuneError::NoTrainingData(
            "no SQuAD training questions: pass --train-file (the official train file is not \
             shipped), or for a smoke test set data.dev_train_share to train on part of the \
             dev file"
                .into(),
        ));
    }
    Ok(splits)
}

/// Fine-tunes `config.model.source` on SQuAD and writes the run folder.
pub fn finetune_squad(
    config: &SquadRunConfig,
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
        run_spec(config, "finetune"),
        config.training.seed,
        options,
        |spec| load_reader(spec, device),
    )?;
    check_teacher_layout(&student, teacher.as_ref())?;
    let featurizer = load_featurizer(tokenizer_spec, student.model.layout(), &config.features)?;
    let data = SquadData::build(config.version, load_splits(config, true)?, &featurizer)?;
    // Saved once everything loaded: a run that failed to start leaves an empty folder.
    run.save_config(config)?;
    let segments = student.segments();
    let TaskModel { vs, model, .. } = &mut student;
    let objective = SquadFineTune::new(
        &data,
        Reader {
            model: &*model,
            segments,
        },
        teacher.as_ref().map(Reader::from),
        config.distillation,
        config.decode.clone(),
        Batching::new(featurizer.pad_id(), &config.training, device),
    );
    let Some(Evaluated { evaluation, best }) =
        train_then_evaluate(&objective, vs, &config.training, &run, options)?
    else {
        return Ok(RunSummary::interrupted(run.root()));
    };
    write_outputs(&evaluation, &data, run.root(), source, best)?;
    save_model(&student, student.model.architecture(), &run, tokenizer_spec)?;
    Ok(RunSummary::finished(run.root(), evaluation.metrics()))
}

/// Evaluates an already fine-tuned QA model on the dev file without training.
pub fn eval_squad(config: &SquadRunConfig, device: Device) -> Result<RunSummary, FinetuneError> {
    let StartedRun {
        source,
        run,
        student,
        tokenizer_spec,
        ..
    } = start_evaluation(run_spec(config, "eval"), |spec| load_reader(spec, device))?;
    let featurizer = load_featurizer(tokenizer_spec, student.model.layout(), &config.features)?;
    let data = SquadData::build(config.version, load_splits(config, false)?, &featurizer)?;
    run.save_config(config)?;
    let objective = SquadFineTune::new(
        &data,
        Reader::from(&student),
        None,
        config.distillation,
        config.decode.clone(),
        Batching::new(featurizer.pad_id(), &config.training, device),
    );
    let evaluation = tch::no_grad(|| objective.evaluate_answers())?;
    write_outputs(&evaluation, &data, run.root(), source, None)?;
    Ok(RunSummary::finished(run.root(), evaluation.metrics()))
}

/// The run folder `<kind>-squad<version>` and the span head on `config`'s model.
fn run_spec<'c>(config: &'c SquadRunConfig, kind: &str) -> RunSpec<'c> {
    RunSpec {
        model: &config.model,
        output: &config.output,
        name: format!("{kind}-squad{}", config.version),
        max_seq_length: config.features.max_seq_length,
        head: "question-answering",
    }
}

/// `predictions.json` (official format), `nbest_predictions.json`, `null_odds.json` (v2.0)
/// and `results.json` (the official evaluator's keys plus run facts).
fn write_outputs(
    evaluation: &SquadEvaluation,
    data: &SquadData,
    dir: &std::path::Path,
    source: &str,
    best: Option<(u64, f64)>,
) -> Result<(), FinetuneError> {
    evaluation.predictions.write(dir)?;
    let mut results = evaluation.scores.to_json();
    if let Some(fields) = results.as_object_mut() {
        fields.insert("version".into(), data.version.as_str().into());
        fields.insert("model".into(), source.into());
        fields.insert("questions".into(), data.eval_examples.len().into());
        fields.insert("windows".into(), data.eval_features.len().into());
        fields.insert("best_epoch".into(), best.map(|(epoch, _)| epoch).into());
    }
    write_json(&dir.join("results.json"), &results)?;
    Ok(())
}
