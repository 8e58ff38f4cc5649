//! The distillation run config (`configs/distill/*.yaml`). Every default is the recipe that
//! produced `distilbert-base-uncased` (recipe doc sections 1.6 to 1.12 and 2).

use std::path::{Path, PathBuf};

use distil_amp::AutocastDtype;
use distil_core::config::{load_config, ConfigError, InvalidKey};
use distil_core::{DeviceSpec, Objective};
use distil_data::{DataConfig, DataError};
use distil_distributed::{DistributedConfig, DistributedError};
use distil_student::StudentShape;
use serde::{Deserialize, Serialize};

use crate::loss::{LayerMap, PooledDistance};
use crate::step::StepSwitches;

/// Everything a `distil distill` run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DistillConfig {
    pub teacher: TeacherConfig,
    pub student: StudentConfig,
    /// Shards, batch size or token budget, length grouping and masking.
    pub data: DataConfig,
    pub loss: LossConfig,
    pub optimizer: OptimizerConfig,
    pub training: TrainingConfig,
    /// Where the vocabulary head runs and which attention kernel the encoders use (the same
    /// losses either way).
    pub step: StepSwitches,
    pub output: OutputConfig,
    /// Timeouts and gradient buckets under `torchrun` (ignored by a single process).
    pub distributed: DistributedConfig,
}

impl DistillConfig {
    /// Reads `path`, applies `--set` overrides, then validates; errors name the file and key.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let config: Self = load_config(path, overrides)?;
        config.validate().map_err(|e| e.in_file(path))?;
        Ok(config)
    }

    /// The reference's start-up sanity checks that need no model (`train.py`), plus ours.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        self.teacher.validate()?;
        self.student.validate()?;
        self.data.validate().map_err(data_key)?;
        self.loss.validate()?;
        if self.teacher.is_none() {
            self.validate_without_teacher()?;
        }
        self.optimizer.validate()?;
        self.training.validate()?;
        self.output.validate()?;
        self.distributed.validate().map_err(distributed_key)
    }

    /// `teacher.source: none` trains the student on its LM loss alone (pretraining from
    /// scratch): nothing may read a teacher.
    fn validate_without_teacher(&self) -> Result<(), InvalidKey> {
        for (key, alpha) in self.loss.teacher_terms() {
            if alpha != 0.0 {
                return Err(InvalidKey::new(
                    key,
                    format!("must be 0 with teacher.source: none (found {alpha})"),
                ));
            }
        }
        if self.student.init == StudentInit::TeacherLayers {
            return Err(InvalidKey::new(
                "student.init",
                "teacher_layers needs a teacher; with teacher.source: none use init: config or \
                 init: checkpoint",
            ));
        }
        Ok(())
    }

    /// `experiments/<run_name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.output.dir.join(&self.output.run_name)
    }
}

/// Numeric format a model's weights are kept in (`teacher.dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    Fp32,
    Bf16,
    /// CUDA only.
    Fp16,
}

impl Precision {
    pub fn kind(self) -> tch::Kind {
        match self {
            Precision::Fp32 => tch::Kind::Float,
            Precision::Bf16 => tch::Kind::BFloat16,
            Precision::Fp16 => tch::Kind::Half,
        }
    }
}

/// How the student trains (`training.precision`), as PyTorch AMP does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingPrecision {
    /// Everything in fp32.
    #[default]
    Fp32,
    /// The student's forward (and so its backward) under CPU or CUDA autocast in bf16, with
    /// fp32 master weights and optimizer state; the teacher stored in bf16; losses in fp32.
    /// `bf16` is the old spelling.
    #[serde(alias = "bf16")]
    Bf16Autocast,
    /// As `bf16-autocast` in fp16 with a dynamic loss scale; CUDA only. `fp16` is the old
    /// spelling.
    #[serde(alias = "fp16")]
    Fp16Autocast,
}

impl TrainingPrecision {
    /// The dtype the student's autocast regions run in, `None` for fp32.
    pub fn autocast_dtype(self) -> Option<AutocastDtype> {
        match self {
            TrainingPrecision::Fp32 => None,
            TrainingPrecision::Bf16Autocast => Some(AutocastDtype::BFloat16),
            TrainingPrecision::Fp16Autocast => Some(AutocastDtype::Half),
        }
    }

    /// The teacher's storage when `teacher.dtype` leaves it to the run: the autocast dtype
    /// (the teacher has no gradients, so half-width weights cost it little).
    pub fn teacher_dtype(self) -> Precision {
        match self {
            TrainingPrecision::Fp32 => Precision::Fp32,
            TrainingPrecision::Bf16Autocast => Precision::Bf16,
            TrainingPrecision::Fp16Autocast => Precision::Fp16,
        }
    }
}

/// Where the teacher comes from: `teacher.source` in YAML, a path or Hub id, or `none`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TeacherSource {
    /// `none`: no teacher; the student trains on its LM loss (MLM or CLM) alone.
    None,
    /// A local HF directory or a Hub id (`bert-base-uncased`).
    Model(String),
}

impl TeacherSource {
    const NONE: &'static str = "none";
}

impl From<String> for TeacherSource {
    fn from(text: String) -> Self {
        if text.trim() == Self::NONE {
            TeacherSource::None
        } else {
            TeacherSource::Model(text)
        }
    }
}

impl From<TeacherSource> for String {
    fn from(source: TeacherSource) -> Self {
        match source {
            TeacherSource::None => TeacherSource::NONE.to_string(),
            TeacherSource::Model(source) => source,
        }
    }
}

/// The frozen teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeacherConfig {
    /// A local HF directory or a Hub id (`bert-base-uncased`), or `none` to train the
    /// student on its LM loss alone.
    pub source: TeacherSource,
    /// The teacher runs without gradients, so bf16 halves its memory at little cost.
    pub dtype: Precision,
}

impl Default for TeacherConfig {
    fn default() -> Self {
        Self {
            source: TeacherSource::Model("bert-base-uncased".to_string()),
            dtype: Precision::Fp32,
        }
    }
}

impl TeacherConfig {
    /// `source: none`: the run has no teacher.
    pub fn is_none(&self) -> bool {
        self.source == TeacherSource::None
    }

    fn validate(&self) -> Result<(), InvalidKey> {
        if matches!(&self.source, TeacherSource::Model(source) if source.trim().is_empty()) {
            return Err(InvalidKey::new(
                "teacher.source",
                "must name a local model directory or a Hub id",
            ));
        }
        Ok(())
    }
}

/// How the student's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StudentInit {
    /// Copy embeddings, the MLM head and the layers `teacher_layers` from the teacher
    /// (`scripts/extract_distilbert.py`); the README calls this initialisation crucial.
    #[default]
    TeacherLayers,
    /// Random weights for the HF `config.json` at `student.config`, or for a DistilBERT of
    /// `student.shape` (any depth, width, heads and feed-forward size) on the teacher's
    /// vocabulary and positions.
    Config,
    /// Weights of an HF directory or checkpoint at `student.checkpoint`.
    Checkpoint,
}

/// The student: a DistilBERT, or any masked LM `config.json`'s `model_type` names when it
/// starts from a config or a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StudentConfig {
    pub init: StudentInit,
    /// Teacher layer copied into each student layer (`init: teacher_layers`).
    pub teacher_layers: Vec<usize>,
    /// Also copy BERT's MLM transform (`--vocab_transform`), so the head keeps BERT's
    /// architecture and weights (advised by the author, huggingface/transformers#1582).
    pub copy_vocab_transform: bool,
    /// HF `config.json` of the student (`init: config`); tokenizer files next to it are
    /// saved with the student when the run has no teacher to take them from.
    pub config: Option<PathBuf>,
    /// The student's sizes (`init: config`, instead of `config`): `n_layers`, `dim`,
    /// `n_heads`, `hidden_dim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<StudentShape>,
    /// HF directory or weights file to start from (`init: checkpoint`).
    pub checkpoint: Option<PathBuf>,
    /// The released student trained with BERT's position table copied and frozen.
    pub freeze_position_embeddings: bool,
}

impl Default for StudentConfig {
    fn default() -> Self {
        Self {
            init: StudentInit::TeacherLayers,
            teacher_layers: vec![0, 2, 4, 7, 9, 11],
            copy_vocab_transform: true,
            config: None,
            shape: None,
            checkpoint: None,
            freeze_position_embeddings: true,
        }
    }
}

impl StudentConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        match self.init {
            StudentInit::TeacherLayers => {
                if self.teacher_layers.is_empty() {
                    return Err(InvalidKey::new(
                        "student.teacher_layers",
                        "must list at least one teacher layer to copy",
                    ));
                }
                if self.teacher_layers.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(InvalidKey::new(
                        "student.teacher_layers",
                        format!(
                            "must be strictly increasing, found {:?}",
                            self.teacher_layers
                        ),
                    ));
                }
            }
            StudentInit::Config => match (&self.config, &self.shape) {
                (Some(_), Some(_)) => {
                    return Err(InvalidKey::new(
                        "student.shape",
                        "give either student.config or student.shape, not both",
                    ))
                }
                (None, Some(shape)) => shape.validate("student.shape")?,
                _ => require_file("student.config", self.config.as_deref())?,
            },
            StudentInit::Checkpoint => {
                require_path("student.checkpoint", self.checkpoint.as_deref())?;
            }
        }
        Ok(())
    }
}

fn require_path(key: &str, path: Option<&Path>) -> Result<(), InvalidKey> {
    match path {
        None => Err(InvalidKey::new(key, "is required by student.init")),
        Some(p) if !p.exists() => Err(InvalidKey::new(
            key,
            format!("`{}` does not exist", p.display()),
        )),
        Some(_) => Ok(()),
    }
}

fn require_file(key: &str, path: Option<&Path>) -> Result<(), InvalidKey> {
    require_path(key, path)?;
    match path {
        Some(p) if !p.is_file() => Err(InvalidKey::new(
            key,
            format!("`{}` is not a file", p.display()),
        )),
        _ => Ok(()),
    }
}

/// Weights of the loss terms and the distillation temperature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Soft-target KL(teacher || student) x T^2.
    pub alpha_ce: f64,
    /// Masked-LM cross-entropy on the student's raw logits.
    pub alpha_mlm: f64,
    /// Causal-LM (next-token) cross-entropy on the student's raw logits: GPT-2 students,
    /// in place of `alpha_mlm`.
    #[serde(skip_serializing_if = "is_zero")]
    pub alpha_clm: f64,
    /// Mean (1 - cos) between last hidden states.
    pub alpha_cos: f64,
    /// MSE between logits (sum / N).
    pub alpha_mse: f64,
    pub temperature: f64,
    /// Distil only at MLM target positions instead of every non-pad token.
    pub restrict_ce_to_mask: bool,
    // The intermediate-layer settings are written out only when they differ from the
    // default, so that a run config (and a reproduction's stage hashes) that does not use
    // them reads as it did before they existed.
    /// TinyBERT's MSE between mapped hidden states (the embeddings' output included), through
    /// a learned projection per pair when the student is narrower.
    #[serde(skip_serializing_if = "is_zero")]
    pub alpha_hidden_mse: f64,
    /// KL between mapped layers' attention maps, head by head (equal head counts).
    #[serde(skip_serializing_if = "is_zero")]
    pub alpha_attention_kl: f64,
    /// MiniLM v2's query, key and value relation KL between the student's last layer and
    /// `relation_teacher_layer` (any widths and head counts).
    #[serde(skip_serializing_if = "is_zero")]
    pub alpha_attention_relations: f64,
    /// Teacher layer of each student layer for the two terms above: `uniform`
    /// (`g(m) = m * N / M`) or a list, counted from 1.
    #[serde(skip_serializing_if = "LayerMap::is_uniform")]
    pub layer_map: LayerMap,
    /// Relation heads each projection is split into; must divide both widths.
    #[serde(skip_serializing_if = "is_default_relation_heads")]
    pub relation_heads: i64,
    /// Teacher layer (from 1) whose relations the student's last layer learns; `null`: the
    /// last, MiniLM v2's choice for base-size teachers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_teacher_layer: Option<usize>,
    /// Distance between the student's and the teacher's mean-pooled last hidden states, one
    /// sentence embedding per sequence (sentence-transformers' distillation; equal widths).
    /// Like the intermediate-layer settings, both keys are written out only when they differ
    /// from the default.
    #[serde(skip_serializing_if = "is_zero")]
    pub alpha_pooled: f64,
    /// `mse` (mean over batch and hidden units) or `cosine` (mean of `1 - cos`).
    #[serde(skip_serializing_if = "PooledDistance::is_mse")]
    pub pooled_distance: PooledDistance,
}

const DEFAULT_RELATION_HEADS: i64 = 12;

fn is_zero(weight: &f64) -> bool {
    *weight == 0.0
}

fn is_default_relation_heads(heads: &i64) -> bool {
    *heads == DEFAULT_RELATION_HEADS
}

impl Default for LossConfig {
    /// The weights used for the release (huggingface/transformers#2013), not `train.py`'s.
    fn default() -> Self {
        Self {
            alpha_ce: 5.0,
            alpha_mlm: 2.0,
            alpha_clm: 0.0,
            alpha_cos: 1.0,
            alpha_mse: 0.0,
            temperature: 2.0,
            restrict_ce_to_mask: false,
            alpha_hidden_mse: 0.0,
            alpha_attention_kl: 0.0,
            alpha_attention_relations: 0.0,
            layer_map: LayerMap::Uniform,
            relation_heads: DEFAULT_RELATION_HEADS,
            relation_teacher_layer: None,
            alpha_pooled: 0.0,
            pooled_distance: PooledDistance::Mse,
        }
    }
}

impl LossConfig {
    /// The weights of the terms that read the teacher, with their keys.
    pub fn teacher_terms(&self) -> [(&'static str, f64); 7] {
        [
            ("loss.alpha_ce", self.alpha_ce),
            ("loss.alpha_cos", self.alpha_cos),
            ("loss.alpha_mse", self.alpha_mse),
            ("loss.alpha_pooled", self.alpha_pooled),
            ("loss.alpha_hidden_mse", self.alpha_hidden_mse),
            ("loss.alpha_attention_kl", self.alpha_attention_kl),
            (
                "loss.alpha_attention_relations",
                self.alpha_attention_relations,
            ),
        ]
    }

    /// Every weight finite and >= 0, one positive, at most one of the masked and causal LM
    /// terms, the relation settings in range.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        let alphas: Vec<(&str, f64)> = [
            ("loss.alpha_mlm", self.alpha_mlm),
            ("loss.alpha_clm", self.alpha_clm),
        ]
        .into_iter()
        .chain(self.teacher_terms())
        .collect();
        for &(key, alpha) in &alphas {
            if !(alpha.is_finite() && alpha >= 0.0) {
                return Err(InvalidKey::new(
                    key,
                    format!("must be a finite number >= 0, found {alpha}"),
                ));
            }
        }
        if alphas.iter().map(|(_, a)| a).sum::<f64>() <= 0.0 {
            return Err(InvalidKey::new(
                "loss.alpha_ce",
                "every loss weight (alpha_ce, alpha_mlm, alpha_clm, alpha_cos, alpha_mse, \
                 alpha_pooled, alpha_hidden_mse, alpha_attention_kl, alpha_attention_relations) \
                 is 0",
            ));
        }
        if self.alpha_mlm > 0.0 && self.alpha_clm > 0.0 {
            return Err(InvalidKey::new(
                "loss.alpha_clm",
                "a student is trained as a masked LM (alpha_mlm) or a causal LM (alpha_clm), \
                 not both: set one of them to 0",
            ));
        }
        if self.relation_heads < 1 {
            return Err(InvalidKey::new(
                "loss.relation_heads",
                format!("must be at least 1, found {}", self.relation_heads),
            ));
        }
        if self.relation_teacher_layer == Some(0) {
            return Err(InvalidKey::new(
                "loss.relation_teacher_layer",
                "layers are counted from 1 (0 is the embeddings, which have no attention)",
            ));
        }
        positive("loss.temperature", self.temperature)
    }
}

/// AdamW, the warmup-then-linear-decay schedule, accumulation and clipping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    pub learning_rate: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    /// Decoupled decay, applied to weights with two or more dimensions only.
    pub weight_decay: f64,
    /// Fraction of the optimizer steps spent warming up (rounded up).
    pub warmup_prop: f64,
    /// Micro-batches per optimizer step.
    pub grad_accumulation: u32,
    /// Global L2 norm the gradients are clipped to.
    pub max_grad_norm: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            learning_rate: 5e-4,
            betas: [0.9, 0.98],
            eps: 1e-6,
            weight_decay: 0.0,
            warmup_prop: 0.05,
            grad_accumulation: 50,
            max_grad_norm: 5.0,
        }
    }
}

impl OptimizerConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        positive("optimizer.learning_rate", self.learning_rate)?;
        for beta in self.betas {
            if !(0.0..1.0).contains(&beta) {
                return Err(InvalidKey::new(
                    "optimizer.betas",
                    format!("each beta must be in [0, 1), found {:?}", self.betas),
                ));
            }
        }
        positive("optimizer.eps", self.eps)?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(InvalidKey::new(
                "optimizer.weight_decay",
                format!("must be >= 0, found {}", self.weight_decay),
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup_prop) {
            return Err(InvalidKey::new(
                "optimizer.warmup_prop",
                format!("must be in [0, 1], found {}", self.warmup_prop),
            ));
        }
        if self.grad_accumulation == 0 {
            return Err(InvalidKey::new(
                "optimizer.grad_accumulation",
                "must be at least 1",
            ));
        }
        positive("optimizer.max_grad_norm", self.max_grad_norm)
    }
}

/// Length of the run and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: u32,
    /// Optimizer steps; when set it ends the run before `epochs` would.
    pub max_steps: Option<u64>,
    /// `fp32`, `bf16-autocast` or `fp16-autocast` (CUDA only); see [`TrainingPrecision`].
    pub precision: TrainingPrecision,
    /// TF32 for fp32 matmuls and cuDNN on CUDA. Off by default, as PyTorch leaves matmuls,
    /// so that fp32 runs reproduce across GPU generations; ignored on the CPU.
    pub tf32: bool,
    #[serde(with = "device_spec")]
    pub device: DeviceSpec,
    pub seed: u64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            max_steps: None,
            precision: TrainingPrecision::Fp32,
            tf32: false,
            device: DeviceSpec::Auto,
            seed: 56,
        }
    }
}

impl TrainingConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        if self.epochs == 0 && self.max_steps.is_none() {
            return Err(InvalidKey::new(
                "training.epochs",
                "must be at least 1 unless training.max_steps is set",
            ));
        }
        if self.max_steps == Some(0) {
            return Err(InvalidKey::new(
                "training.max_steps",
                "must be at least 1 (or null for epochs only)",
            ));
        }
        if self.precision == TrainingPrecision::Fp16Autocast && self.device == DeviceSpec::Cpu {
            return Err(InvalidKey::new(
                "training.precision",
                "fp16-autocast needs a CUDA device (its loss scaling runs on CUDA AMP kernels); \
                 use fp32 or bf16-autocast on the CPU",
            ));
        }
        Ok(())
    }
}

/// Run directory, logging and checkpoint cadence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Parent of the run directory.
    pub dir: PathBuf,
    pub run_name: String,
    /// Optimizer steps between log lines; the reference's 500 micro-batches at
    /// accumulation 50 are 10 steps.
    pub log_interval: u64,
    /// Optimizer steps between checkpoints (checkpoints sit on step boundaries so that resume
    /// is exact); the reference's 4000 micro-batches at accumulation 50 are 80 steps.
    pub checkpoint_interval: u64,
    /// Checkpoints kept besides the best one.
    pub keep_last: usize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("experiments"),
            run_name: "distilbert-base-uncased".to_string(),
            log_interval: 10,
            checkpoint_interval: 80,
            keep_last: 3,
        }
    }
}

impl OutputConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        let name = self.run_name.as_str();
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(InvalidKey::new(
                "output.run_name",
                format!("must be a plain folder name, found `{name}`"),
            ));
        }
        if self.log_interval == 0 {
            return Err(InvalidKey::new("output.log_interval", "must be at least 1"));
        }
        if self.checkpoint_interval == 0 {
            return Err(InvalidKey::new(
                "output.checkpoint_interval",
                "must be at least 1",
            ));
        }
        if self.keep_last == 0 {
            return Err(InvalidKey::new(
                "output.keep_last",
                "must be at least 1 so that the run can resume",
            ));
        }
        Ok(())
    }
}

/// The data crate names the key of a bad `data:` value; keep it as the error's key.
pub(crate) fn data_key(error: DataError) -> InvalidKey {
    match error {
        DataError::Config { key, reason } => InvalidKey::new(key, reason),
        other => InvalidKey::new("data", other.to_string()),
    }
}

/// The distributed crate names the key of a bad `distributed:` value; keep it as the key.
fn distributed_key(error: DistributedError) -> InvalidKey {
    match error {
        DistributedError::Config { key, reason } => InvalidKey::new(key, reason),
        other => InvalidKey::new("distributed", other.to_string()),
    }
}

fn positive(key: &str, value: f64) -> Result<(), InvalidKey> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(InvalidKey::new(
            key,
            format!("must be a finite number > 0, found {value}"),
        ))
    }
}

/// The shapes that must agree between teacher and student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub max_position_embeddings: i64,
    pub n_layers: i64,
    pub n_heads: i64,
}

/// `train.py`'s model checks: the soft targets compare vocabulary distributions (same vocab),
/// the cosine loss compares hidden states (same width, needed only when `alpha_cos > 0`) and
/// both read the same positions. The pooled term, too, needs equal widths.
pub fn check_compatibility(
    teacher: &ModelDims,
    student: &ModelDims,
    loss: &LossConfig,
) -> Result<(), InvalidKey> {
    let mismatch = |key: &str, t: i64, s: i64, why: &str| {
        InvalidKey::new(
            format!("student.{key}"),
            format!("the student has {s} but the teacher has {t}; {why}"),
        )
    };
    if teacher.vocab_size != student.vocab_size {
        return Err(mismatch(
            "vocab_size",
            teacher.vocab_size,
            student.vocab_size,
            "the soft-target loss needs the same vocabulary",
        ));
    }
    if loss.alpha_cos > 0.0 && teacher.hidden_size != student.hidden_size {
        return Err(mismatch(
            "hidden_size",
            teacher.hidden_size,
            student.hidden_size,
            "the cosine loss (loss.alpha_cos > 0) needs equal hidden sizes",
        ));
    }
    if loss.alpha_pooled > 0.0 && teacher.hidden_size != student.hidden_size {
        return Err(InvalidKey::new(
            "loss.alpha_pooled",
            format!(
                "compares mean-pooled hidden states of equal widths, but the student has {} \
                 and the teacher {}",
                student.hidden_size, teacher.hidden_size
            ),
        ));
    }
    if teacher.max_position_embeddings != student.max_position_embeddings {
        return Err(mismatch(
            "max_position_embeddings",
            teacher.max_position_embeddings,
            student.max_position_embeddings,
            "both models must read the same sequence lengths",
        ));
    }
    check_layer_terms(teacher, student, loss)
}

/// `train.py`'s type pairs and loss constraints by objective: a masked-LM student (DistilBERT,
/// RoBERTa) learns from a masked-LM teacher with `alpha_mlm`, a causal one (GPT-2) from a
/// causal teacher with `alpha_clm`; restricting the soft targets to masked positions needs
/// masking. `teacher` is `None` for a run without one.
pub fn check_objectives(
    teacher: Option<Objective>,
    student: Objective,
    loss: &LossConfig,
) -> Result<(), InvalidKey> {
    let name = |objective| match objective {
        Objective::MaskedLm => "a masked LM",
        Objective::CausalLm => "a causal LM (GPT-2)",
    };
    if let Some(teacher) = teacher.filter(|&t| t != student) {
        return Err(InvalidKey::new(
            "teacher.source",
            format!(
                "the teacher is {} but the student {}: the soft targets compare what both \
                 predict at each position, so both must be of one kind",
                name(teacher),
                name(student)
            ),
        ));
    }
    let refuse = |key: &str, why: &str| {
        Err(InvalidKey::new(
            key,
            format!("the student is {}: {why}", name(student)),
        ))
    };
    match student {
        Objective::CausalLm if loss.alpha_mlm > 0.0 => refuse(
            "loss.alpha_mlm",
            "it predicts the next token, not masked ones; set alpha_mlm to 0 and weigh \
             loss.alpha_clm",
        ),
        Objective::CausalLm if loss.restrict_ce_to_mask => refuse(
            "loss.restrict_ce_to_mask",
            "its batches are not masked, so there is no masked position to restrict to",
        ),
        Objective::MaskedLm if loss.alpha_clm > 0.0 => refuse(
            "loss.alpha_clm",
            "it predicts masked tokens, not the next one; set alpha_clm to 0 and weigh \
             loss.alpha_mlm",
        ),
        _ => Ok(()),
    }
}

/// The intermediate-layer terms against the two models' shapes: the layer map fits both
/// depths, attention maps compare head by head, relation heads split both widths.
fn check_layer_terms(
    teacher: &ModelDims,
    student: &ModelDims,
    loss: &LossConfig,
) -> Result<(), InvalidKey> {
    if loss.alpha_hidden_mse > 0.0 || loss.alpha_attention_kl > 0.0 {
        loss.layer_map
            .hidden_state_pairs(student.n_layers as usize, teacher.n_layers as usize)?;
    }
    if loss.alpha_attention_kl > 0.0 && teacher.n_heads != student.n_heads {
        return Err(InvalidKey::new(
            "loss.alpha_attention_kl",
            format!(
                "compares attention maps head by head, but the student has {} heads and the \
                 teacher {}; use loss.alpha_attention_relations, which takes any head counts",
                student.n_heads, teacher.n_heads
            ),
        ));
    }
    if loss.alpha_attention_relations > 0.0 {
        let heads = loss.relation_heads;
        for (model, width) in [
            ("student", student.hidden_size),
            ("teacher", teacher.hidden_size),
        ] {
            if width % heads != 0 {
                return Err(InvalidKey::new(
                    "loss.relation_heads",
                    format!("{heads} relation heads do not split the {model}'s width {width}"),
                ));
            }
        }
        if let Some(layer) = loss.relation_teacher_layer {
            if layer as i64 > teacher.n_layers {
                return Err(InvalidKey::new(
                    "loss.relation_teacher_layer",
                    format!(
                        "teacher layer {layer} does not exist: the teacher has {} layers",
                        teacher.n_layers
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `device: cuda:0` in YAML, through `DeviceSpec`'s own parser.
pub(crate) mod device_spec {
    use distil_core::DeviceSpec;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(device: &DeviceSpec, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(device)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceSpec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
