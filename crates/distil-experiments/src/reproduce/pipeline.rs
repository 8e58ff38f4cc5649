//! The experiment's stages in order: vocabulary, shards, teacher, student, ablations, size and
//! speed, GLUE and SQuAD fine-tuning, then `results.json`, `report.md` and the plots. Each
//! stage's marker hash covers its own config section and the hashes of the stages it reads
//! from, so a change anywhere upstream reruns what depends on it. The stages' bodies are in
//! [`super::stages`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_student::StudentShape;
use distil_teacher::BertConfig;
use serde::{Deserialize, Serialize};
use tch::Device;

use super::ablation::Ablation;
use super::config::{ReproduceConfig, DEFAULT_TOKENIZER};
use super::outputs::write_outputs;
use super::results::{
    HeadFitScore, Results, RunScale, SizeSpeed, SquadScore, SquadSource, TaskScore, NARROW_STUDENT,
    NO_DISTILLATION, NO_PRETRAINING, PAPER_LOSS, STUDENT, TEACHER,
};
use super::runner::{Done, StageRunner};
use super::scores::GlueSummary;
use super::stages::Shards;

/// A model directory some stage wrote or resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelDir {
    pub dir: PathBuf,
}

pub struct Pipeline<'a> {
    pub(super) config: &'a ReproduceConfig,
    /// The tokenizer every stage uses: the config's, or the vocabulary the vocab stage trained.
    pub(super) tokenizer: String,
    pub(super) device: Device,
    pub(super) run_dir: PathBuf,
    pub(super) stages: StageRunner,
}

impl<'a> Pipeline<'a> {
    pub fn new(
        config: &'a ReproduceConfig,
        device: Device,
        run_dir: &Path,
        quiet: bool,
    ) -> anyhow::Result<Self> {
        let stages = StageRunner::new(run_dir, stage_count(config), quiet)?;
        Ok(Self {
            config,
            tokenizer: config
                .corpus
                .tokenizer
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKENIZER.to_string()),
            device,
            run_dir: run_dir.to_path_buf(),
            stages,
        })
    }

    /// Runs every stage (skipping finished ones) and returns the path of `report.md`.
    pub fn run(mut self) -> anyhow::Result<PathBuf> {
        let vocab = self.vocab()?;
        let shards = self.prep(vocab.as_ref())?;
        let teacher = self.teacher(&shards)?;
        // The teacher the student learns from: with a fitted head when the source has none.
        let head = match self.config.teacher.fit_head.clone() {
            Some(section) => Some(self.fit_head(&section, &shards, &teacher)?),
            None => None,
        };
        let soft_teacher = head.as_ref().map_or_else(
            || teacher.clone(),
            |h| Done {
                value: h.value.model.clone(),
                hash: h.hash.clone(),
            },
        );
        let student = self.distill(None, &shards, &soft_teacher)?;
        let mut models = vec![
            (TEACHER.to_string(), teacher.clone()),
            (STUDENT.to_string(), student.clone()),
        ];
        if let Some(loss) = self.config.paper_loss.clone() {
            let paper = self.distill_paper_loss(&loss, &shards, &soft_teacher)?;
            models.push((PAPER_LOSS.to_string(), paper));
        }
        let mut ablations = Vec::new();
        if self.config.ablations {
            for ablation in Ablation::of_recipe(&self.config.distill.loss) {
                ablations.push((
                    ablation,
                    self.distill(Some(ablation), &shards, &soft_teacher)?,
                ));
            }
            models.push((
                NO_DISTILLATION.to_string(),
                self.undistilled_student(&soft_teacher)?,
            ));
            models.push((NO_PRETRAINING.to_string(), self.random_student(&teacher)?));
        }
        let narrow = match self.config.narrow_student.clone() {
            Some(section) => Some(self.distill_narrow(&section, &shards, &soft_teacher)?),
            None => None,
        };
        if let Some(narrow) = &narrow {
            models.push((NARROW_STUDENT.to_string(), narrow.clone()));
        }
        models.extend(
            ablations
                .iter()
                .map(|(a, done)| (a.name().to_string(), done.clone())),
        );
        let (representation, layer_choice) = match self.config.representation.clone() {
            Some(section) => (
                self.representation(&section, &models)?,
                self.layer_choices(&section, &teacher)?,
            ),
            None => Default::default(),
        };
        let size_speed = self.size_speed(&teacher, &student, narrow.as_ref())?;
        if let Some(names) = &self.config.finetune.models {
            models.retain(|(name, _)| names.contains(name));
        }
        let glue = self.glue(&models)?;
        let squad = self.squad_scores(&teacher, &student)?;
        let head_fit = head.map(|h| h.value.score);
        let mut results = self.results(
            glue,
            squad,
            &shards.value,
            &teacher.value,
            size_speed.value,
            head_fit,
        )?;
        results.set_representation(representation, layer_choice, &self.layer_choice_order());
        self.stages.finish();
        let distilled = std::iter::once(STUDENT)
            .chain(self.config.paper_loss.is_some().then_some(PAPER_LOSS))
            .chain(narrow.is_some().then_some(NARROW_STUDENT))
            .chain(ablations.iter().map(|(a, _)| a.name()));
        let curves: Vec<(String, PathBuf)> =
            std::iter::once((TEACHER.to_string(), teacher.value.dir.join("metrics.jsonl")))
                .chain(distilled.map(|name| {
                    let metrics = self.run_dir.join(format!("distill-{name}/metrics.jsonl"));
                    (name.to_string(), metrics)
                }))
                .collect();
        write_outputs(&self.run_dir, &results, &curves)
    }

    /// The layer choices in the order the table scores them.
    fn layer_choice_order(&self) -> Vec<String> {
        self.config
            .representation
            .as_ref()
            .map(|r| r.choices_with(&self.config.student.teacher_layers))
            .unwrap_or_default()
            .iter()
            .map(|l| super::stages::layer_key(l))
            .collect()
    }

    /// Everything the run measured, with the figures derived from the scores.
    fn results(
        &self,
        glue: BTreeMap<String, BTreeMap<String, TaskScore>>,
        squad: BTreeMap<String, SquadScore>,
        shards: &Shards,
        teacher: &ModelDir,
        size_speed: BTreeMap<String, SizeSpeed>,
        head_fit: Option<HeadFitScore>,
    ) -> anyhow::Result<Results> {
        let tasks = self.config.finetune.tasks.clone();
        let summary = GlueSummary::new(&glue, &tasks);
        let teacher_config = BertConfig::from_file(&teacher.dir.join("config.json"))?;
        let student_layers = self.config.student.teacher_layers.len() as i64;
        let shapes = [
            (
                TEACHER,
                StudentShape::of_teacher(&teacher_config, teacher_config.num_hidden_layers),
            ),
            (
                STUDENT,
                StudentShape::of_teacher(&teacher_config, student_layers),
            ),
        ];
        let narrow = self
            .config
            .narrow_student
            .as_ref()
            .map(|n| (NARROW_STUDENT, n.shape));
        let encoder_flops_per_token = shapes
            .into_iter()
            .chain(narrow)
            .map(|(name, shape)| {
                (
                    name.to_string(),
                    encoder_flops_per_token(&shape, shards.max_seq_len),
                )
            })
            .collect();
        let (t, st) = (&size_speed[TEACHER], &size_speed[STUDENT]);
        Ok(Results {
            run_name: self.config.run_name.clone(),
            seeds: self.config.finetune.seeds.clone(),
            majority: self.majority_scores(&tasks)?,
            tasks,
            glue,
            macro_scores: summary.macro_scores,
            macro_by_seed: summary.macro_by_seed,
            macro_spread: summary.macro_spread,
            distillation_gain: summary.distillation_gain,
            encoder_flops_per_token,
            head_fit,
            student_share_of_teacher: summary.student_share_of_teacher,
            paper_share_of_teacher: summary.paper_share_of_teacher,
            squad,
            squad_source: self.config.squad.as_ref().map(|s| SquadSource {
                version: s.version.to_string(),
                train_file: s.data.train_file.as_ref().map(|f| f.display().to_string()),
                dev_file: s.data.dev_file.display().to_string(),
                dev_train_share: s.data.dev_train_share,
            }),
            scale: self.scale(shards, teacher)?,
            speedup: t.seconds / st.seconds,
            size_ratio: st.parameters as f64 / t.parameters as f64,
            size_speed,
            ablations: summary.ablations,
            representation: BTreeMap::new(),
            layer_choice: BTreeMap::new(),
            layer_choice_pick: None,
            representation_ablations: Vec::new(),
            stage_seconds: self
                .stages
                .timings()
                .iter()
                .map(|(name, seconds, _)| (name.clone(), *seconds))
                .collect(),
        })
    }

    /// The run's scale for the report's notes: the config's lengths and the models' sizes.
    fn scale(&self, shards: &Shards, teacher: &ModelDir) -> anyhow::Result<RunScale> {
        let teacher_config = BertConfig::from_file(&teacher.dir.join("config.json"))?;
        let distill = &self.config.distill;
        Ok(RunScale {
            teacher_source: self.config.teacher.source.clone(),
            teacher_pretrain_steps: self
                .config
                .teacher
                .pretrain
                .as_ref()
                .and_then(|p| p.train.training.max_steps),
            teacher_layers: teacher_config.num_hidden_layers as usize,
            student_layers: self.config.student.teacher_layers.len(),
            hidden_size: teacher_config.hidden_size,
            distill_steps: distill.training.max_steps,
            distill_epochs: distill.training.epochs,
            distill_batch: self
                .config
                .data
                .batch_size
                .map(|b| b * distill.optimizer.grad_accumulation as usize),
            max_seq_len: shards.max_seq_len,
            corpus_tokens: shards.tokens,
            max_train_examples: self.config.finetune.max_train_examples,
            max_eval_examples: self.config.finetune.max_eval_examples,
            student_layer_list: super::stages::layer_key(&self.config.student.teacher_layers),
            probe_train_examples: self
                .config
                .representation
                .as_ref()
                .map(|r| r.probe_train_examples),
        })
    }
}

/// Encoder FLOPs per token of a forward pass through a model of `shape` at sequence length
/// `seq_len`: the four attention projections and the two feed-forward matrices (2 FLOPs per
/// multiply-add), plus the attention scores and their weighted sum.
fn encoder_flops_per_token(shape: &StudentShape, seq_len: usize) -> f64 {
    let (d, ff) = (shape.dim as f64, shape.hidden_dim as f64);
    let per_layer = 2.0 * (4.0 * d * d + 2.0 * d * ff) + 2.0 * 2.0 * seq_len as f64 * d;
    shape.n_layers as f64 * per_layer
}

/// Stages the run has: the vocabulary when trained, prep, teacher, its head when fitted,
/// every model made after the teacher, size-speed, the representation scores and layer
/// choices, and one fine-tuning per fine-tuned model, task and seed.
fn stage_count(config: &ReproduceConfig) -> u64 {
    let models = config.model_names();
    let finetuned = config
        .finetune
        .models
        .as_ref()
        .map_or(models.len(), Vec::len) as u64;
    let finetunes = (config.finetune.tasks.len() * config.finetune.seeds.len()) as u64;
    let squad = config.squad.as_ref().map_or(0, |s| {
        let runs = if s.distillation.is_some() { 3 } else { 2 };
        let seeds = s.seeds.as_ref().unwrap_or(&config.finetune.seeds).len();
        (runs * seeds) as u64
    });
    let representation = config.representation.as_ref().map_or(0, |r| {
        (models.len() + r.choices_with(&config.student.teacher_layers).len()) as u64
    });
    let vocab = u64::from(config.corpus.train_vocab.is_some());
    let head = u64::from(config.teacher.fit_head.is_some());
    // prep, teacher and size-speed, plus each model but the teacher.
    3 + vocab + head + (models.len() as u64 - 1) + finetuned * finetunes + squad + representation
}
