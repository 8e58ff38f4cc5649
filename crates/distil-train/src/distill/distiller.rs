//! The distillation loop (the reference's `Distiller.train`/`step`/`optimize`): teacher and
//! student forward on the same masked batch, the weighted loss divided by the accumulation
//! count, backward, and every `grad_accumulation` micro-batches clip, step, zero and schedule.
//! Loss values stay on the device until a log step; checkpoints sit on optimizer-step
//! boundaries with the data position and the micro-step that re-seeds dropout, so a resumed
//! run computes exactly what the uninterrupted one would have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use distil_core::config::InvalidKey;
use distil_core::{EncoderInput, MaskedLanguageModel};
use distil_data::{DataPosition, LoadedBatch, Manifest, MlmBatch, MlmLoader};
use distil_student::save_student;
use tch::{Device, Tensor};

use super::models::{
    build_student, check_models, freeze_teacher, load_teacher, teacher_dir, teacher_precision,
    Student, Teacher,
};
use super::plan::{RunLength, RunPlan};
use crate::checkpoint::{Checkpoint, CheckpointManager, MetricGoal};
use crate::config::{DistillConfig, Precision};
use crate::error::TrainError;
use crate::interrupt::Interrupt;
use crate::loss::{LossContext, LossInputs, RowIndex, TripleLoss};
use crate::memory::host_memory_mb;
use crate::metrics::MetricsLogger;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig, GradAccumulation, LossScaler};
use crate::progress::TrainProgress;
use crate::rng::seed_micro_batch;
use crate::run_dir::{ExistingRun, RunDir};
use crate::running_means::{first_non_finite, RunningMeans};
use crate::state::TrainerState;

/// Where the final student goes inside the run directory.
pub const STUDENT_DIR: &str = "student";
const LOSS_METRIC: &str = "losses/loss";
const GRAD_NORM_METRIC: &str = "optim/grad_norm";

/// How a run is started and watched.
#[derive(Debug, Clone)]
pub struct DistillOptions {
    /// No progress bar.
    pub quiet: bool,
    /// Set by Ctrl-C: the loop checkpoints at the next optimizer step and returns.
    pub interrupt: Interrupt,
}

/// How a run ended (errors, including a non-finite loss, are returned as `Err`).
#[derive(Debug, Clone, PartialEq)]
pub enum DistillOutcome {
    /// The run reached its end; the student was saved as an HF directory.
    Finished { steps: u64, student_dir: PathBuf },
    /// Ctrl-C: a checkpoint was written; `--resume` continues from it.
    Interrupted { step: u64, checkpoint: PathBuf },
}

/// Everything a distillation run holds.
pub struct Distiller {
    config: DistillConfig,
    device: Device,
    teacher: Teacher,
    teacher_dir: PathBuf,
    student: Student,
    loss: TripleLoss,
    optimizer: AdamW,
    accumulation: GradAccumulation,
    scaler: Option<LossScaler>,
    plan: RunPlan,
    run: RunDir,
    checkpoints: CheckpointManager,
    state: TrainerState,
    /// Metrics lines past the restored step (from the interrupted run) are dropped.
    resume: bool,
}

/// Metrics summed on the device between two log steps, and the host-side counters.
struct LogWindow {
    micro: RunningMeans,
    steps: RunningMeans,
    tokens: i64,
    started: Instant,
}

impl LogWindow {
    fn new() -> Self {
        Self {
            micro: RunningMeans::new(),
            steps: RunningMeans::new(),
            tokens: 0,
            started: Instant::now(),
        }
    }
}

impl Distiller {
    /// Loads the models, checks them against each other and the shards, opens the run
    /// directory and, with `resume`, restores the newest complete checkpoint.
    pub fn new(config: DistillConfig, resume: bool) -> Result<Self, TrainError> {
        let device = config.training.device.resolve()?;
        check_precision(&config, device)?;
        let manifest = Manifest::load(&config.data.shards)?;

        let teacher_dir = teacher_dir(&config.teacher.source)?;
        let mut teacher = load_teacher(&teacher_dir, device)?;
        // Fresh student weights (a config init, a fresh MLM transform) depend on the seed only.
        tch::manual_seed(config.training.seed as i64);
        let student = build_student(&config, &teacher, &teacher_dir, device)?;
        check_models(&config, &teacher, &student, &manifest)?;
        freeze_teacher(
            &mut teacher,
            teacher_precision(&config.teacher, config.training.precision),
        );

        let existing = if resume {
            ExistingRun::Resume
        } else {
            ExistingRun::Refuse
        };
        let run = RunDir::open(config.run_dir(), existing)?;
        let checkpoints = CheckpointManager::new(
            run.checkpoints_dir(),
            config.output.keep_last,
            MetricGoal::Minimize,
        );
        checkpoints.remove_partial()?;
        run.save_config(&config)?;

        let mut student = student;
        let mut optimizer = AdamW::new(&student.vs, AdamWConfig::from(&config.optimizer));
        let mut state = TrainerState::new(config.training.seed);
        if resume {
            if let Some(checkpoint) = checkpoints.latest()? {
                state = checkpoint.restore(&mut student.vs, &mut optimizer)?;
                log::info!("resuming from {}", checkpoint.dir.display());
            }
        }
        let scaler =
            (config.training.precision == Precision::Fp16).then(|| match state.loss_scaler {
                Some(saved) => LossScaler::with_state(device, saved),
                None => LossScaler::new(device),
            });
        Ok(Self {
            loss: TripleLoss::from_config(&config.loss),
            accumulation: GradAccumulation::new(config.optimizer.grad_accumulation),
            plan: RunPlan::new(&config, &manifest),
            config,
            device,
            teacher,
            teacher_dir,
            student,
            optimizer,
            scaler,
            run,
            checkpoints,
            state,
            resume,
        })
    }

    pub fn run_dir(&self) -> &Path {
        self.run.root()
    }

    /// Optimizer steps already done (non-zero after a resume).
    pub fn start_step(&self) -> u64 {
        self.state.optimizer_step
    }

    pub fn plan(&self) -> &RunPlan {
        &self.plan
    }

    /// Trains to the end of the plan, or until Ctrl-C, then saves the student.
    pub fn run(mut self, options: &DistillOptions) -> Result<DistillOutcome, TrainError> {
        let position = self.data_position()?;
        let loader = MlmLoader::open(&self.config.data, position.as_ref())?;
        let mut logger = MetricsLogger::open(
            &self.run.metrics_path(),
            Some(&self.run.tensorboard_dir()),
            self.resume.then_some(self.state.optimizer_step),
        )?;
        let progress = TrainProgress::new(
            self.plan.expected_steps,
            self.state.optimizer_step,
            options.quiet,
        );
        let mut window = LogWindow::new();
        let mut last_loss = None;
        let mut lr = self.plan.schedule.lr(self.state.optimizer_step);

        for item in loader {
            if self.finished() {
                break;
            }
            let LoadedBatch {
                batch,
                epoch,
                position,
            } = item?;
            if matches!(self.plan.length, RunLength::Epochs(e) if epoch >= e) {
                break;
            }
            self.forward_backward(&batch, &mut window.micro);
            self.state.micro_step += 1;
            self.state.tokens_seen += batch.n_tokens as u64;
            self.state.epoch = epoch;
            self.state.data_position =
                serde_json::to_value(&position).map_err(|source| TrainError::State {
                    path: self.run.checkpoints_dir(),
                    source,
                })?;
            window.tokens += batch.n_tokens;
            if !self.accumulation.micro_batch_done() {
                continue;
            }

            let grad_norm;
            (grad_norm, lr) = self.optimizer_step();
            window.steps.add([(GRAD_NORM_METRIC, &grad_norm)]);
            self.state.optimizer_step += 1;
            let step = self.state.optimizer_step;
            progress.set_step(step);

            let interrupted = options.interrupt.requested();
            let checkpoint_due = step % self.config.output.checkpoint_interval == 0
                || self.finished()
                || interrupted;
            // Checkpoint steps also log: the finiteness check must pass before weights are
            // written, so a diverged run never overwrites a good checkpoint.
            if step % self.config.output.log_interval == 0 || checkpoint_due {
                let loss = self.log(&mut logger, &mut window, lr, &progress)?;
                last_loss = Some(loss);
            }
            if checkpoint_due {
                let checkpoint = self.save_checkpoint(last_loss)?;
                if interrupted {
                    progress.finish();
                    return Ok(DistillOutcome::Interrupted {
                        step,
                        checkpoint: checkpoint.dir,
                    });
                }
            }
            if self.finished() {
                break;
            }
        }

        // An epoch-bounded run ends between log steps: log and checkpoint what is left.
        if window.steps.count() > 0 {
            last_loss = Some(self.log(&mut logger, &mut window, lr, &progress)?);
        }
        self.save_checkpoint(last_loss)?;
        progress.finish();
        let student_dir = self.run.root().join(STUDENT_DIR);
        save_student(&self.student, &student_dir, Some(&self.teacher_dir))?;
        Ok(DistillOutcome::Finished {
            steps: self.state.optimizer_step,
            student_dir,
        })
    }

    fn finished(&self) -> bool {
        matches!(self.plan.length, RunLength::Steps(s) if self.state.optimizer_step >= s)
    }

    fn data_position(&self) -> Result<Option<DataPosition>, TrainError> {
        if self.state.data_position.is_null() {
            return Ok(None);
        }
        serde_json::from_value(self.state.data_position.clone())
            .map(Some)
            .map_err(|source| TrainError::State {
                path: self.run.checkpoints_dir(),
                source,
            })
    }

    /// One micro-batch: both forwards on the same masked input, the loss, backward of
    /// `loss / grad_accumulation`. Only device tensors are produced; nothing is read back.
    fn forward_backward(&self, batch: &MlmBatch, means: &mut RunningMeans) {
        seed_micro_batch(self.state.seed, self.state.micro_step);
        let input_ids = batch.input_ids.to_device(self.device);
        let attention_mask = batch.attention_mask.to_device(self.device);
        let labels = batch.labels.to_device(self.device);
        let rows = RowIndex::new(&batch.attention_mask, &batch.labels, self.device);
        let input = EncoderInput::new(&input_ids, &attention_mask);
        let teacher: &dyn MaskedLanguageModel = &self.teacher.model;
        let student: &dyn MaskedLanguageModel = &self.student.model;
        let teacher_out = tch::no_grad(|| teacher.encode(&input, false));
        let forward = || {
            let student_out = student.encode(&input, true);
            let mut ctx = LossContext::new(LossInputs {
                student,
                teacher,
                student_out: &student_out,
                teacher_out: &teacher_out,
                labels: &labels,
                rows: &rows,
                train: true,
            });
            self.loss.compute(&mut ctx)
        };
        let output = if self.scaler.is_some() {
            tch::autocast(true, forward)
        } else {
            forward()
        };
        let scaled = &output.total * self.accumulation.loss_factor();
        match &self.scaler {
            Some(scaler) => scaler.scale(&scaled).backward(),
            None => scaled.backward(),
        }
        let total = output.total.detach();
        let named: Vec<(String, &Tensor)> = output
            .terms
            .iter()
            .map(|(name, value)| (format!("losses/{name}"), value))
            .chain([(LOSS_METRIC.to_string(), &total)])
            .collect();
        means.add(named.iter().map(|(name, value)| (name.as_str(), *value)));
    }

    /// Clip, step, zero (the reference's `optimize`); returns the pre-clip gradient norm (on
    /// the device) and the learning rate used.
    fn optimizer_step(&mut self) -> (Tensor, f64) {
        let grads = self.optimizer.grads();
        if let Some(scaler) = &mut self.scaler {
            scaler.unscale(&grads);
        }
        let norm = clip_grad_norm(&grads, self.config.optimizer.max_grad_norm);
        let lr = self.plan.schedule.lr(self.state.optimizer_step);
        match &mut self.scaler {
            Some(scaler) => {
                // An overflowed step is skipped and the scale backs off, as GradScaler does.
                if scaler.grads_finite() {
                    self.optimizer.step(lr);
                }
                scaler.update();
            }
            None => self.optimizer.step(lr),
        }
        self.optimizer.zero_grad();
        (norm, lr)
    }

    /// Reads the window's means from the device (the loop's one host sync), writes them to
    /// JSONL and TensorBoard, and stops the run on a NaN or infinite value.
    fn log(
        &mut self,
        logger: &mut MetricsLogger,
        window: &mut LogWindow,
        lr: f64,
        progress: &TrainProgress,
    ) -> Result<f64, TrainError> {
        let steps = window.steps.count().max(1) as f64;
        let mut metrics: BTreeMap<String, f64> = window.micro.take();
        metrics.extend(window.steps.take());
        let seconds = window.started.elapsed().as_secs_f64().max(1e-9);
        let tokens_per_s = window.tokens as f64 / seconds;
        metrics.insert("learning_rate/lr".to_string(), lr);
        metrics.insert("global/tokens_per_s".to_string(), tokens_per_s);
        metrics.insert("global/step_time_s".to_string(), seconds / steps);
        metrics.insert("global/epoch".to_string(), self.state.epoch as f64);
        if let Some(mb) = host_memory_mb() {
            metrics.insert("global/memory_usage".to_string(), mb);
        }
        if let Some(scaler) = &self.scaler {
            metrics.insert("optim/loss_scale".to_string(), scaler.state().scale);
        }
        *window = LogWindow::new();
        let step = self.state.optimizer_step;
        logger.log(step, &metrics)?;

        // Name a loss term before the total it makes non-finite.
        let (terms, mut others): (BTreeMap<String, f64>, BTreeMap<String, f64>) = metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .partition(|(k, _)| k.starts_with("losses/loss_"));
        if self.scaler.is_some() {
            // With loss scaling, an overflowed gradient is expected: the step is skipped.
            others.remove(GRAD_NORM_METRIC);
        }
        if let Some((metric, value)) =
            first_non_finite(&terms).or_else(|| first_non_finite(&others))
        {
            progress.finish();
            return Err(TrainError::NonFinite {
                step,
                metric: metric.to_string(),
                value,
            });
        }
        let loss = metrics.get(LOSS_METRIC).copied().unwrap_or(f64::NAN);
        progress.show(loss, tokens_per_s);
        Ok(loss)
    }

    fn save_checkpoint(&mut self, loss: Option<f64>) -> Result<Checkpoint, TrainError> {
        if let Some(scaler) = &self.scaler {
            self.state.loss_scaler = Some(scaler.state());
        }
        self.checkpoints
            .save(&self.student.vs, &self.optimizer, &self.state, loss)
    }
}

/// fp16 runs on CUDA AMP kernels; on the CPU only fp32 and bf16 are offered.
fn check_precision(config: &DistillConfig, device: Device) -> Result<(), TrainError> {
    if device != Device::Cpu {
        return Ok(());
    }
    let refuse = |key: &str| {
        Err(TrainError::Unsupported(InvalidKey::new(
            key,
            "fp16 needs a CUDA device (its loss scaling runs on CUDA AMP kernels); use fp32 or \
             bf16 on the CPU",
        )))
    };
    if config.training.precision == Precision::Fp16 {
        return refuse("training.precision");
    }
    if config.teacher.dtype == Precision::Fp16 {
        return refuse("teacher.dtype");
    }
    Ok(())
}
