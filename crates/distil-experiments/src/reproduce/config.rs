//! The `distil reproduce` config (`configs/reproduce/*.yaml`): the corpus, the teacher (given
//! or pretrained here), the student, the distillation recipe, the fine-tuning grid, the
//! ablations and the speed benchmark. Sections reuse the training and data crates' own config
//! structs, so a key means the same thing here as in `distil distill`.

use std::path::{Path, PathBuf};

use distil_core::config::{load_config, ConfigError, InvalidKey};
use distil_data::{DataConfig, MaskingConfig, TextUnit};
use distil_student::StudentShape;
use distil_tasks::finetune::{
    DistillationConfig, ModelConfig, RunConfig, SquadDataConfig, SquadRunConfig,
};
use distil_tasks::squad::{DecodeConfig, SquadFeatureConfig, SquadVersion};
use distil_train::config::{OptimizerConfig, TrainingConfig};
use distil_train::head_fit::{HeadEvalConfig, HeadTrainingConfig};
use distil_train::LossConfig;
use serde::{Deserialize, Serialize};

use super::ablation::Ablation;
use super::results::{
    NARROW_STUDENT, NO_DISTILLATION, NO_PRETRAINING, PAPER_LOSS, STUDENT, TEACHER,
};
use super::task_text::TaskTextSection;
use distil_tasks::representation::Pooling;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReproduceConfig {
    /// The run folder is `<output_dir>/<run_name>`.
    pub run_name: String,
    pub output_dir: PathBuf,
    pub corpus: CorpusConfig,
    /// Batching and masking of the MLM shards, for teacher pretraining and distillation
    /// (`shards` is filled in by the prep stage and must be left empty).
    pub data: DataConfig,
    pub teacher: TeacherSection,
    pub student: StudentSection,
    pub distill: TrainSection,
    pub finetune: FinetuneSection,
    /// SQuAD fine-tuning of the teacher and the student (Table 2); left out, Table 2 says
    /// it was not run.
    pub squad: Option<SquadSection>,
    /// Table 4's ablations and the no-distillation and no-pretraining baselines.
    pub ablations: bool,
    /// An extra student of another shape (TinyBERT- or MiniLM-style), distilled with its own
    /// loss terms and fine-tuned and timed beside the DistilBERT-style one; left out, no row.
    pub narrow_student: Option<NarrowStudentSection>,
    /// A second student from the same layers distilled with this loss (the paper's triple
    /// loss beside a recipe of the run's own); left out, no row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper_loss: Option<LossConfig>,
    /// The representation protocol and the layer-choice table; left out, not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub representation: Option<RepresentationSection>,
    pub bench: BenchSection,
}

impl Default for ReproduceConfig {
    /// The paper's recipe; `configs/reproduce/paper.yaml` spells it out.
    fn default() -> Self {
        Self {
            run_name: "paper".to_string(),
            output_dir: PathBuf::from("experiments"),
            corpus: CorpusConfig::default(),
            data: DataConfig::default(),
            teacher: TeacherSection::default(),
            student: StudentSection::default(),
            distill: TrainSection::default(),
            finetune: FinetuneSection::default(),
            squad: Some(SquadSection::default()),
            ablations: true,
            narrow_student: None,
            paper_loss: None,
            representation: None,
            bench: BenchSection::default(),
        }
    }
}

impl ReproduceConfig {
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let config: Self = load_config(path, overrides)?;
        config.validate().map_err(|e| e.in_file(path))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), InvalidKey> {
        let name = self.run_name.as_str();
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(InvalidKey::new(
                "run_name",
                format!("must be a plain folder name, found `{name}`"),
            ));
        }
        if self.corpus.inputs.is_empty() && self.corpus.task_text.is_none() {
            return Err(InvalidKey::new(
                "corpus.inputs",
                "list at least one file or folder (or give corpus.task_text)",
            ));
        }
        if let Some(task_text) = &self.corpus.task_text {
            task_text.validate()?;
        }
        if self.corpus.tokenizer.is_some() && self.corpus.train_vocab.is_some() {
            return Err(InvalidKey::new(
                "corpus.train_vocab",
                "give either corpus.tokenizer or corpus.train_vocab, not both",
            ));
        }
        if let Some(vocab) = &self.corpus.train_vocab {
            distil_data::vocab::check_vocab_size(vocab.vocab_size)
                .map_err(|e| InvalidKey::new("corpus.train_vocab.vocab_size", e))?;
        }
        if !self.data.shards.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "data.shards",
                "is set by the prep stage; leave it out",
            ));
        }
        match (&self.teacher.source, &self.teacher.pretrain) {
            (Some(_), Some(_)) => {
                return Err(InvalidKey::new(
                    "teacher.pretrain",
                    "give either teacher.source or teacher.pretrain, not both",
                ))
            }
            (None, None) => {
                return Err(InvalidKey::new(
                    "teacher.source",
                    "required unless teacher.pretrain describes a teacher to pretrain",
                ))
            }
            _ => {}
        }
        if self.teacher.fit_head.is_some() {
            if self.teacher.source.is_none() {
                return Err(InvalidKey::new(
                    "teacher.fit_head",
                    "fits a head on teacher.source, which is missing",
                ));
            }
            if self.corpus.held_out.is_empty() {
                return Err(InvalidKey::new(
                    "corpus.held_out",
                    "teacher.fit_head scores the head on held-out text: list a file or folder \
                     the corpus does not hold",
                ));
            }
        }
        if self.student.teacher_layers.is_empty() {
            return Err(InvalidKey::new(
                "student.teacher_layers",
                "list at least one teacher layer",
            ));
        }
        if self.finetune.seeds.is_empty() {
            return Err(InvalidKey::new("finetune.seeds", "list at least one seed"));
        }
        for task in &self.finetune.tasks {
            task.parse::<distil_tasks::GlueTask>()
                .map_err(|e| InvalidKey::new("finetune.tasks", e.to_string()))?;
        }
        if self.finetune.max_train_examples == Some(0) {
            return Err(InvalidKey::new(
                "finetune.max_train_examples",
                "must be at least 1 (or null for the whole training set)",
            ));
        }
        if let Some(squad) = &self.squad {
            squad.validate()?;
        }
        if let Some(narrow) = &self.narrow_student {
            narrow.validate()?;
        }
        if let Some(loss) = &self.paper_loss {
            loss.validate()
                .map_err(|e| InvalidKey::new(format!("paper_loss.{}", e.key), e.message))?;
        }
        if let Some(representation) = &self.representation {
            representation.validate()?;
        }
        if let Some(models) = &self.finetune.models {
            let known = self.model_names();
            if let Some(unknown) = models.iter().find(|m| !known.contains(m)) {
                return Err(InvalidKey::new(
                    "finetune.models",
                    format!(
                        "`{unknown}` is not a model of this run (it makes: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn run_dir(&self) -> PathBuf {
        self.output_dir.join(&self.run_name)
    }

    /// The names of the models this run makes, as `results.json` keys them.
    pub fn model_names(&self) -> Vec<String> {
        let mut names = vec![TEACHER.to_string(), STUDENT.to_string()];
        if self.paper_loss.is_some() {
            names.push(PAPER_LOSS.to_string());
        }
        if self.ablations {
            names.push(NO_DISTILLATION.to_string());
            names.push(NO_PRETRAINING.to_string());
        }
        if self.narrow_student.is_some() {
            names.push(NARROW_STUDENT.to_string());
        }
        if self.ablations {
            names.extend(
                Ablation::of_recipe(&self.distill.loss)
                    .iter()
                    .map(|a| a.name().to_string()),
            );
        }
        names
    }
}

/// The deterministic protocol every model is scored on without fine-tuning (so without seed
/// noise): zero-shot STS-B from pooled embeddings and a frozen linear probe on SST-2; and the
/// layer-choice table, the same scores of teacher-layer cuts with no distillation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepresentationSection {
    /// STS-B dev, scored zero-shot for every model (reported).
    pub sts_b_dev: PathBuf,
    /// Scored pairs never reported as dev (STS-B train): the layer rule reads these.
    pub sts_b_validation: PathBuf,
    /// The first N validation pairs (null: all).
    pub validation_pairs: Option<usize>,
    /// The first N STS-B dev pairs and SST-2 dev sentences (null: all; a smoke run's cap).
    pub max_dev_examples: Option<usize>,
    pub pooling: Pooling,
    /// The folder holding `SST-2/train.tsv` and `SST-2/dev.tsv`.
    pub glue_dir: PathBuf,
    /// The probe is fitted on the first N SST-2 training sentences and scored on all of dev.
    pub probe_train_examples: usize,
    /// Teacher-layer choices scored with no distillation; the student's own is added.
    pub layer_choices: Vec<Vec<usize>>,
}

impl Default for RepresentationSection {
    fn default() -> Self {
        Self {
            sts_b_dev: PathBuf::from("data/glue/STS-B/dev.tsv"),
            sts_b_validation: PathBuf::from("data/glue/STS-B/train.tsv"),
            validation_pairs: None,
            max_dev_examples: None,
            pooling: Pooling::Mean,
            glue_dir: PathBuf::from("data/glue"),
            probe_train_examples: 5000,
            layer_choices: Vec::new(),
        }
    }
}

impl RepresentationSection {
    /// The choices the layer table scores: the listed ones in order, then the student's own
    /// `layers` when not listed.
    pub fn choices_with(&self, layers: &[usize]) -> Vec<Vec<usize>> {
        let mut choices = self.layer_choices.clone();
        if !choices.iter().any(|c| c == layers) {
            choices.push(layers.to_vec());
        }
        choices
    }

    fn validate(&self) -> Result<(), InvalidKey> {
        if self.probe_train_examples < 2 {
            return Err(InvalidKey::new(
                "representation.probe_train_examples",
                "must be at least 2",
            ));
        }
        if self.validation_pairs.is_some_and(|n| n < 3) {
            return Err(InvalidKey::new(
                "representation.validation_pairs",
                "must be at least 3 (a rank correlation of fewer says nothing), or null for all",
            ));
        }
        if let Some(empty) = self.layer_choices.iter().find(|c| c.is_empty()) {
            return Err(InvalidKey::new(
                "representation.layer_choices",
                format!("a choice lists no layer ({empty:?})"),
            ));
        }
        Ok(())
    }
}

/// The tokenizer of the paper (and of `corpus.tokenizer` when it is left out).
pub const DEFAULT_TOKENIZER: &str = "bert-base-uncased";

/// The text the MLM shards are made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorpusConfig {
    /// Text files or folders (every `.txt`, `.raw`, `.tokens`, `.jsonl` and `.parquet` under
    /// them).
    pub inputs: Vec<PathBuf>,
    /// A sequence is a line (the reference's rule) or a paragraph.
    pub unit: TextUnit,
    /// Tokenizer directory, `tokenizer.json` or Hub id (null: bert-base-uncased, unless
    /// `train_vocab` is given); it also tokenises GLUE and SQuAD.
    pub tokenizer: Option<String>,
    /// Train a WordPiece vocabulary on the corpus instead of loading a tokenizer.
    pub train_vocab: Option<VocabSection>,
    /// Text kept out of the shards, prepared the same way, to score a fitted MLM head on
    /// (`teacher.fit_head`).
    pub held_out: Vec<PathBuf>,
    pub max_seq_len: usize,
    pub shard_tokens: usize,
    pub seed: u64,
    /// Unlabeled GLUE training text joined to `inputs`, a sentence per sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_text: Option<TaskTextSection>,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            inputs: vec![PathBuf::from("data/corpus")],
            unit: TextUnit::Line,
            tokenizer: None,
            train_vocab: None,
            held_out: Vec::new(),
            max_seq_len: 512,
            shard_tokens: distil_data::DEFAULT_SHARD_TOKENS,
            seed: 56,
            task_text: None,
        }
    }
}

/// A WordPiece vocabulary trained on the corpus (`distil vocab`'s options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabSection {
    pub vocab_size: usize,
    #[serde(default = "VocabSection::default_min_frequency")]
    pub min_frequency: u64,
    #[serde(default = "VocabSection::default_lowercase")]
    pub lowercase: bool,
}

impl VocabSection {
    fn default_min_frequency() -> u64 {
        2
    }

    fn default_lowercase() -> bool {
        true
    }
}

/// Where the teacher comes from: a model to load, or a BERT pretrained here with MLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeacherSection {
    /// A local HF BERT directory or a Hub id: a masked LM, or a bare encoder with `fit_head`.
    pub source: Option<String>,
    pub pretrain: Option<PretrainSection>,
    /// Fit an MLM head on the frozen `source` (which ships without one) before distilling:
    /// the soft targets come from it. GLUE fine-tunes the source as given.
    pub fit_head: Option<FitHeadSection>,
}

impl Default for TeacherSection {
    fn default() -> Self {
        Self {
            source: Some("bert-base-uncased".to_string()),
            pretrain: None,
            fit_head: None,
        }
    }
}

/// `distil fit-head` on the prepared shards, scored on the held-out ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitHeadSection {
    /// Batching and masking of the fit (null: BERT's uniform masking, 32 sequences).
    pub data: Option<DataConfig>,
    /// Held-out batches scored.
    pub eval_batches: usize,
    pub training: HeadTrainingConfig,
}

impl Default for FitHeadSection {
    fn default() -> Self {
        Self {
            data: None,
            eval_batches: HeadEvalConfig::default().batches,
            training: HeadTrainingConfig::default(),
        }
    }
}

/// A BERT teacher trained from scratch with the MLM loss on the prepared shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainSection {
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    /// The pretraining's masking (null: `data.masking`, the distillation's). BERT itself
    /// masked uniformly; the recipe's frequency smoothing is a distillation choice.
    #[serde(default)]
    pub masking: Option<MaskingConfig>,
    #[serde(default)]
    pub train: TrainSection,
}

/// The student: DistilBERT with the teacher's widths and these teacher layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StudentSection {
    pub teacher_layers: Vec<usize>,
}

impl Default for StudentSection {
    fn default() -> Self {
        Self {
            teacher_layers: vec![0, 2, 4, 7, 9, 11],
        }
    }
}

/// The narrow student's sizes and loss terms; it trains with `distill:`'s optimizer and length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrowStudentSection {
    pub shape: StudentShape,
    /// Its loss (the cosine term needs the teacher's width: use `alpha_hidden_mse` or
    /// `alpha_attention_relations` instead).
    pub loss: LossConfig,
}

impl NarrowStudentSection {
    fn validate(&self) -> Result<(), InvalidKey> {
        self.shape.validate("narrow_student.shape")?;
        self.loss
            .validate()
            .map_err(|e| InvalidKey::new(format!("narrow_student.{}", e.key), e.message))
    }
}

/// A training run on the MLM shards (distillation, or the teacher's pretraining).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    pub loss: LossConfig,
    pub optimizer: OptimizerConfig,
    pub training: TrainingConfig,
    /// Optimizer steps between metrics lines.
    pub log_interval: Option<u64>,
}

/// GLUE (and SQuAD) fine-tuning of every model the run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneSection {
    /// The folder holding one folder per GLUE task (`CoLA/train.tsv`, ...).
    pub glue_dir: PathBuf,
    /// Task keys (`cola`, `sst-2`, `mrpc`, `sts-b`, `qqp`, `mnli`, `qnli`, `rte`, `wnli`);
    /// each needs `train.tsv` and `dev.tsv`.
    pub tasks: Vec<String>,
    /// One fine-tuning per seed; the report keeps the median, as the paper does.
    pub seeds: Vec<u64>,
    /// The models fine-tuned, by their `results.json` names (null: every model the run makes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Keep the first N training examples of each task (the miniature setting).
    pub max_train_examples: Option<usize>,
    /// Keep the first N dev examples of each task.
    pub max_eval_examples: Option<usize>,
    pub features: distil_tasks::glue::GlueFeatureConfig,
    /// Optimiser, schedule and batch sizes of every fine-tuning run (the seed is each run's).
    pub training: distil_tasks::finetune::TrainingConfig,
}

impl Default for FinetuneSection {
    fn default() -> Self {
        Self {
            glue_dir: PathBuf::from("data/glue"),
            tasks: super::paper::GLUE_COLUMNS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            seeds: vec![42, 43, 44, 45, 46],
            models: None,
            max_train_examples: None,
            max_eval_examples: None,
            features: distil_tasks::glue::GlueFeatureConfig {
                max_seq_length: 128,
            },
            training: distil_tasks::finetune::TrainingConfig::default(),
        }
    }
}

/// SQuAD fine-tuning: the files, windows, decoding and optimiser of every run, as in a
/// `distil finetune squad` config; the model and output are the pipeline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SquadSection {
    /// `"1.1"` (the paper's); a v2.0 file read as 1.1 loses its unanswerable questions.
    pub version: SquadVersion,
    pub data: SquadDataConfig,
    pub features: SquadFeatureConfig,
    pub decode: DecodeConfig,
    pub training: distil_tasks::finetune::TrainingConfig,
    /// One run per seed, median reported (null: `finetune.seeds`).
    pub seeds: Option<Vec<u64>>,
    /// When set, the student is also fine-tuned against the SQuAD-fine-tuned teacher of the
    /// same seed with these weights: the paper's "DistilBERT (D)".
    pub distillation: Option<DistillationConfig>,
}

impl Default for SquadSection {
    /// The classic BERT-base SQuAD v1.1 recipe (batch 12, lr 3e-5, 2 epochs, 384/128), which
    /// gives the paper's BERT-base row, with the official files under `data/squad/`.
    fn default() -> Self {
        Self {
            version: SquadVersion::V1,
            data: SquadDataConfig {
                train_file: Some(PathBuf::from("data/squad/train-v1.1.json")),
                dev_file: PathBuf::from("data/squad/dev-v1.1.json"),
                ..SquadDataConfig::default()
            },
            features: SquadFeatureConfig::default(),
            decode: DecodeConfig::default(),
            training: distil_tasks::finetune::TrainingConfig {
                epochs: 2,
                train_batch_size: 12,
                learning_rate: 3e-5,
                ..Default::default()
            },
            seeds: None,
            distillation: Some(DistillationConfig::default()),
        }
    }
}

impl SquadSection {
    /// The section's keys checked as `distil finetune squad` checks its own config.
    fn validate(&self) -> Result<(), InvalidKey> {
        if self.seeds.as_ref().is_some_and(Vec::is_empty) {
            return Err(InvalidKey::new(
                "squad.seeds",
                "list at least one seed (or null for finetune.seeds)",
            ));
        }
        let run = SquadRunConfig {
            version: self.version,
            model: ModelConfig {
                source: Some("model".to_string()),
                ..ModelConfig::default()
            },
            data: self.data.clone(),
            features: self.features.clone(),
            decode: self.decode.clone(),
            training: self.training.clone(),
            distillation: self.distillation.unwrap_or_default(),
            output: Default::default(),
        };
        run.validate()
            .map_err(|e| InvalidKey::new(format!("squad.{}", e.key), e.message))
    }
}

/// Table 3's protocol: a full pass over the STS-B dev set on CPU at batch size 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchSection {
    pub sts_b_dev: PathBuf,
    /// Time only the first N pairs (null: all 1,500).
    pub max_examples: Option<usize>,
    /// CPU threads for the timing (null: libtorch's default).
    pub threads: Option<i32>,
}

impl Default for BenchSection {
    fn default() -> Self {
        Self {
            sts_b_dev: PathBuf::from("data/glue/STS-B/dev.tsv"),
            max_examples: None,
            threads: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> ReproduceConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs/reproduce")
            .join(name);
        ReproduceConfig::load(&path, &[]).unwrap()
    }

    #[test]
    fn shipped_configs_parse_and_validate() {
        let scratch = shipped("mini-cpu-scratch.yaml");
        assert!(scratch.teacher.pretrain.is_some());
        let cpu = shipped("mini-cpu.yaml");
        assert!(cpu.teacher.fit_head.is_some() && cpu.teacher.pretrain.is_none());
        assert_eq!(cpu.student.teacher_layers, [0, 4, 5]);
        assert_eq!(
            cpu.corpus.tokenizer.as_deref(),
            Some("data/vocab/bert-base-uncased")
        );
        // The recipe chosen on validation data (docs/mini-cpu-recipe.md) ...
        let loss = &cpu.distill.loss;
        assert_eq!(
            (
                loss.alpha_ce,
                loss.alpha_mlm,
                loss.alpha_cos,
                loss.alpha_hidden_mse,
                loss.alpha_pooled
            ),
            (0.0, 0.0, 0.0, 1.0, 1.0)
        );
        // ... and the paper's loss beside it.
        let paper_loss = cpu.paper_loss.as_ref().unwrap();
        assert_eq!(
            (
                paper_loss.alpha_ce,
                paper_loss.alpha_mlm,
                paper_loss.alpha_cos,
                paper_loss.temperature
            ),
            (5.0, 2.0, 1.0, 2.0)
        );
        let representation = cpu.representation.as_ref().unwrap();
        for layers in [[0, 2, 4], [1, 3, 5], [0, 1, 5], [0, 4, 5]] {
            assert!(representation.layer_choices.contains(&layers.to_vec()));
        }
        assert_eq!(
            cpu.finetune.models.as_deref(),
            Some(&["teacher", "student", "no-distillation"].map(String::from)[..])
        );
        let smoke = shipped("smoke-cpu.yaml");
        assert_eq!(smoke.model_names(), cpu.model_names());
        assert!(cpu.finetune.seeds.len() >= 3);
        let gpu = shipped("mini-gpu.yaml");
        assert!(gpu.teacher.fit_head.is_some());
        assert_eq!(gpu.student.teacher_layers, [0, 2, 4]);
        assert_eq!(gpu.finetune.seeds.len(), 5);
        assert_eq!(gpu.finetune.max_train_examples, None);

        let paper = shipped("paper.yaml");
        assert_eq!(paper.teacher.source.as_deref(), Some("bert-base-uncased"));
        assert_eq!(paper.student.teacher_layers, [0, 2, 4, 7, 9, 11]);
        let loss = &paper.distill.loss;
        assert_eq!(
            (
                loss.alpha_ce,
                loss.alpha_mlm,
                loss.alpha_cos,
                loss.temperature
            ),
            (5.0, 2.0, 1.0, 2.0)
        );
        assert_eq!(paper.distill.optimizer.learning_rate, 5e-4);
        assert_eq!(paper.finetune.tasks.len(), 9);
        assert_eq!(paper.finetune.seeds.len(), 5);
        let squad = paper.squad.as_ref().unwrap();
        assert_eq!(squad.version, SquadVersion::V1);
        assert!(squad.distillation.is_some());
        // paper.yaml spells out the defaults, which are the paper's recipe.
        let defaults = ReproduceConfig::default();
        assert_eq!(paper.student, defaults.student);
        assert_eq!(paper.finetune.tasks, defaults.finetune.tasks);
        assert_eq!(paper.squad, defaults.squad);
    }

    #[test]
    fn fine_tuned_models_must_be_models_of_the_run() {
        let mut config = shipped("mini-cpu.yaml");
        config.finetune.models = Some(vec!["student".into(), "no-cos".into()]);
        let err = config.validate().unwrap_err();
        assert_eq!(err.key, "finetune.models");
        assert!(
            err.message.contains("`no-cos` is not a model of this run"),
            "{err}"
        );
        config.finetune.models = Some(vec!["no-pooled".into(), "paper-loss".into()]);
        config.validate().unwrap();
    }

    #[test]
    fn a_task_text_or_representation_key_is_named() {
        let mut config = shipped("mini-cpu.yaml");
        config.corpus.task_text.as_mut().unwrap().tasks = vec!["sts-c".into()];
        assert_eq!(config.validate().unwrap_err().key, "corpus.task_text.tasks");
        let mut config = shipped("mini-cpu.yaml");
        config
            .representation
            .as_mut()
            .unwrap()
            .layer_choices
            .push(Vec::new());
        assert_eq!(
            config.validate().unwrap_err().key,
            "representation.layer_choices"
        );
        let mut config = shipped("mini-cpu.yaml");
        config.paper_loss.as_mut().unwrap().alpha_ce = -1.0;
        assert!(config
            .validate()
            .unwrap_err()
            .key
            .starts_with("paper_loss."));
    }

    #[test]
    fn a_tokenizer_and_a_trained_vocabulary_conflict() {
        let mut config = shipped("mini-gpu.yaml");
        config.corpus.train_vocab = Some(VocabSection {
            vocab_size: 8192,
            min_frequency: 2,
            lowercase: true,
        });
        assert_eq!(config.validate().unwrap_err().key, "corpus.train_vocab");
        config.corpus.tokenizer = None;
        config.validate().unwrap();
        config.corpus.train_vocab.as_mut().unwrap().vocab_size = 5;
        let err = config.validate().unwrap_err();
        assert_eq!(err.key, "corpus.train_vocab.vocab_size");
    }

    #[test]
    fn a_fitted_head_needs_a_source_and_held_out_text() {
        let mut config = shipped("mini-cpu.yaml");
        config.corpus.held_out.clear();
        assert_eq!(config.validate().unwrap_err().key, "corpus.held_out");
        let mut config = shipped("mini-cpu.yaml");
        config.teacher.source = None;
        config.teacher.pretrain = shipped("mini-cpu-scratch.yaml").teacher.pretrain;
        assert_eq!(config.validate().unwrap_err().key, "teacher.fit_head");
    }

    #[test]
    fn a_bad_squad_key_is_named() {
        let mut config = shipped("mini-gpu.yaml");
        if let Some(squad) = config.squad.as_mut() {
            squad.data.dev_train_share = Some(1.5);
        }
        let err = config.validate().unwrap_err();
        assert_eq!(err.key, "squad.data.dev_train_share");
    }
}
