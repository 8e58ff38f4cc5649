//! The experiment's stages in order: shards, teacher, student, fine-tuning, ablations, size
//! and speed, report. Each stage's marker hash covers its own config section and the hashes
//! of the stages it reads from, so a change anywhere upstream reruns what depends on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use distil_data::{prepare, train_vocab, Manifest, NoProgress, PrepOptions, VocabOptions};
use distil_student::AnyMaskedLm;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tch::Device;

use distil_core::checkpoint::{copy_tokenizer_files, save_hf_dir, SaveOptions};
use distil_student::init_student::student_config;
use distil_student::DistilBertForMaskedLM;
use distil_tasks::finetune::{
    finetune_glue, finetune_squad, main_metric_key, majority_baseline, GlueDataConfig,
    GlueRunConfig, LoopOptions, SquadRunConfig,
};
use distil_tasks::squad::SquadVersion;
use distil_tasks::GlueTask;
use distil_teacher::BertConfig;
use distil_train::config::{OutputConfig, StudentConfig, StudentInit, TeacherConfig};
use distil_train::distill::{DistillOptions, DistillOutcome, Distiller};
use distil_train::{DistillConfig, Interrupt};
use distil_train::{LossConfig, NO_TEACHER};

use super::config::{ReproduceConfig, SquadSection, DEFAULT_TOKENIZER};
use super::paper;
use super::results::{
    macro_score, median, Ablation, Results, RunScale, SizeSpeed, SquadScore, SquadSource,
    TaskScore, NO_PRETRAINING, STUDENT, STUDENT_D, TEACHER,
};
use super::stages::{write_atomically, Done, StageRunner};
use super::{plots, report};

/// What the prep stage leaves: the shard folder and its size.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shards {
    dir: PathBuf,
    rows: u64,
    tokens: u64,
    vocab_size: usize,
    max_seq_len: usize,
}

/// One SQuAD fine-tuning's scores and the model it saved (a "D" run's teacher).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SquadRun {
    exact_match: f64,
    f1: f64,
    model_dir: PathBuf,
}

/// A model directory some stage wrote or resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ModelDir {
    dir: PathBuf,
}

pub struct Pipeline<'a> {
    config: &'a ReproduceConfig,
    /// The tokenizer every stage uses: the config's, or the vocabulary the vocab stage trained.
    tokenizer: String,
    device: Device,
    run_dir: PathBuf,
    stages: StageRunner,
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
        let student = self.distill(STUDENT, &shards, &teacher)?;
        let mut models = vec![
            (TEACHER.to_string(), teacher.clone()),
            (STUDENT.to_string(), student.clone()),
        ];
        let mut ablation_models = Vec::new();
        if self.config.ablations {
            for (name, _) in paper::ABLATION_DELTAS {
                ablation_models.push((name.to_string(), self.distill(name, &shards, &teacher)?));
            }
            models.push((NO_PRETRAINING.to_string(), self.random_student(&teacher)?));
        }
        let size_speed = self.size_speed(&teacher, &student)?;
        let tasks: Vec<String> = self.config.finetune.tasks.clone();
        let mut glue: BTreeMap<String, BTreeMap<String, TaskScore>> = BTreeMap::new();
        for (name, model) in models.iter().chain(ablation_models.iter()) {
            for task in &tasks {
                let score = self.finetune(name, model, task)?;
                glue.entry(name.clone())
                    .or_default()
                    .insert(task.clone(), score);
            }
        }
        let mut squad = BTreeMap::new();
        if let Some(section) = self.config.squad.clone() {
            let (score, teacher_runs) = self.squad(TEACHER, &teacher, &section, None)?;
            squad.insert(TEACHER.to_string(), score);
            squad.insert(
                STUDENT.to_string(),
                self.squad(STUDENT, &student, &section, None)?.0,
            );
            if section.distillation.is_some() {
                let (score, _) = self.squad(STUDENT_D, &student, &section, Some(&teacher_runs))?;
                squad.insert(STUDENT_D.to_string(), score);
            }
        }
        let macro_scores: BTreeMap<String, f64> = glue
            .iter()
            .map(|(m, s)| (m.clone(), macro_score(s, &tasks)))
            .collect();
        let share = |a: f64, b: f64| 100.0 * a / b;
        let mut student_share = BTreeMap::new();
        let mut paper_share = BTreeMap::new();
        for task in &tasks {
            let ours = |m: &str| {
                glue.get(m)
                    .and_then(|s| s.get(task))
                    .map_or(f64::NAN, |s| s.median)
            };
            student_share.insert(task.clone(), share(ours(STUDENT), ours(TEACHER)));
            if let Some((b, d)) = paper::glue_scores(task) {
                paper_share.insert(task.clone(), share(d, b));
            }
        }
        let get = |m: &str| macro_scores.get(m).copied().unwrap_or(f64::NAN);
        student_share.insert("macro".into(), share(get(STUDENT), get(TEACHER)));
        paper_share.insert(
            "macro".into(),
            share(
                paper::glue_macro(&tasks, false),
                paper::glue_macro(&tasks, true),
            ),
        );
        let ablations = paper::ABLATION_DELTAS
            .iter()
            .filter(|(name, _)| macro_scores.contains_key(*name))
            .map(|(name, paper_delta)| Ablation {
                name: name.to_string(),
                macro_score: get(name),
                delta: get(name) - get(STUDENT),
                paper_delta: *paper_delta,
            })
            .collect();
        let sizes = &size_speed.value;
        let (t, st) = (&sizes[TEACHER], &sizes[STUDENT]);
        let majority = self.majority_scores(&tasks)?;
        let results = Results {
            run_name: self.config.run_name.clone(),
            tasks,
            seeds: self.config.finetune.seeds.clone(),
            majority,
            glue,
            macro_scores,
            student_share_of_teacher: student_share,
            paper_share_of_teacher: paper_share,
            squad,
            squad_source: self.config.squad.as_ref().map(|s| SquadSource {
                version: squad_version_key(s.version).to_string(),
                train_file: s.data.train_file.as_ref().map(|f| f.display().to_string()),
                dev_file: s.data.dev_file.display().to_string(),
                dev_train_share: s.data.dev_train_share,
            }),
            scale: self.scale(&shards.value, &teacher.value)?,
            speedup: t.seconds / st.seconds,
            size_ratio: st.parameters as f64 / t.parameters as f64,
            size_speed: size_speed.value.clone(),
            ablations,
            stage_seconds: self
                .stages
                .timings()
                .iter()
                .map(|(name, seconds, _)| (name.clone(), *seconds))
                .collect(),
        };
        self.stages.finish();
        let curves: Vec<(String, PathBuf)> =
            std::iter::once((TEACHER.to_string(), teacher.value.dir.join("metrics.jsonl")))
                .chain(std::iter::once((
                    STUDENT.to_string(),
                    self.run_dir
                        .join(format!("distill-{STUDENT}/metrics.jsonl")),
                )))
                .chain(ablation_models.iter().map(|(n, _)| {
                    (
                        n.clone(),
                        self.run_dir.join(format!("distill-{n}/metrics.jsonl")),
                    )
                }))
                .collect();
        self.write_report(&results, &curves)
    }

    /// Trains the corpus vocabulary when the config asks for one; later stages then use it.
    fn vocab(&mut self) -> anyhow::Result<Option<Done<ModelDir>>> {
        let corpus = self.config.corpus.clone();
        let Some(section) = corpus.train_vocab.clone() else {
            return Ok(None);
        };
        let out = self.run_dir.join("vocab");
        // Only what the vocabulary depends on: a new sequence length keeps it.
        let inputs = json!({ "inputs": corpus.inputs, "unit": corpus.unit, "vocab": section });
        let done = self.stages.run("vocab", &inputs, |_| {
            let options = VocabOptions {
                inputs: corpus.inputs.clone(),
                unit: corpus.unit,
                vocab_size: section.vocab_size,
                min_frequency: section.min_frequency,
                lowercase: section.lowercase,
                out: out.clone(),
            };
            Ok(ModelDir {
                dir: train_vocab(&options)?.dir,
            })
        })?;
        self.tokenizer = done.value.dir.display().to_string();
        Ok(Some(done))
    }

    fn prep(&mut self, vocab: Option<&Done<ModelDir>>) -> anyhow::Result<Done<Shards>> {
        let corpus = self.config.corpus.clone();
        let out = self.run_dir.join("shards");
        let inputs = json!({ "corpus": corpus, "vocab": vocab.map(|v| &v.hash) });
        let tokenizer = self.tokenizer.clone();
        self.stages.run("prep", &inputs, |_| {
            let options = PrepOptions {
                inputs: corpus.inputs.clone(),
                unit: corpus.unit,
                tokenizer: tokenizer.clone(),
                out: out.clone(),
                max_seq_len: corpus.max_seq_len,
                shard_tokens: corpus.shard_tokens,
                seed: corpus.seed,
            };
            let manifest: Manifest = prepare(&options, &NoProgress)?;
            Ok(Shards {
                dir: out.clone(),
                rows: manifest.rows,
                tokens: manifest.tokens,
                vocab_size: manifest.vocab_size,
                max_seq_len: manifest.max_seq_len,
            })
        })
    }

    /// The shards' data config: the config's batching and masking, on the prepared shards.
    fn data(&self, shards: &Shards) -> distil_data::DataConfig {
        let mut data = self.config.data.clone();
        data.shards = shards.dir.clone();
        data
    }

    fn teacher(&mut self, shards: &Done<Shards>) -> anyhow::Result<Done<ModelDir>> {
        let section = self.config.teacher.clone();
        let inputs = json!({ "teacher": section, "data": self.config.data, "shards": shards.hash });
        let mut data = self.data(&shards.value);
        if let Some(masking) = section.pretrain.as_ref().and_then(|p| p.masking.clone()) {
            data.masking = masking;
        }
        let out = self.run_dir.join("teacher");
        let tokenizer = tokenizer_dir(&self.tokenizer);
        let vocab = shards.value.vocab_size;
        // Positions cover the longest sequence the shards hold, [CLS] and [SEP] included.
        let positions = shards.value.max_seq_len;
        let config_path = self.run_dir.join("teacher-config.json");
        let quiet = self.stages.multi().is_hidden();
        let run_dir = self.run_dir.clone();
        self.stages.run("teacher", &inputs, |_| {
            if let Some(source) = &section.source {
                let dir = distil_train::distill::models::teacher_dir(source)?;
                return Ok(ModelDir { dir });
            }
            let pretrain = section
                .pretrain
                .as_ref()
                .context("teacher.pretrain is required without teacher.source")?;
            // A fresh BERT trained by the distiller without a teacher: the MLM loss alone
            // (BERT's objective without NSP, as the corpus has no sentence pairs).
            let bert = json!({
                "architectures": ["BertForMaskedLM"],
                "model_type": "bert",
                "vocab_size": vocab,
                "hidden_size": pretrain.hidden_size,
                "num_hidden_layers": pretrain.num_hidden_layers,
                "num_attention_heads": pretrain.num_attention_heads,
                "intermediate_size": pretrain.intermediate_size,
                "max_position_embeddings": positions,
            });
            write_atomically(&config_path, &serde_json::to_vec_pretty(&bert)?)?;
            let train = &pretrain.train;
            let config = DistillConfig {
                teacher: TeacherConfig {
                    source: NO_TEACHER.to_string(),
                    ..TeacherConfig::default()
                },
                student: StudentConfig {
                    init: StudentInit::Config,
                    config: Some(config_path.clone()),
                    freeze_position_embeddings: false,
                    ..StudentConfig::default()
                },
                data: data.clone(),
                loss: LossConfig {
                    alpha_ce: 0.0,
                    alpha_mlm: 1.0,
                    alpha_cos: 0.0,
                    alpha_mse: 0.0,
                    ..LossConfig::default()
                },
                optimizer: train.optimizer.clone(),
                training: train.training.clone(),
                output: OutputConfig {
                    dir: run_dir.clone(),
                    run_name: "teacher-pretrain".to_string(),
                    log_interval: train.log_interval.unwrap_or(10),
                    checkpoint_interval: u64::MAX,
                    keep_last: 1,
                },
                distributed: Default::default(),
            };
            // A rerun starts afresh: its config changed.
            let _ = std::fs::remove_dir_all(config.run_dir());
            let _ = std::fs::remove_dir_all(&out);
            let options = DistillOptions {
                quiet,
                interrupt: Interrupt::manual(),
            };
            let trained = match Distiller::new(config.clone(), false)?.run(&options)? {
                DistillOutcome::Finished { student_dir, .. } => student_dir,
                DistillOutcome::Interrupted { step, .. } => {
                    anyhow::bail!("interrupted at step {step}")
                }
            };
            // The teacher folder holds the model, its tokenizer and its loss curve.
            std::fs::rename(&trained, &out)
                .with_context(|| format!("moving {} to {}", trained.display(), out.display()))?;
            std::fs::copy(
                config.run_dir().join("metrics.jsonl"),
                out.join("metrics.jsonl"),
            )
            .context("copying the teacher's metrics")?;
            if let Some(tokenizer) = &tokenizer {
                copy_tokenizer_files(tokenizer, &out)?;
            }
            Ok(ModelDir { dir: out.clone() })
        })
    }

    /// Distils a student with the triple loss (`student`) or one of Table 4's ablations.
    fn distill(
        &mut self,
        name: &str,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let section = self.config.distill.clone();
        let mut loss = section.loss.clone();
        let mut student = StudentConfig {
            teacher_layers: self.config.student.teacher_layers.clone(),
            ..StudentConfig::default()
        };
        match name {
            "no-ce" => loss.alpha_ce = 0.0,
            "no-cos" => loss.alpha_cos = 0.0,
            "no-mlm" => loss.alpha_mlm = 0.0,
            "random-init" => {
                student.init = StudentInit::Config;
                student.config = Some(self.run_dir.join("student-config.json"));
                // A frozen random position table would handicap the ablation beyond the paper's.
                student.freeze_position_embeddings = false;
            }
            _ => {}
        }
        let inputs = json!({ "name": name, "section": section, "student": self.config.student,
            "data": self.config.data, "shards": shards.hash, "teacher": teacher.hash });
        let config = DistillConfig {
            teacher: TeacherConfig {
                source: teacher.value.dir.display().to_string(),
                ..TeacherConfig::default()
            },
            student,
            data: self.data(&shards.value),
            loss,
            optimizer: section.optimizer.clone(),
            training: section.training.clone(),
            output: OutputConfig {
                dir: self.run_dir.clone(),
                run_name: format!("distill-{name}"),
                log_interval: section.log_interval.unwrap_or(10),
                checkpoint_interval: u64::MAX,
                keep_last: 1,
            },
            distributed: Default::default(),
        };
        let layers = self.config.student.teacher_layers.clone();
        let teacher_dir = teacher.value.dir.clone();
        let quiet = self.stages.multi().is_hidden();
        self.stages.run(&format!("distill-{name}"), &inputs, |_| {
            if let Some(path) = &config.student.config {
                write_student_config(&teacher_dir, &layers, path)?;
            }
            // A rerun starts the run folder afresh: its config changed.
            let _ = std::fs::remove_dir_all(config.run_dir());
            let distiller = Distiller::new(config.clone(), false)?;
            let options = DistillOptions {
                quiet,
                interrupt: Interrupt::manual(),
            };
            match distiller.run(&options)? {
                DistillOutcome::Finished { student_dir, .. } => Ok(ModelDir { dir: student_dir }),
                DistillOutcome::Interrupted { step, .. } => {
                    anyhow::bail!("interrupted at step {step}")
                }
            }
        })
    }

    /// The student architecture with fresh random weights: the no-pretraining baseline.
    fn random_student(&mut self, teacher: &Done<ModelDir>) -> anyhow::Result<Done<ModelDir>> {
        let inputs = json!({ "student": self.config.student, "teacher": teacher.hash, "seed": self.config.distill.training.seed });
        let out = self.run_dir.join(NO_PRETRAINING);
        let teacher_dir = teacher.value.dir.clone();
        let layers = self.config.student.teacher_layers.clone();
        let seed = self.config.distill.training.seed;
        self.stages.run(NO_PRETRAINING, &inputs, |_| {
            let config = student_config_for(&teacher_dir, &layers)?;
            tch::manual_seed(seed as i64);
            let vs = tch::nn::VarStore::new(Device::Cpu);
            let _model = DistilBertForMaskedLM::new(vs.root(), &config);
            let options = SaveOptions {
                dtype: None,
                tokenizer_dir: Some(teacher_dir.clone()),
            };
            save_hf_dir(&out, &serde_json::to_value(&config)?, &vs, &options)?;
            Ok(ModelDir { dir: out.clone() })
        })
    }

    /// The GLUE files and caps of every fine-tuning on `task`.
    fn glue_data(&self, task: GlueTask) -> GlueDataConfig {
        let section = &self.config.finetune;
        GlueDataConfig {
            dir: Some(section.glue_dir.join(task.dir_name())),
            max_train_examples: section.max_train_examples,
            max_eval_examples: section.max_eval_examples,
            predict_test: false,
        }
    }

    /// The majority-class score of each task on the dev data the fine-tunings are scored on.
    fn majority_scores(&self, tasks: &[String]) -> anyhow::Result<BTreeMap<String, f64>> {
        tasks
            .iter()
            .map(|task| {
                let glue_task: GlueTask = task.parse()?;
                let config = GlueRunConfig {
                    data: self.glue_data(glue_task),
                    ..GlueRunConfig::default()
                };
                let metrics = majority_baseline(glue_task, &config)?;
                let key = main_metric_key(glue_task);
                let value = metrics
                    .get(key)
                    .copied()
                    .with_context(|| format!("no `{key}` in {task}'s majority baseline"))?;
                Ok((task.clone(), 100.0 * value))
            })
            .collect()
    }

    /// Fine-tunes `model` on `task` once per seed and keeps the median of the main metric.
    fn finetune(
        &mut self,
        name: &str,
        model: &Done<ModelDir>,
        task: &str,
    ) -> anyhow::Result<TaskScore> {
        let glue_task: GlueTask = task.parse()?;
        let section = self.config.finetune.clone();
        let mut seeds = BTreeMap::new();
        let key = main_metric_key(glue_task);
        for &seed in &section.seeds {
            let run_name = format!("{name}-{task}-seed{seed}");
            let mut training = section.training.clone();
            training.seed = seed;
            let config = GlueRunConfig {
                task: Some(task.to_string()),
                model: distil_tasks::finetune::ModelConfig {
                    source: Some(model.value.dir.display().to_string()),
                    tokenizer: Some(self.tokenizer.clone()),
                    teacher: None,
                },
                data: self.glue_data(glue_task),
                features: section.features.clone(),
                training,
                distillation: Default::default(),
                output: distil_tasks::finetune::OutputConfig {
                    dir: self.run_dir.join("finetune"),
                    run_name: Some(run_name.clone()),
                },
            };
            let inputs = json!({ "config": config, "model": model.hash });
            let device = self.device;
            let quiet = self.stages.multi().is_hidden();
            let done = self
                .stages
                .run(&format!("finetune-{run_name}"), &inputs, |_| {
                    let summary =
                        fresh_finetune(&config.output.dir.join(&run_name), quiet, |options| {
                            finetune_glue(glue_task, &config, device, options)
                        })?;
                    let value = summary.metrics.get(key).copied().with_context(|| {
                        format!(
                            "the run reported no `{key}` (it has {:?})",
                            summary.metrics.keys().collect::<Vec<_>>()
                        )
                    })?;
                    Ok(100.0 * value)
                })?;
            seeds.insert(seed, done.value);
        }
        let values: Vec<f64> = seeds.values().copied().collect();
        Ok(TaskScore {
            metric: key.to_string(),
            median: median(&values),
            seeds,
        })
    }

    /// Fine-tunes `model` on SQuAD once per seed; with `teachers` (the teacher's SQuAD runs by
    /// seed) each run adds the soft-target loss against the same seed's teacher.
    fn squad(
        &mut self,
        name: &str,
        model: &Done<ModelDir>,
        section: &SquadSection,
        teachers: Option<&BTreeMap<u64, Done<SquadRun>>>,
    ) -> anyhow::Result<(SquadScore, BTreeMap<u64, Done<SquadRun>>)> {
        let seeds = section
            .seeds
            .clone()
            .unwrap_or_else(|| self.config.finetune.seeds.clone());
        let mut runs = BTreeMap::new();
        for seed in seeds {
            let run_name = format!("{name}-squad-seed{seed}");
            let teacher = match teachers {
                Some(t) => Some(t.get(&seed).context("no teacher SQuAD run for this seed")?),
                None => None,
            };
            let config = SquadRunConfig {
                version: section.version,
                model: distil_tasks::finetune::ModelConfig {
                    source: Some(model.value.dir.display().to_string()),
                    tokenizer: Some(self.tokenizer.clone()),
                    teacher: teacher.map(|t| t.value.model_dir.display().to_string()),
                },
                data: section.data.clone(),
                features: section.features.clone(),
                decode: section.decode.clone(),
                training: distil_tasks::finetune::TrainingConfig {
                    seed,
                    ..section.training.clone()
                },
                distillation: section.distillation.unwrap_or_default(),
                output: distil_tasks::finetune::OutputConfig {
                    dir: self.run_dir.join("finetune"),
                    run_name: Some(run_name.clone()),
                },
            };
            let inputs = json!({ "config": config, "model": model.hash,
                "teacher": teacher.map(|t| &t.hash) });
            let device = self.device;
            let quiet = self.stages.multi().is_hidden();
            let (em_key, f1_key) = match section.version {
                SquadVersion::V1 => ("exact_match", "f1"),
                SquadVersion::V2 => ("exact", "f1"),
            };
            let done = self
                .stages
                .run(&format!("finetune-{run_name}"), &inputs, |_| {
                    let summary =
                        fresh_finetune(&config.output.dir.join(&run_name), quiet, |options| {
                            finetune_squad(&config, device, options)
                        })?;
                    let metric = |key: &str| {
                        summary
                            .metrics
                            .get(key)
                            .copied()
                            .with_context(|| format!("the SQuAD run reported no `{key}`"))
                    };
                    Ok(SquadRun {
                        exact_match: metric(em_key)?,
                        f1: metric(f1_key)?,
                        model_dir: summary.dir.join("model"),
                    })
                })?;
            runs.insert(seed, done);
        }
        let seeds: BTreeMap<u64, (f64, f64)> = runs
            .iter()
            .map(|(&seed, r)| (seed, (r.value.exact_match, r.value.f1)))
            .collect();
        let column = |f: fn(&(f64, f64)) -> f64| median(&seeds.values().map(f).collect::<Vec<_>>());
        let score = SquadScore {
            exact_match: column(|s| s.0),
            f1: column(|s| s.1),
            seeds,
        };
        Ok((score, runs))
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
        })
    }

    /// Table 3: encoder parameters, and CPU time over the STS-B dev pairs at batch size 1.
    fn size_speed(
        &mut self,
        teacher: &Done<ModelDir>,
        student: &Done<ModelDir>,
    ) -> anyhow::Result<Done<BTreeMap<String, SizeSpeed>>> {
        let inputs = json!({ "bench": self.config.bench, "teacher": teacher.hash, "student": student.hash,
            "max_seq_length": self.config.finetune.features.max_seq_length });
        let models = [
            (TEACHER, teacher.value.dir.clone()),
            (STUDENT, student.value.dir.clone()),
        ];
        let bench = self.config.bench.clone();
        let tokenizer = self.tokenizer.clone();
        let max_seq_length = self.config.finetune.features.max_seq_length;
        self.stages.run("size-speed", &inputs, |_| {
            let pairs = super::timing::sts_b_pairs(&bench, &tokenizer, max_seq_length)?;
            let mut out = BTreeMap::new();
            for (name, dir) in models {
                let (seconds, examples) =
                    super::timing::time_cpu_pass(&dir, &pairs, bench.threads)?;
                out.insert(
                    name.to_string(),
                    SizeSpeed {
                        parameters: encoder_parameters(&dir)?,
                        seconds,
                        examples,
                    },
                );
            }
            Ok(out)
        })
    }

    fn write_report(
        &self,
        results: &Results,
        curves: &[(String, PathBuf)],
    ) -> anyhow::Result<PathBuf> {
        write_atomically(
            &self.run_dir.join("results.json"),
            &serde_json::to_vec_pretty(results)?,
        )?;
        let report_path = self.run_dir.join("report.md");
        let mut text = report::render(results);
        let plots_dir = self.run_dir.join("plots");
        std::fs::create_dir_all(&plots_dir)?;
        let mut drawn = Vec::new();
        for (name, metrics) in curves {
            if metrics.is_file() {
                let png = plots_dir.join(format!("loss-{name}.png"));
                plots::loss_curves(metrics, &format!("{name}: training loss"), &png)?;
                drawn.push(png);
            }
        }
        if !results.tasks.is_empty() {
            let png = plots_dir.join("glue-scores.png");
            plots::score_bars(results, &png)?;
            drawn.push(png);
        }
        if !drawn.is_empty() {
            text.push_str("## Plots\n\n");
            for png in drawn {
                let rel = png.strip_prefix(&self.run_dir).unwrap_or(&png);
                text.push_str(&format!("![{}]({})\n", rel.display(), rel.display()));
            }
        }
        write_atomically(&report_path, text.as_bytes())?;
        Ok(report_path)
    }
}

/// The tokenizer's folder when it is a local path (its files go into saved models).
fn tokenizer_dir(tokenizer: &str) -> Option<PathBuf> {
    let path = Path::new(tokenizer);
    if path.is_dir() {
        Some(path.to_path_buf())
    } else {
        path.parent().filter(|p| p.is_dir()).map(Path::to_path_buf)
    }
}

/// Parameters of the encoder (embeddings and layers), leaving out the MLM head, as the
/// paper's 110M and 66M count them.
fn encoder_parameters(dir: &Path) -> anyhow::Result<u64> {
    let model = AnyMaskedLm::from_pretrained(dir, Device::Cpu)
        .with_context(|| format!("loading {}", dir.display()))?;
    let head = [
        "cls.",
        "vocab_transform",
        "vocab_layer_norm",
        "vocab_projector",
    ];
    Ok(model
        .vs
        .variables()
        .iter()
        .filter(|(name, _)| !head.iter().any(|h| name.starts_with(h)))
        .map(|(_, t)| t.numel() as u64)
        .sum())
}

/// The student's DistilBERT config for the teacher in `teacher_dir` and `layers`.
fn student_config_for(
    teacher_dir: &Path,
    layers: &[usize],
) -> anyhow::Result<distil_student::DistilBertConfig> {
    let teacher = BertConfig::from_file(&teacher_dir.join("config.json"))?;
    let layers: Vec<i64> = layers.iter().map(|&l| l as i64).collect();
    Ok(student_config(&teacher, &layers)?)
}

/// Writes the student's `config.json` (for the random-init ablation).
fn write_student_config(teacher_dir: &Path, layers: &[usize], path: &Path) -> anyhow::Result<()> {
    let config = student_config_for(teacher_dir, layers)?;
    write_atomically(path, &serde_json::to_vec_pretty(&config)?)
}

/// Stages the run has: the vocabulary when trained, prep, teacher, student, size-speed, then
/// the ablations and baseline, and one fine-tuning per model, task and seed.
fn stage_count(config: &ReproduceConfig) -> u64 {
    let extra_models = if config.ablations {
        paper::ABLATION_DELTAS.len() as u64 + 1
    } else {
        0
    };
    let finetunes = (config.finetune.tasks.len() * config.finetune.seeds.len()) as u64;
    let squad = config.squad.as_ref().map_or(0, |s| {
        let runs = if s.distillation.is_some() { 3 } else { 2 };
        let seeds = s.seeds.as_ref().unwrap_or(&config.finetune.seeds).len();
        (runs * seeds) as u64
    });
    let vocab = u64::from(config.corpus.train_vocab.is_some());
    4 + vocab + extra_models + (2 + extra_models) * finetunes + squad
}

/// Runs one fine-tuning stage from scratch in `run`: a stage is never resumed (a re-run starts
/// it afresh), so a leftover folder is cleared first, and the finished run's resume checkpoints
/// (weights plus optimizer moments, two per run: about 10 GB over the mini-cpu config's 84
/// runs) are dropped. The fine-tuned `model/` and the results stay.
fn fresh_finetune<T, E>(
    run: &std::path::Path,
    quiet: bool,
    train: impl FnOnce(&LoopOptions) -> Result<T, E>,
) -> anyhow::Result<T>
where
    anyhow::Error: From<E>,
{
    let _ = std::fs::remove_dir_all(run);
    let options = LoopOptions {
        resume: false,
        quiet,
        interrupt: Interrupt::manual(),
    };
    let summary = train(&options)?;
    let checkpoints = run.join("checkpoints");
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints)
            .with_context(|| format!("removing {}", checkpoints.display()))?;
    }
    Ok(summary)
}

fn squad_version_key(version: SquadVersion) -> &'static str {
    match version {
        SquadVersion::V1 => "1.1",
        SquadVersion::V2 => "2.0",
    }
}
