//! The distillation loop (the reference's `Distiller.train`): `grad_accumulation` micro-batches
//! through the [`DistillStep`] (teacher and student forward, losses, backward), then its
//! optimizer step at the scheduled learning rate, logging and checkpoints. With
//! `teacher.source: none` the same loop pretrains the student on its LM loss alone. Loss
//! values stay on the device until a log step; checkpoints sit on optimizer-step boundaries
//! with the data position and the micro-step that re-seeds dropout, so a resumed run computes
//! exactly what the uninterrupted one would have.
//!
//! Under `torchrun` each rank trains on its own share of the batches (see
//! [`super::data_parallel`]): rank 0's weights are broadcast once, gradients are averaged over
//! the ranks at every optimizer step, the logged metrics are averaged so every rank takes the
//! same stop decisions, and only rank 0 writes the run directory (the others read its
//! checkpoints on resume, so they need the same filesystem).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use distil_core::config::InvalidKey;
use distil_core::LanguageModel;
use distil_data::{BatchLoader, DataPosition, LmBatch, LoadedBatch, Manifest, Partition};
use distil_distributed::DataParallel;
use distil_models::AnyConfig;
use distil_student::save_student;
use tch::{Device, Tensor};

use super::data_parallel::{
    all_ranks, average_gradients, average_over_ranks, broadcast_weights, gather_positions,
    rank_position, weights_digest,
};
use super::models::{
    build_student, check_models, freeze_teacher, load_teacher, model_dims, teacher_dir,
    teacher_precision, Student, Teacher,
};
use super::plan::{RunLength, RunPlan};
use crate::checkpoint::{CheckpointManager, MetricGoal};
use crate::config::{DistillConfig, Precision, TeacherSource, TrainingPrecision};
use crate::error::TrainError;
use crate::interrupt::Interrupt;
use crate::loss::TripleLoss;
use crate::metrics::MetricsLogger;
use crate::optim::{AdamW, AdamWConfig, LossScaler};
use crate::progress::TrainProgress;
use crate::rng::rank_seed;
use crate::run_dir::{ExistingRun, RunDir};
use crate::running_means::{first_non_finite, RunningMeans};
use crate::state::TrainerState;
use crate::step::{DeviceBatch, DistillStep, StepAutocast, StepModels};
use distil_core::process::resident_mib;

/// Where the final student goes inside the run directory.
pub const STUDENT_DIR: &str = "student";
const LOSS_METRIC: &str = "losses/loss";
const GRAD_NORM_METRIC: &str = "optim/grad_norm";
/// Summed, not averaged, over the ranks: the job's throughput.
pub(super) const TOKENS_METRIC: &str = "global/tokens_per_s";
/// Peak CUDA memory held by tensors and by the caching allocator since the previous log step
/// (CUDA runs only; `global/memory_usage` is the host's resident memory).
const CUDA_ALLOCATED_METRIC: &str = "global/cuda_peak_allocated_mib";
const CUDA_RESERVED_METRIC: &str = "global/cuda_peak_reserved_mib";

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
    /// The run reached its end; the student was saved as an HF directory (by rank 0).
    /// `weights_digest` fingerprints the final weights: data-parallel ranks print equal ones.
    Finished {
        steps: u64,
        student_dir: PathBuf,
        weights_digest: String,
    },
    /// Ctrl-C: a checkpoint was written (by rank 0); `--resume` continues from it.
    Interrupted { step: u64, checkpoint: PathBuf },
}

/// Everything a distillation run holds.
pub struct Distiller {
    config: DistillConfig,
    device: Device,
    /// `None` for pretraining without a teacher.
    teacher: Option<Teacher>,
    /// Where the saved student's tokenizer files come from: the teacher's directory, or
    /// `student.config`'s without a teacher.
    tokenizer_dir: Option<PathBuf>,
    student: Student,
    /// The loss, the optimizer and the fp16 loss scale.
    step: DistillStep,
    plan: RunPlan,
    run: RunDir,
    checkpoints: CheckpointManager,
    state: TrainerState,
    /// Metrics lines past the restored step (from the interrupted run) are dropped.
    resume: bool,
    /// The process group under `torchrun`; `None` for a single process.
    data_parallel: Option<DataParallel>,
    /// This rank's data position after its latest micro-batch.
    position: Option<DataPosition>,
    /// Checkpoints saved by this process: keeps each gather's store key new.
    saves: u64,
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
    pub fn new(mut config: DistillConfig, resume: bool) -> Result<Self, TrainError> {
        let device = config.training.device.resolve()?;
        let data_parallel = DataParallel::from_env(device, &config.distributed)?;
        let device = data_parallel.as_ref().map_or(device, DataParallel::device);
        if let Some(dp) = &data_parallel {
            config.data.partition = Partition {
                rank: dp.rank(),
                world_size: dp.world_size(),
            };
        }
        let is_root = data_parallel.as_ref().is_none_or(DataParallel::is_root);
        check_precision(&config, device)?;
        if let Device::Cuda(_) = device {
            distil_amp::set_tf32(config.training.tf32)?;
        }
        let manifest = Manifest::load(&config.data.shards)?;

        let (mut teacher, tokenizer_dir) = match &config.teacher.source {
            TeacherSource::None => {
                let student_dir = config.student.config.as_deref().and_then(Path::parent);
                (None, student_dir.map(Path::to_path_buf))
            }
            TeacherSource::Model(source) => {
                let dir = teacher_dir(source)?;
                let needs_logits = config.loss.alpha_ce > 0.0 || config.loss.alpha_mse > 0.0;
                (Some(load_teacher(&dir, device, needs_logits)?), Some(dir))
            }
        };
        // Fresh student weights (a config init, a fresh MLM transform) depend on the seed only.
        tch::manual_seed(config.training.seed as i64);
        let teacher_source = teacher.as_ref().zip(tokenizer_dir.as_deref());
        let student = build_student(&config, teacher_source, device)?;
        check_models(&config, teacher.as_ref(), &student, &manifest)?;
        if let Some(teacher) = &mut teacher {
            freeze_teacher(
                teacher,
                teacher_precision(&config.teacher, config.training.precision),
            );
        }

        let existing = if resume {
            ExistingRun::Resume
        } else {
            ExistingRun::Refuse
        };
        let run = if is_root {
            RunDir::open(config.run_dir(), existing)?
        } else {
            RunDir::at(config.run_dir())
        };
        let checkpoints = CheckpointManager::new(
            run.checkpoints_dir(),
            config.output.keep_last,
            MetricGoal::Minimize,
        );
        if is_root {
            checkpoints.remove_partial()?;
            run.save_config(&config)?;
        }

        let loss = distillation_loss(&config, teacher.as_ref(), &student)?;
        let mut student = student;
        let mut optimizer = AdamW::new(&student.vs, AdamWConfig::from(&config.optimizer));
        let mut state = TrainerState::new(config.training.seed);
        if resume {
            if let Some(checkpoint) = checkpoints.latest()? {
                state = checkpoint.restore(&mut student.vs, &mut optimizer)?;
                log::info!("resuming from {}", checkpoint.dir.display());
            }
        }
        if let Some(dp) = &data_parallel {
            broadcast_weights(dp, &student.vs)?;
        }
        let rank = data_parallel.as_ref().map_or(0, DataParallel::rank);
        let mut step =
            DistillStep::new(loss, optimizer, config.step, config.optimizer.max_grad_norm)
                .with_grad_accumulation(config.optimizer.grad_accumulation)
                .with_dropout_seed(rank_seed(state.seed, rank));
        if let Some(dtype) = config.training.precision.autocast_dtype() {
            step = step.with_autocast(StepAutocast::new(device, dtype)?);
        }
        if config.training.precision == TrainingPrecision::Fp16Autocast {
            step = step.with_loss_scaler(match state.loss_scaler {
                Some(saved) => LossScaler::with_state(device, saved),
                None => LossScaler::new(device),
            });
        }
        Ok(Self {
            plan: RunPlan::new(&config, &manifest),
            config,
            device,
            teacher,
            tokenizer_dir,
            student,
            step,
            run,
            checkpoints,
            state,
            resume,
            data_parallel,
            position: None,
            saves: 0,
        })
    }

    /// This process's rank under `torchrun` (0 for a single process).
    pub fn rank(&self) -> usize {
        self.data_parallel.as_ref().map_or(0, DataParallel::rank)
    }

    /// Ranks training together (1 for a single process).
    pub fn world_size(&self) -> usize {
        self.data_parallel
            .as_ref()
            .map_or(1, DataParallel::world_size)
    }

    /// Rank 0 (or a single process) logs and writes the run directory.
    fn is_root(&self) -> bool {
        self.rank() == 0
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
        let objective = self.student.config.objective();
        let mut loader = BatchLoader::open(&self.config.data, position.as_ref(), objective)?;
        self.position = position;
        let mut logger = match self.is_root() {
            true => Some(MetricsLogger::open(
                &self.run.metrics_path(),
                Some(&self.run.tensorboard_dir()),
                self.resume.then_some(self.state.optimizer_step),
            )?),
            false => None,
        };
        let progress = TrainProgress::new(
            self.plan.expected_steps,
            self.state.optimizer_step,
            options.quiet || !self.is_root(),
        );
        let mut window = LogWindow::new();
        let mut last_loss = None;
        let mut checkpointed_at = None;
        let mut lr = self.plan.schedule.lr(self.state.optimizer_step);

        while !self.finished() {
            let Some(batches) = self.next_step_batches(&mut loader)? else {
                break;
            };
            for LoadedBatch {
                batch,
                epoch,
                position,
            } in batches
            {
                self.micro_batch(&batch, &mut window.micro)?;
                self.state.micro_step += 1;
                self.state.tokens_seen += batch.n_tokens as u64;
                self.state.epoch = epoch;
                self.position = Some(position);
                window.tokens += batch.n_tokens;
            }

            let grad_norm;
            (grad_norm, lr) = self.optimizer_step()?;
            window.steps.add([(GRAD_NORM_METRIC, &grad_norm)]);
            self.state.optimizer_step += 1;
            let step = self.state.optimizer_step;
            progress.set_step(step);

            // Ranks see Ctrl-C at different steps, so under torchrun it is agreed on at the
            // next log step (which reads the device anyway) rather than at every step.
            let stop_requested = options.interrupt.requested();
            let periodic_checkpoint =
                step % self.config.output.checkpoint_interval == 0 || self.finished();
            let log_due = step % self.config.output.log_interval == 0
                || periodic_checkpoint
                || (stop_requested && self.data_parallel.is_none());
            // Checkpoint steps also log: the finiteness check must pass before weights are
            // written, so a diverged run never overwrites a good checkpoint.
            let mut interrupted = false;
            if log_due {
                let (loss, stop) =
                    self.log(logger.as_mut(), &mut window, lr, &progress, stop_requested)?;
                last_loss = Some(loss);
                interrupted = stop;
            }
            if periodic_checkpoint || interrupted {
                let checkpoint = self.save_checkpoint(last_loss)?;
                checkpointed_at = Some(step);
                if interrupted {
                    progress.finish();
                    return Ok(DistillOutcome::Interrupted { step, checkpoint });
                }
            }
        }

        // An epoch-bounded run ends between log steps: log and checkpoint what is left.
        if window.steps.count() > 0 {
            last_loss = Some(
                self.log(logger.as_mut(), &mut window, lr, &progress, false)?
                    .0,
            );
        }
        if checkpointed_at != Some(self.state.optimizer_step) {
            self.save_checkpoint(last_loss)?;
        }
        progress.finish();
        let student_dir = self.run.root().join(STUDENT_DIR);
        if self.is_root() {
            save_student(&self.student, &student_dir, self.tokenizer_dir.as_deref())?;
        }
        if let Some(dp) = &self.data_parallel {
            // No rank reports success before rank 0 has written the student.
            dp.group().barrier()?;
        }
        Ok(DistillOutcome::Finished {
            steps: self.state.optimizer_step,
            student_dir,
            weights_digest: weights_digest(&self.student.vs),
        })
    }

    /// The micro-batches of the next optimizer step, or `None` when the run has none left: an
    /// epoch-bounded run drops its last incomplete step, as the reference does. Under
    /// `torchrun` the ranks' shares of an epoch may differ by a batch, so they agree (one tiny
    /// all-reduce per step, epoch-bounded runs only) to stop at the same step.
    fn next_step_batches(
        &self,
        loader: &mut BatchLoader,
    ) -> Result<Option<Vec<LoadedBatch>>, TrainError> {
        let wanted = self.config.optimizer.grad_accumulation as usize;
        let mut batches = Vec::with_capacity(wanted);
        while batches.len() < wanted {
            let Some(item) = loader.next() else { break };
            let item = item?;
            if matches!(self.plan.length, RunLength::Epochs(e) if item.epoch >= e) {
                break;
            }
            batches.push(item);
        }
        let mut complete = batches.len() == wanted;
        if let (Some(dp), RunLength::Epochs(_)) = (&self.data_parallel, self.plan.length) {
            complete = all_ranks(dp, complete)?;
        }
        Ok(complete.then_some(batches))
    }

    fn finished(&self) -> bool {
        matches!(self.plan.length, RunLength::Steps(s) if self.state.optimizer_step >= s)
    }

    /// This rank's entry of the restored list of per-rank data positions.
    fn data_position(&self) -> Result<Option<DataPosition>, TrainError> {
        rank_position(
            &self.state.data_position,
            self.rank(),
            self.world_size(),
            &self.run.checkpoints_dir(),
        )
    }

    /// One micro-batch through the step; its loss values join the window's device sums.
    fn micro_batch(&self, batch: &LmBatch, means: &mut RunningMeans) -> Result<(), TrainError> {
        let models = StepModels {
            teacher: self
                .teacher
                .as_ref()
                .map(|t| &t.model as &dyn LanguageModel),
            student: &self.student.model,
        };
        let batch = DeviceBatch::new(batch, self.device);
        let output = self
            .step
            .forward_backward(models, &batch, self.state.micro_step)?;
        let named: Vec<(String, &Tensor)> = output
            .terms
            .iter()
            .map(|(name, value)| (format!("losses/{name}"), value))
            .chain([(LOSS_METRIC.to_string(), &output.total)])
            .collect();
        means.add(named.iter().map(|(name, value)| (name.as_str(), *value)));
        Ok(())
    }

    /// Average over the ranks, then the step's optimizer step at the scheduled learning rate;
    /// returns the pre-clip gradient norm (on the device) and the learning rate used.
    fn optimizer_step(&mut self) -> Result<(Tensor, f64), TrainError> {
        if let Some(dp) = &self.data_parallel {
            average_gradients(dp, self.step.optimizer())?;
        }
        let lr = self.plan.schedule.lr(self.state.optimizer_step);
        let norm = self.step.optimizer_step(lr);
        Ok((norm, lr))
    }

    /// Reads the window's means from the device (the loop's one host sync), averages them over
    /// the ranks, writes them to JSONL and TensorBoard (rank 0), and stops the run on a NaN or
    /// infinite value. Returns the loss and whether any rank asked to stop (`stop_requested`).
    fn log(
        &mut self,
        logger: Option<&mut MetricsLogger>,
        window: &mut LogWindow,
        lr: f64,
        progress: &TrainProgress,
        stop_requested: bool,
    ) -> Result<(f64, bool), TrainError> {
        let steps = window.steps.count().max(1) as f64;
        let mut metrics: BTreeMap<String, f64> = window.micro.take();
        metrics.extend(window.steps.take());
        let seconds = window.started.elapsed().as_secs_f64().max(1e-9);
        let tokens_per_s = window.tokens as f64 / seconds;
        metrics.insert("learning_rate/lr".to_string(), lr);
        metrics.insert(TOKENS_METRIC.to_string(), tokens_per_s);
        metrics.insert("global/step_time_s".to_string(), seconds / steps);
        metrics.insert("global/epoch".to_string(), self.state.epoch as f64);
        if let Some(mb) = resident_mib() {
            metrics.insert("global/memory_usage".to_string(), mb);
        }
        if let Device::Cuda(index) = self.device {
            let peak = distil_amp::cuda_peak_memory(index)?;
            metrics.insert(CUDA_ALLOCATED_METRIC.to_string(), peak.allocated_mib());
            metrics.insert(CUDA_RESERVED_METRIC.to_string(), peak.reserved_mib());
            distil_amp::reset_cuda_peak_memory(index)?;
        }
        if let Some(scaler) = self.step.loss_scaler() {
            metrics.insert("optim/loss_scale".to_string(), scaler.state().scale);
        }
        *window = LogWindow::new();
        let stop = match &self.data_parallel {
            Some(dp) => average_over_ranks(dp, &mut metrics, stop_requested)?,
            None => stop_requested,
        };
        let step = self.state.optimizer_step;
        if let Some(logger) = logger {
            logger.log(step, &metrics)?;
        }

        // Name a loss term before the total it makes non-finite.
        let (terms, mut others): (BTreeMap<String, f64>, BTreeMap<String, f64>) = metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .partition(|(k, _)| k.starts_with("losses/loss_"));
        if self.step.loss_scaler().is_some() {
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
        progress.show(
            loss,
            metrics.get(TOKENS_METRIC).copied().unwrap_or(tokens_per_s),
        );
        Ok((loss, stop))
    }

    /// Rank 0 writes the checkpoint with every rank's data position (gathered here); returns
    /// its folder (the checkpoints folder on the other ranks).
    fn save_checkpoint(&mut self, loss: Option<f64>) -> Result<PathBuf, TrainError> {
        if let Some(scaler) = self.step.loss_scaler() {
            self.state.loss_scaler = Some(scaler.state());
        }
        let path = self.run.checkpoints_dir();
        let position =
            serde_json::to_value(&self.position).map_err(|source| TrainError::State {
                path: path.clone(),
                source,
            })?;
        let positions = match &self.data_parallel {
            None => vec![position],
            Some(dp) => {
                let key = format!("pos/{}/{}", self.state.optimizer_step, self.saves);
                self.saves += 1;
                match gather_positions(dp, &key, &position, &path)? {
                    Some(positions) => positions,
                    None => return Ok(path),
                }
            }
        };
        self.state.data_position = serde_json::Value::Array(positions);
        let checkpoint =
            self.checkpoints
                .save(&self.student.vs, self.step.optimizer(), &self.state, loss)?;
        Ok(checkpoint.dir)
    }
}

/// The run's loss terms; the intermediate-layer terms' projections join the student's store
/// (before the optimizer is built over it, so they train and checkpoint with the student).
fn distillation_loss(
    config: &DistillConfig,
    teacher: Option<&Teacher>,
    student: &Student,
) -> Result<TripleLoss, TrainError> {
    let loss = TripleLoss::from_config(&config.loss);
    let Some(teacher) = teacher else {
        return Ok(loss);
    };
    let init_range = match &student.config {
        AnyConfig::Bert(c) => c.initializer_range,
        AnyConfig::DistilBert(c) => c.initializer_range,
        AnyConfig::Roberta(c) => c.initializer_range,
        AnyConfig::Gpt2(c) => c.initializer_range,
    };
    let terms = loss.with_layer_terms(
        &config.loss,
        &model_dims(&student.config),
        &model_dims(&teacher.config),
        &student.vs.root(),
        init_range,
    );
    terms.map_err(TrainError::Incompatible)
}

/// fp16 runs on CUDA AMP kernels; on the CPU only fp32 and bf16 are offered (checked again
/// here for `device: auto`, which validation cannot resolve).
fn check_precision(config: &DistillConfig, device: Device) -> Result<(), TrainError> {
    if device != Device::Cpu {
        return Ok(());
    }
    let refuse = |key: &str| {
        Err(TrainError::Unsupported(InvalidKey::new(
            key,
            "fp16 needs a CUDA device (its loss scaling runs on CUDA AMP kernels); use fp32 or \
             bf16-autocast on the CPU",
        )))
    };
    if config.training.precision == TrainingPrecision::Fp16Autocast {
        return refuse("training.precision");
    }
    if config.teacher.dtype == Precision::Fp16 && !config.teacher.is_none() {
        return refuse("teacher.dtype");
    }
    Ok(())
}
