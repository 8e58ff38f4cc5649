//! What a reproduction measured, in the shape `results.json` takes; the report and the plots
//! are drawn from this and nothing else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ablation::Ablation;

/// Names of the models a run fine-tunes, in table order.
pub const TEACHER: &str = "teacher";
pub const STUDENT: &str = "student";
pub const NO_PRETRAINING: &str = "no-pretraining";
/// The extra student of another shape (`narrow_student:` in the config).
pub const NARROW_STUDENT: &str = "narrow-student";
/// The student's architecture and teacher-layer initialisation, fine-tuned with no
/// distillation: what distillation adds over the initialisation alone.
pub const NO_DISTILLATION: &str = "no-distillation";
/// The student fine-tuned on SQuAD with the fine-tuned teacher's soft targets (Table 2's "D").
pub const STUDENT_D: &str = "student-d";
/// The student's layers distilled with the paper's loss (`paper_loss:` in the config), beside
/// the run's own recipe.
pub const PAPER_LOSS: &str = "paper-loss";

/// One model on the representation protocol: deterministic scores of its frozen encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepresentationScore {
    /// Spearman x 100 of the cosine of pooled embeddings against the gold scores, STS-B dev.
    pub sts_b_zero_shot: f64,
    /// Dev accuracy x 100 of a linear probe on frozen pooled features (SST-2).
    pub sst2_probe: f64,
}

/// One teacher-layer choice, cut from the teacher and not distilled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerChoiceScore {
    /// As [`RepresentationScore::sts_b_zero_shot`], on STS-B dev (reported).
    pub sts_b_zero_shot: f64,
    /// The same on the validation pairs (STS-B train), which the layer rule reads.
    pub sts_b_validation: f64,
}

/// An ablation on the representation protocol: its scores minus the full recipe's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepresentationDelta {
    pub name: Ablation,
    pub sts_b_delta: f64,
    pub sst2_probe_delta: f64,
}

/// One GLUE task's dev score for one model over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The metric the table reports (`mcc`, `acc`, `f1`, `spearmanr`), scaled to 0-100.
    pub metric: String,
    /// Seed to score.
    pub seeds: BTreeMap<u64, f64>,
    pub median: f64,
}

/// Table 3's figures for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeSpeed {
    pub parameters: u64,
    /// Wall time of one pass over the timed STS-B dev pairs at batch size 1, on CPU.
    pub seconds: f64,
    pub examples: usize,
}

/// One ablation of Table 4 against the full triple loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationScore {
    pub name: Ablation,
    pub macro_score: f64,
    pub delta: f64,
    /// Null for a term the paper does not have.
    pub paper_delta: Option<f64>,
    /// The larger of the two models' seed spreads (see [`Results::macro_spread`]).
    pub spread: f64,
    /// `|delta| > spread`: the change is larger than seed noise.
    pub exceeds_spread: bool,
}

/// A macro-score difference between two models and whether it exceeds seed noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MacroGap {
    /// First model's macro score minus the second's.
    pub delta: f64,
    /// The first model's seed spread.
    pub spread: f64,
    pub exceeds_spread: bool,
}

/// The teacher's MLM head fitted on its frozen encoder (an encoder-only teacher), scored on
/// held-out shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFitScore {
    pub steps: u64,
    pub held_out_targets: i64,
    pub head_accuracy: f64,
    pub head_loss: f64,
    pub unigram_accuracy: f64,
    pub unigram_loss: f64,
}

/// SQuAD scores of one model: EM and F1 medians over the seeds, each taken on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadScore {
    pub exact_match: f64,
    pub f1: f64,
    /// Seed to (EM, F1).
    pub seeds: BTreeMap<u64, (f64, f64)>,
}

/// What the SQuAD rows were trained and scored on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadSource {
    pub version: String,
    pub train_file: Option<String>,
    pub dev_file: String,
    /// Set when training used the first share of the dev file's paragraphs (the shipped
    /// subset): the scores are then on the remaining paragraphs, not SQuAD dev scores.
    pub dev_train_share: Option<f64>,
}

/// The run's scale, read from its config and its stages, for the notes on where it differs
/// from the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunScale {
    /// Teacher source (hub id or folder), or null when pretrained here.
    pub teacher_source: Option<String>,
    /// MLM pretraining steps of a teacher pretrained here.
    pub teacher_pretrain_steps: Option<u64>,
    pub teacher_layers: usize,
    pub student_layers: usize,
    pub hidden_size: i64,
    /// Distillation length: `max_steps` when set, else `epochs` over the shards.
    pub distill_steps: Option<u64>,
    pub distill_epochs: u32,
    /// Sequences per optimizer step in distillation (batch x accumulation; null when
    /// batches are sized in tokens).
    pub distill_batch: Option<usize>,
    pub max_seq_len: usize,
    /// Tokens in the prepared shards.
    pub corpus_tokens: u64,
    /// The cap on each GLUE task's training and dev sets (null: whole sets).
    pub max_train_examples: Option<usize>,
    pub max_eval_examples: Option<usize>,
    /// The student's teacher layers as `"0,4,5"`.
    #[serde(default)]
    pub student_layer_list: String,
    /// SST-2 sentences the representation probe is fitted on (null without the protocol).
    #[serde(default)]
    pub probe_train_examples: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub run_name: String,
    /// GLUE tasks in table order.
    pub tasks: Vec<String>,
    pub seeds: Vec<u64>,
    /// Model to task to score.
    pub glue: BTreeMap<String, BTreeMap<String, TaskScore>>,
    /// Each task's majority-class score on the same dev data (0 for STS-B).
    pub majority: BTreeMap<String, f64>,
    /// Model to the unweighted mean of its task medians.
    pub macro_scores: BTreeMap<String, f64>,
    /// Model to seed to the mean over tasks of that seed's scores.
    pub macro_by_seed: BTreeMap<String, BTreeMap<u64, f64>>,
    /// Model to its seed spread: the largest minus the smallest of its per-seed macro scores.
    pub macro_spread: BTreeMap<String, f64>,
    /// Student minus no-distillation (null when either was not fine-tuned).
    pub distillation_gain: Option<MacroGap>,
    /// Task to student median / teacher median x 100, plus `macro`.
    pub student_share_of_teacher: BTreeMap<String, f64>,
    /// The paper's share over the same tasks (DistilBERT / BERT-base).
    pub paper_share_of_teacher: BTreeMap<String, f64>,
    /// Model to encoder FLOPs per token at the run's sequence length (forward, multiply-adds
    /// counted as two; embeddings and heads left out).
    pub encoder_flops_per_token: BTreeMap<String, f64>,
    /// Null unless the teacher's MLM head was fitted in this run.
    pub head_fit: Option<HeadFitScore>,
    pub squad: BTreeMap<String, SquadScore>,
    /// Null when the config has no `squad:` section.
    pub squad_source: Option<SquadSource>,
    pub scale: RunScale,
    pub size_speed: BTreeMap<String, SizeSpeed>,
    /// Teacher seconds / student seconds.
    pub speedup: f64,
    /// Student parameters / teacher parameters.
    pub size_ratio: f64,
    pub ablations: Vec<AblationScore>,
    /// Model to its representation scores (empty without `representation:` in the config).
    #[serde(default)]
    pub representation: BTreeMap<String, RepresentationScore>,
    /// Layer choice (`"0,4,5"`) to its undistilled scores.
    #[serde(default)]
    pub layer_choice: BTreeMap<String, LayerChoiceScore>,
    /// The choice the rule picks: the best `sts_b_validation`, ties to the first listed.
    #[serde(default)]
    pub layer_choice_pick: Option<String>,
    /// The ablations on the representation protocol, in Table 4's order.
    #[serde(default)]
    pub representation_ablations: Vec<RepresentationDelta>,
    /// Stage to seconds it took when it ran.
    pub stage_seconds: BTreeMap<String, f64>,
}
