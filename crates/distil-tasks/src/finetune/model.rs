//! The models a fine-tuning run trains or evaluates: a BERT, a DistilBERT or a RoBERTa, chosen
//! by `config.json`'s `model_type`, with a sequence-classification or a question-answering
//! head, loaded from an HF directory or Hub id, and saved back as an HF directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_core::checkpoint::{save_hf_dir, LoadReport, SaveOptions};
use distil_core::nn::{read_weights, ModelError, PretrainedModel};
use distil_core::EncoderInput;
use distil_models::AnyConfig;
use distil_roberta::{RobertaForQuestionAnswering, RobertaForSequenceClassification};
use distil_student::{DistilBertForQuestionAnswering, DistilBertForSequenceClassification};
use distil_teacher::{BertForQuestionAnswering, BertForSequenceClassification};
use serde_json::Value;
use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::error::FinetuneError;
use crate::batch::{EncoderBatch, SegmentIds};
use crate::squad::PairLayout;

/// BERT takes segment ids; DistilBERT has no segment embeddings and takes none, and RoBERTa's
/// one-row table (`type_vocab_size` 1) takes only zeros, which it fills in itself. (GPT-2
/// has no task head here and never gets this far.)
pub fn segments_of(config: &AnyConfig) -> SegmentIds {
    match config {
        AnyConfig::Bert(_) => SegmentIds::Keep,
        AnyConfig::DistilBert(_) | AnyConfig::Roberta(_) | AnyConfig::Gpt2(_) => SegmentIds::Drop,
    }
}

/// The error for a `dir` whose `model_type` has no `task` head here, naming the folder, the
/// `model_type` and the types that have one.
fn no_task_head(dir: &Path, config: &AnyConfig, task: &str) -> FinetuneError {
    ModelError::WrongModelType {
        dir: dir.to_path_buf(),
        message: format!(
            "config.json has model_type \"{}\", which has no {task} head; {task} takes a \
             \"bert\", \"distilbert\" or \"roberta\" model",
            config.model_type()
        ),
    }
    .into()
}

/// The encoder input a model of this kind takes from a batch (collated with segment ids
/// whenever any model of the run needs them).
pub fn input_for(batch: &EncoderBatch, segments: SegmentIds) -> EncoderInput<'_> {
    match segments {
        SegmentIds::Keep => batch.encoder_input(),
        SegmentIds::Drop => EncoderInput::new(&batch.input_ids, &batch.attention_mask),
    }
}

/// A loaded model and how it takes its inputs, as an objective holds it.
#[derive(Debug)]
pub struct ModelRef<'a, M> {
    pub model: &'a M,
    pub segments: SegmentIds,
}

impl<M> Clone for ModelRef<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for ModelRef<'_, M> {}

impl<'a, M> From<&'a TaskModel<M>> for ModelRef<'a, M> {
    fn from(model: &'a TaskModel<M>) -> Self {
        Self {
            model: &model.model,
            segments: model.segments(),
        }
    }
}

/// How a run's batches are collated: with segment ids when any of its models is a BERT (a
/// BERT teacher must get them even when the DistilBERT student takes none).
pub fn collate_segments<M>(
    student: &ModelRef<'_, M>,
    teacher: Option<&ModelRef<'_, M>>,
) -> SegmentIds {
    let keep = std::iter::once(student)
        .chain(teacher)
        .any(|m| m.segments == SegmentIds::Keep);
    if keep {
        SegmentIds::Keep
    } else {
        SegmentIds::Drop
    }
}

/// What happened to the task head when the model was loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadState {
    /// Every head weight came from the checkpoint.
    Loaded,
    /// The head starts from fresh weights; the reason names the variables.
    Fresh(String),
}

/// A loaded task model: its store (for the optimizer and checkpoints), the model, its config
/// (with the task's labels), the load report and the head's state.
#[derive(Debug)]
pub struct TaskModel<M> {
    pub dir: PathBuf,
    pub vs: VarStore,
    pub model: M,
    pub config: AnyConfig,
    pub report: LoadReport,
    pub head: HeadState,
}

impl<M> TaskModel<M> {
    pub fn segments(&self) -> SegmentIds {
        segments_of(&self.config)
    }

    pub fn max_positions(&self) -> i64 {
        self.config.max_position_embeddings()
    }

    pub fn vocab_size(&self) -> i64 {
        self.config.vocab_size()
    }

    /// An error unless the head was loaded: a teacher or a model to evaluate must already be
    /// fine-tuned.
    pub fn require_trained_head(&self, head: &'static str) -> Result<(), FinetuneError> {
        match &self.head {
            HeadState::Loaded => Ok(()),
            HeadState::Fresh(reason) => Err(FinetuneError::NoHead {
                dir: self.dir.clone(),
                head,
                reason: reason.clone(),
            }),
        }
    }

    /// Writes `dir` as an HF model directory (`config.json` with `architectures` and the
    /// labels, `model.safetensors`, and the tokenizer files found in `tokenizer_dir`).
    pub fn save(
        &self,
        dir: &Path,
        architecture: &str,
        tokenizer_dir: Option<&Path>,
    ) -> Result<(), FinetuneError> {
        let mut config =
            serde_json::to_value(&self.config).map_err(|source| FinetuneError::Json {
                path: dir.join("config.json"),
                source,
            })?;
        if let Some(fields) = config.as_object_mut() {
            fields.insert("architectures".into(), Value::from(vec![architecture]));
        }
        let options = SaveOptions {
            dtype: None,
            tokenizer_dir: tokenizer_dir.map(Path::to_path_buf),
        };
        save_hf_dir(dir, &config, &self.vs, &options)?;
        Ok(())
    }
}

/// A sequence classifier (or STS-B regressor) of any kind.
#[derive(Debug)]
pub enum SequenceClassifier {
    Bert(BertForSequenceClassification),
    DistilBert(DistilBertForSequenceClassification),
    Roberta(RobertaForSequenceClassification),
}

impl SequenceClassifier {
    /// Logits `[batch, num_labels]`.
    pub fn logits(&self, input: &EncoderInput, train: bool) -> Tensor {
        match self {
            SequenceClassifier::Bert(m) => m.forward_t(input, train).logits,
            SequenceClassifier::DistilBert(m) => m.forward_t(input, train).logits,
            SequenceClassifier::Roberta(m) => m.forward_t(input, train).logits,
        }
    }

    /// The HF class name saved in `config.json`.
    pub fn architecture(&self) -> &'static str {
        match self {
            SequenceClassifier::Bert(_) => "BertForSequenceClassification",
            SequenceClassifier::DistilBert(_) => "DistilBertForSequenceClassification",
            SequenceClassifier::Roberta(_) => "RobertaForSequenceClassification",
        }
    }

    /// Loads `dir` with a head of `labels.len()` outputs whose names are `labels`. A checkpoint
    /// without a classifier, or with one of another width (a head trained on another task),
    /// gets a fresh classifier, as `transformers` does with `ignore_mismatched_sizes`.
    pub fn load(
        dir: &Path,
        labels: &[String],
        device: Device,
    ) -> Result<TaskModel<Self>, FinetuneError> {
        let mut config = AnyConfig::from_dir(dir)?;
        set_labels(&mut config, labels);
        let (file, mut tensors) = read_weights(dir)?;
        let mismatch = drop_mismatched_head(&mut tensors, labels.len() as i64);
        let (vs, model, config, report) = match config {
            AnyConfig::Bert(c) => {
                let p = BertForSequenceClassification::from_tensors(c, &tensors, &file, device)?;
                let model = SequenceClassifier::Bert(p.model);
                (p.vs, model, AnyConfig::Bert(p.config), p.report)
            }
            AnyConfig::DistilBert(c) => {
                let p =
                    DistilBertForSequenceClassification::from_tensors(c, &tensors, &file, device)?;
                let model = SequenceClassifier::DistilBert(p.model);
                (p.vs, model, AnyConfig::DistilBert(p.config), p.report)
            }
            AnyConfig::Roberta(c) => {
                let p = RobertaForSequenceClassification::from_tensors(c, &tensors, &file, device)?;
                let model = SequenceClassifier::Roberta(p.model);
                (p.vs, model, AnyConfig::Roberta(p.config), p.report)
            }
            gpt2 @ AnyConfig::Gpt2(_) => {
                return Err(no_task_head(dir, &gpt2, "sequence classification"))
            }
        };
        let head = head_state(
            &report,
            &["classifier", "pre_classifier", "bert.pooler"],
            mismatch,
        );
        Ok(TaskModel {
            dir: dir.to_path_buf(),
            vs,
            model,
            config,
            report,
            head,
        })
    }
}

/// A span-extraction (QA) model of any kind.
#[derive(Debug)]
pub enum SpanExtractor {
    Bert(BertForQuestionAnswering),
    DistilBert(DistilBertForQuestionAnswering),
    Roberta(RobertaForQuestionAnswering),
}

impl SpanExtractor {
    /// Start and end logits, each `[batch, seq]`.
    pub fn logits(&self, input: &EncoderInput, train: bool) -> (Tensor, Tensor) {
        let out = match self {
            SpanExtractor::Bert(m) => m.forward_t(input, train),
            SpanExtractor::DistilBert(m) => m.forward_t(input, train),
            SpanExtractor::Roberta(m) => m.forward_t(input, train),
        };
        (out.start_logits, out.end_logits)
    }

    /// How the model takes a question and a context: BERT's layout for BERT and DistilBERT
    /// (which drops the segment ids), RoBERTa's for RoBERTa.
    pub fn layout(&self) -> PairLayout {
        match self {
            SpanExtractor::Bert(_) | SpanExtractor::DistilBert(_) => PairLayout::BERT,
            SpanExtractor::Roberta(_) => PairLayout::ROBERTA,
        }
    }

    /// The HF class name saved in `config.json`.
    pub fn architecture(&self) -> &'static str {
        match self {
            SpanExtractor::Bert(_) => "BertForQuestionAnswering",
            SpanExtractor::DistilBert(_) => "DistilBertForQuestionAnswering",
            SpanExtractor::Roberta(_) => "RobertaForQuestionAnswering",
        }
    }

    /// Loads `dir`; a checkpoint without `qa_outputs` (a pre-trained encoder, or an MLM
    /// checkpoint whose head is left out) gets a fresh one.
    pub fn load(dir: &Path, device: Device) -> Result<TaskModel<Self>, FinetuneError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights(dir)?;
        let (vs, model, config, report) = match config {
            AnyConfig::Bert(c) => {
                let p = BertForQuestionAnswering::from_tensors(c, &tensors, &file, device)?;
                let model = SpanExtractor::Bert(p.model);
                (p.vs, model, AnyConfig::Bert(p.config), p.report)
            }
            AnyConfig::DistilBert(c) => {
                let p = DistilBertForQuestionAnswering::from_tensors(c, &tensors, &file, device)?;
                let model = SpanExtractor::DistilBert(p.model);
                (p.vs, model, AnyConfig::DistilBert(p.config), p.report)
            }
            AnyConfig::Roberta(c) => {
                let p = RobertaForQuestionAnswering::from_tensors(c, &tensors, &file, device)?;
                let model = SpanExtractor::Roberta(p.model);
                (p.vs, model, AnyConfig::Roberta(p.config), p.report)
            }
            gpt2 @ AnyConfig::Gpt2(_) => {
                return Err(no_task_head(dir, &gpt2, "question answering"))
            }
        };
        let head = head_state(&report, &["qa_outputs"], None);
        Ok(TaskModel {
            dir: dir.to_path_buf(),
            vs,
            model,
            config,
            report,
            head,
        })
    }
}

/// Writes the task's labels into the config (`id2label`, `label2id`), as `transformers`
/// saves a fine-tuned classifier.
fn set_labels(config: &mut AnyConfig, labels: &[String]) {
    let id2label: BTreeMap<String, String> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), l.clone()))
        .collect();
    let label2id: serde_json::Map<String, Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), Value::from(i)))
        .collect();
    let (slot, count, extra) = match config {
        AnyConfig::Bert(c) => (&mut c.id2label, &mut c.num_labels, &mut c.extra),
        AnyConfig::DistilBert(c) => (&mut c.id2label, &mut c.num_labels, &mut c.extra),
        AnyConfig::Roberta(c) => (&mut c.id2label, &mut c.num_labels, &mut c.extra),
        // No classifier to label: loading refuses it.
        AnyConfig::Gpt2(_) => return,
    };
    *slot = Some(id2label);
    // `id2label` carries the count; a stale `num_labels` would contradict it.
    *count = None;
    extra.insert("label2id".into(), Value::Object(label2id));
}

/// The classifier's output layer: BERT's and DistilBERT's `classifier`, RoBERTa's
/// `classifier.out_proj` (after its `classifier.dense`).
const CLASSIFIER_OUTPUT_LAYERS: [&str; 2] = ["classifier.out_proj", "classifier"];

/// Removes a classifier output layer whose width is not `num_labels` from the tensors to load
/// (as `ignore_mismatched_sizes` does, the rest of the head is kept), and says what it had.
fn drop_mismatched_head(tensors: &mut BTreeMap<String, Tensor>, num_labels: i64) -> Option<String> {
    let (layer, rows) = CLASSIFIER_OUTPUT_LAYERS.iter().find_map(|layer| {
        tensors
            .get(&format!("{layer}.weight"))
            .map(|w| (*layer, w.size()[0]))
    })?;
    if rows == num_labels {
        return None;
    }
    let prefix = format!("{layer}.");
    tensors.retain(|key, _| !key.starts_with(&prefix));
    Some(format!(
        "the checkpoint's classifier has {rows} outputs, the task needs {num_labels}"
    ))
}

fn head_state(report: &LoadReport, prefixes: &[&str], mismatch: Option<String>) -> HeadState {
    let fresh: Vec<&str> = report
        .missing_allowed
        .iter()
        .filter(|name| prefixes.iter().any(|p| name.starts_with(&format!("{p}."))))
        .map(String::as_str)
        .collect();
    match (fresh.is_empty(), mismatch) {
        (true, _) => HeadState::Loaded,
        (false, Some(why)) => HeadState::Fresh(format!("{why}; fresh {}", fresh.join(", "))),
        (false, None) => HeadState::Fresh(format!(
            "not in the checkpoint, so fresh: {}",
            fresh.join(", ")
        )),
    }
}
