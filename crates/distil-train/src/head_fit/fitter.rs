//! The head-fitting loop: one masked batch per step through the frozen encoder (eval mode, no
//! gradients), the head at the targets only, cross-entropy, AdamW on the head's variables.
//! Metrics go to `metrics.jsonl` and TensorBoard; the fitted model, a masked LM that
//! `transformers` loads, to `<run>/teacher/`; the held-out scores to `results.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use distil_core::checkpoint::{save_hf_dir, SaveOptions};
use distil_core::config::InvalidKey;
use distil_core::nn::Pretrained;
use distil_core::{LanguageModel, Objective};
use distil_data::{BatchLoader, DataConfig, LmBatch, Manifest};
use distil_models::{AnyConfig, AnyLanguageModel};
use serde_json::{json, Value};
use tch::{Device, Kind, Reduction, Tensor};

use super::score::{masked_hidden, score_head, HeadScore, UnigramBaseline};
use super::HeadFitConfig;
use crate::distill::models::teacher_dir;
use crate::error::TrainError;
use crate::interrupt::Interrupt;
use crate::metrics::MetricsLogger;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig, LinearWarmupDecay};
use crate::progress::TrainProgress;
use crate::run_dir::{ExistingRun, RunDir};

/// Where the fitted masked LM goes inside the run directory.
pub const HEAD_FIT_MODEL_DIR: &str = "teacher";
const RESULTS_FILE: &str = "results.json";

/// How a fit ended.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadFitOutcome {
    /// The head beats the unigram baseline; the model is saved in `model_dir`.
    Finished {
        model_dir: PathBuf,
        head: HeadScore,
        unigram: HeadScore,
    },
    /// Ctrl-C after `step` steps: nothing was saved (a fit is minutes; rerun it).
    Interrupted { step: u64 },
}

/// A loaded encoder with its head to fit, the data and the run folder.
pub struct HeadFitter {
    config: HeadFitConfig,
    device: Device,
    model: Pretrained<AnyLanguageModel, AnyConfig>,
    source_dir: PathBuf,
    /// `config.json` of the source, written back with a masked-LM architecture.
    source_config: Value,
    optimizer: AdamW,
    baseline: UnigramBaseline,
    run: RunDir,
}

impl HeadFitter {
    /// Loads the encoder (with a fresh head whose bias starts at the unigram log-frequencies
    /// when it has none), checks it against both shard folders and opens the run folder.
    pub fn new(config: HeadFitConfig) -> Result<Self, TrainError> {
        let device = config.training.device.resolve()?;
        let manifest = Manifest::load(&config.data.shards)?;
        let held_out = Manifest::load(&config.eval.shards)?;
        if held_out.vocab_size != manifest.vocab_size {
            return Err(TrainError::Incompatible(InvalidKey::new(
                "eval.shards",
                format!(
                    "`{}` has a vocabulary of {} ids, data.shards {}: prepare both with the \
                     teacher's tokenizer",
                    config.eval.shards.display(),
                    held_out.vocab_size,
                    manifest.vocab_size
                ),
            )));
        }
        let source_dir = teacher_dir(&config.teacher)?;
        tch::manual_seed(config.training.seed as i64);
        let (mut model, had_head) =
            AnyLanguageModel::from_pretrained_head_optional(&source_dir, device)?;
        if model.config.objective() != Objective::MaskedLm {
            return Err(TrainError::Unsupported(InvalidKey::new(
                "teacher",
                format!(
                    "`{}` is a causal LM: its head is its token embeddings, always there and \
                     trained with it, so there is no MLM head to fit",
                    source_dir.display()
                ),
            )));
        }
        check_shards(&model, &manifest, &config.data.shards)?;
        let baseline = UnigramBaseline::new(
            &manifest.token_counts(&config.data.shards)?,
            &manifest.special_tokens.all,
        );
        model.vs.freeze();
        let mut head: Vec<(String, Tensor)> = model
            .vs
            .variables()
            .into_iter()
            .filter(|(name, _)| model.config.is_mlm_head_variable(name))
            .collect();
        head.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, variable) in &mut head {
            if !had_head
                && name.ends_with("bias")
                && variable.dim() == 1
                && variable.size()[0] == manifest.vocab_size as i64
            {
                tch::no_grad(|| variable.copy_(&baseline.initial_bias().to_device(device)));
            }
            let _ = variable.set_requires_grad(true);
        }
        let optimizer = AdamW::from_named(
            head,
            AdamWConfig {
                betas: (0.9, 0.999),
                eps: 1e-6,
                weight_decay: config.training.weight_decay,
            },
        );
        let config_path = source_dir.join("config.json");
        let source_config: Value = std::fs::read(&config_path)
            .map_err(|e| TrainError::io(&config_path, e))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|source| TrainError::State {
                    path: config_path.clone(),
                    source,
                })
            })?;
        let run = RunDir::open(config.run_dir(), ExistingRun::Refuse)?;
        run.save_config(&config)?;
        Ok(Self {
            config,
            device,
            model,
            source_dir,
            source_config,
            optimizer,
            baseline,
            run,
        })
    }

    pub fn run_dir(&self) -> &Path {
        self.run.root()
    }

    /// Fits the head, scores it on the held-out shards, writes `results.json`, and saves the
    /// model unless the head does no better than the unigram baseline (an error).
    pub fn run(mut self, quiet: bool, interrupt: &Interrupt) -> Result<HeadFitOutcome, TrainError> {
        let training = self.config.training.clone();
        let schedule =
            LinearWarmupDecay::new(training.learning_rate, training.steps, training.warmup_prop);
        let mut loader = BatchLoader::open(&self.config.data, None, Objective::MaskedLm)?;
        let mut logger = MetricsLogger::open(
            &self.run.metrics_path(),
            Some(&self.run.tensorboard_dir()),
            None,
        )?;
        let progress = TrainProgress::new(training.steps, 0, quiet);
        let model: &dyn LanguageModel = &self.model.model;
        let (mut loss_sum, mut tokens, mut window_steps) = (Tensor::from(0f64), 0i64, 0u64);
        let mut started = Instant::now();
        for step in 1..=training.steps {
            if interrupt.requested() {
                progress.finish();
                return Ok(HeadFitOutcome::Interrupted { step: step - 1 });
            }
            let Some(item) = loader.next() else { break };
            let batch = item?.batch;
            let (hidden, targets) = masked_hidden(model, &batch, self.device);
            let loss = model
                .vocab_logits(&hidden, true)
                .cross_entropy_loss::<Tensor>(&targets, None, Reduction::Mean, -100, 0.0);
            loss.backward();
            let grads = self.optimizer.grads();
            let _ = clip_grad_norm(&grads, training.max_grad_norm);
            let lr = schedule.lr(step - 1);
            self.optimizer.step(lr);
            self.optimizer.zero_grad();
            loss_sum += loss.detach().to_kind(Kind::Double);
            tokens += batch.n_tokens;
            window_steps += 1;
            progress.set_step(step);
            if step % self.config.output.log_interval == 0 || step == training.steps {
                let mean = loss_sum.double_value(&[]) / window_steps as f64;
                if !mean.is_finite() {
                    return Err(TrainError::NonFinite {
                        step,
                        metric: "head/loss".to_string(),
                        value: mean,
                    });
                }
                let rate = tokens as f64 / started.elapsed().as_secs_f64().max(1e-9);
                let metrics = BTreeMap::from([
                    ("head/loss".to_string(), mean),
                    ("optim/lr".to_string(), lr),
                    ("global/tokens_per_s".to_string(), rate),
                ]);
                logger.log(step, &metrics)?;
                progress.show(mean, rate);
                (loss_sum, tokens, window_steps) = (Tensor::from(0f64), 0, 0);
                started = Instant::now();
            }
        }
        progress.finish();
        drop(loader);

        let held_out = self.held_out_batches()?;
        let (head, unigram) = score_head(model, &held_out, &self.baseline, self.device);
        let results = json!({
            "teacher": self.config.teacher,
            "steps": training.steps,
            "held_out": { "shards": self.config.eval.shards, "head": head, "unigram": unigram },
        });
        let results_path = self.run.root().join(RESULTS_FILE);
        let text = serde_json::to_vec_pretty(&results).map_err(|source| TrainError::State {
            path: results_path.clone(),
            source,
        })?;
        distil_core::fs::write_atomically(&results_path, &text)?;
        if head.loss >= unigram.loss || head.accuracy <= unigram.accuracy {
            return Err(TrainError::HeadNotFitted {
                results: results_path,
                head_loss: head.loss,
                unigram_loss: unigram.loss,
                head_accuracy: head.accuracy,
                unigram_accuracy: unigram.accuracy,
            });
        }
        let model_dir = self.run.root().join(HEAD_FIT_MODEL_DIR);
        self.save(&model_dir)?;
        Ok(HeadFitOutcome::Finished {
            model_dir,
            head,
            unigram,
        })
    }

    /// The first `eval.batches` batches of the held-out shards, in shard order with the
    /// masking seeded by `data.seed`: the same targets for every fit.
    fn held_out_batches(&self) -> Result<Vec<LmBatch>, TrainError> {
        let data = DataConfig {
            shards: self.config.eval.shards.clone(),
            shuffle_buffer: 1,
            ..self.config.data.clone()
        };
        let mut batches = Vec::with_capacity(self.config.eval.batches);
        for item in
            BatchLoader::open(&data, None, Objective::MaskedLm)?.take(self.config.eval.batches)
        {
            let item = item?;
            if item.epoch > 0 {
                break;
            }
            batches.push(item.batch);
        }
        Ok(batches)
    }

    /// The encoder and fitted head as a masked LM `transformers` loads, with the source's
    /// tokenizer files.
    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let mut config = self.source_config.clone();
        let architecture = match self.model.config {
            AnyConfig::Bert(_) => "BertForMaskedLM",
            AnyConfig::DistilBert(_) => "DistilBertForMaskedLM",
            AnyConfig::Roberta(_) => "RobertaForMaskedLM",
            AnyConfig::Gpt2(_) => "GPT2LMHeadModel",
        };
        config["architectures"] = json!([architecture]);
        let options = SaveOptions {
            dtype: None,
            tokenizer_dir: Some(self.source_dir.clone()),
        };
        save_hf_dir(dir, &config, &self.model.vs, &options)?;
        Ok(())
    }
}

/// The shards' ids and lengths must fit the encoder.
fn check_shards(
    model: &Pretrained<AnyLanguageModel, AnyConfig>,
    manifest: &Manifest,
    shards: &Path,
) -> Result<(), TrainError> {
    let vocab = model.model.vocab_size();
    let positions = model.config.max_position_embeddings();
    let problem = if manifest.vocab_size as i64 != vocab {
        Some(format!(
            "was tokenised with a vocabulary of {} ids but the teacher has {vocab}",
            manifest.vocab_size
        ))
    } else if manifest.max_seq_len as i64 > positions {
        Some(format!(
            "holds sequences of up to {} tokens but the teacher has {positions} positions",
            manifest.max_seq_len
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(TrainError::Incompatible(InvalidKey::new(
            "data.shards",
            format!("`{}` {problem}", shards.display()),
        ))),
        None => Ok(()),
    }
}
