//! `distil bench step`: distillation step throughput (tokens/s, step time, peak memory and
//! model-FLOPs utilisation) at chosen shapes and precisions. The batch size can be searched:
//! `auto` is the largest power of two at which every requested precision runs on the GPU.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use distil_amp::{cuda_peak_memory, empty_cuda_cache, reset_cuda_peak_memory, AutocastDtype};
use distil_core::process::{peak_rss_mib, reset_peak_rss};
use distil_core::Objective;
use distil_data::{BatchLoader, DataConfig, LmBatch};
use distil_models::AnyConfig;
use distil_train::config::OptimizerConfig;
use distil_train::distill::models::model_dims;
use distil_train::{
    AdamW, AdamWConfig, DeviceBatch, DistillStep, LossConfig, LossOutput, StepAutocast, StepModels,
    StepSwitches, TripleLoss,
};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::machine::{write_json, BenchOutputs, Machine};
use super::random_models::{ModelShapes, RandomModels};

/// How the step runs numerically; the JSON names each run by its serde name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepPrecision {
    Fp32,
    /// What `training.precision: bf16-autocast` trains with: the student's fp32 weights under
    /// bf16 autocast, the teacher stored in bf16, losses in fp32.
    Bf16Autocast,
    /// Teacher and student weights cast to bf16 (losses still in fp32): not a training recipe,
    /// kept to compare with.
    Bf16,
}

impl StepPrecision {
    /// The serde name (`fp32`, `bf16-autocast`, `bf16`).
    pub fn name(self) -> &'static str {
        match self {
            StepPrecision::Fp32 => "fp32",
            StepPrecision::Bf16Autocast => "bf16-autocast",
            StepPrecision::Bf16 => "bf16",
        }
    }

    fn teacher_kind(self) -> Kind {
        match self {
            StepPrecision::Fp32 => Kind::Float,
            StepPrecision::Bf16Autocast | StepPrecision::Bf16 => Kind::BFloat16,
        }
    }

    fn student_kind(self) -> Kind {
        match self {
            StepPrecision::Fp32 | StepPrecision::Bf16Autocast => Kind::Float,
            StepPrecision::Bf16 => Kind::BFloat16,
        }
    }
}

/// Sequences per step: a number, or `auto` (CUDA only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Fixed(usize),
    /// The largest power of two at which every requested precision fits in GPU memory.
    Auto,
}

impl std::str::FromStr for BatchSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "auto" {
            return Ok(BatchSize::Auto);
        }
        match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(BatchSize::Fixed(n)),
            _ => Err(format!(
                "expected a positive number or `auto`, found `{text}`"
            )),
        }
    }
}

/// The largest batch `auto` tries.
const AUTO_BATCH_LIMIT: usize = 4096;

/// What `bench step` measures.
#[derive(Debug, Clone)]
pub struct StepBenchOptions {
    pub shapes: ModelShapes,
    /// Sequences per step.
    pub batch_size: BatchSize,
    /// Tokens per sequence of the synthetic batches (every position a real token).
    pub seq_len: usize,
    /// Real batches instead: shards written by `distil prep` (their length mix and padding).
    pub shards: Option<PathBuf>,
    /// With `shards`: group sequences of similar length into batches (less padding).
    pub group_by_size: bool,
    /// Timed steps per precision.
    pub steps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    pub precisions: Vec<StepPrecision>,
    pub switches: StepSwitches,
    /// The device's peak dense TFLOP/s at the measured precision, for the utilisation;
    /// without it MFU is not computed.
    pub peak_tflops: Option<f64>,
    pub outputs: BenchOutputs,
}

#[derive(Debug, Serialize)]
pub struct StepRun {
    pub precision: StepPrecision,
    pub steps: usize,
    /// Non-pad tokens over the timed steps.
    pub tokens: i64,
    /// Tokens fed, padding included.
    pub padded_tokens: i64,
    pub seconds: f64,
    pub step_seconds: f64,
    pub tokens_per_s: f64,
    /// Model FLOPs of the timed steps (docs/benchmarks.md gives the count).
    pub model_flops: f64,
    pub tflops_per_s: f64,
    pub mfu: Option<f64>,
    /// Peak resident memory of the process during this run.
    pub peak_rss_mib: Option<f64>,
    /// Peak CUDA memory held by tensors during this run (CUDA only).
    pub peak_cuda_allocated_mib: Option<f64>,
    /// Peak CUDA memory reserved by the caching allocator during this run (CUDA only).
    pub peak_cuda_reserved_mib: Option<f64>,
    /// Loss terms at the first timed step.
    pub first_losses: Vec<(&'static str, f64)>,
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    pub bench: &'static str,
    pub implementation: &'static str,
    pub machine: Machine,
    pub shapes: ModelShapes,
    pub switches: StepSwitches,
    /// Sequences per step (the one `auto` found, when it searched).
    pub batch_size: usize,
    pub batch_size_auto: bool,
    pub seq_len: Option<usize>,
    pub shards: Option<PathBuf>,
    pub group_by_size: Option<bool>,
    pub warmup: usize,
    pub timed: &'static str,
    pub runs: Vec<StepRun>,
}

/// Times `steps` distillation steps per precision after `warmup` untimed ones, prints a table
/// and writes the report to `outputs.out` when set.
pub fn run(args: &StepBenchOptions, device: Device) -> anyhow::Result<StepReport> {
    anyhow::ensure!(
        args.seq_len > 1 && args.steps > 0,
        "--seq-len and --steps must be positive"
    );
    let machine = Machine::prepare(args.outputs.threads, device);
    let batch_size = match args.batch_size {
        BatchSize::Fixed(n) => n,
        BatchSize::Auto => largest_batch(args, device)?,
    };
    let batches = batches(args, batch_size)?;
    if let Some(dir) = &args.outputs.save_inputs {
        args.shapes.build(device)?.save(dir)?;
        save_batches(&batches, &dir.join("batches.safetensors"))?;
    }
    let switches = args.switches;
    let student = args.shapes.student_shape();
    println!(
        "distillation step: teacher {}x{} (no_grad) + student {}x{} fwd/bwd, loss 5 ce + 2 mlm \
         + 1 {}, clip 5.0, AdamW; {} x {}; projection {:?}, attention {:?}; {} threads on {}",
        args.shapes.teacher_layers,
        args.shapes.hidden,
        student.n_layers,
        student.dim,
        match args.shapes.same_width() {
            true => "cos",
            false => "projected hidden MSE",
        },
        batch_size,
        match &args.shards {
            Some(dir) => format!(
                "batches from {} (group_by_size {})",
                dir.display(),
                args.group_by_size
            ),
            None => format!("{} tokens", args.seq_len),
        },
        switches.projection,
        switches.attention,
        machine.threads,
        machine.cpu
    );
    println!(
        "{:<13} {:>7} {:>9} {:>10} {:>9} {:>7} {:>10} {:>12}",
        "precision", "tokens", "step s", "tokens/s", "TFLOP/s", "MFU", "peak RSS", "peak CUDA"
    );
    let device_batches: Vec<DeviceBatch> = batches
        .iter()
        .map(|b| DeviceBatch::new(b, device))
        .collect();
    let mut runs = Vec::new();
    for &precision in &args.precisions {
        let run = run_precision(args, precision, switches, &device_batches, device)?;
        println!(
            "{:<13} {:>7} {:>9.3} {:>10.1} {:>9.3} {:>7} {:>10} {:>12}",
            precision.name(),
            run.tokens,
            run.step_seconds,
            run.tokens_per_s,
            run.tflops_per_s,
            run.mfu
                .map_or("n/a".to_string(), |m| format!("{:.1}%", 100.0 * m)),
            run.peak_rss_mib
                .map_or("?".to_string(), |m| format!("{m:.0} MiB")),
            run.peak_cuda_allocated_mib
                .map_or("n/a".to_string(), |m| format!("{m:.0} MiB"))
        );
        runs.push(run);
    }
    let report = StepReport {
        bench: "step",
        implementation: "distil",
        machine,
        shapes: args.shapes.clone(),
        switches,
        batch_size,
        batch_size_auto: args.batch_size == BatchSize::Auto,
        seq_len: args.shards.is_none().then_some(args.seq_len),
        shards: args.shards.clone(),
        group_by_size: args.shards.as_ref().map(|_| args.group_by_size),
        warmup: args.warmup,
        timed: "teacher forward + student forward/backward + clip + AdamW + loss read, \
                batches already on the device, warm-up excluded",
        runs,
    };
    if let Some(out) = &args.outputs.out {
        write_json(out, &report)?;
    }
    Ok(report)
}

fn run_precision(
    args: &StepBenchOptions,
    precision: StepPrecision,
    switches: StepSwitches,
    batches: &[DeviceBatch],
    device: Device,
) -> anyhow::Result<StepRun> {
    reset_peak_rss();
    if let Device::Cuda(index) = device {
        // The previous run's cached blocks would otherwise count in this run's reserved peak.
        empty_cuda_cache()?;
        reset_cuda_peak_memory(index)?;
    }
    // Fresh weights for each precision, so that every run starts from the same point.
    let mut trainer = Trainer::new(&args.shapes, precision, switches, device)?;
    let (warmup, timed) = batches.split_at(args.warmup);
    for batch in warmup {
        // Waits for the device, as every timed step does.
        trainer.train_step(batch)?.host_values();
    }
    let started = Instant::now();
    let mut first_losses = Vec::new();
    for batch in timed {
        // Reading the losses waits for the device, so each step is timed to its end.
        let losses = trainer.train_step(batch)?.host_values();
        if first_losses.is_empty() {
            first_losses = losses;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cuda_peak = match device {
        Device::Cuda(index) => Some(cuda_peak_memory(index)?),
        _ => None,
    };
    let tokens: i64 = timed.iter().map(|b| b.n_tokens).sum();
    let model_flops: f64 = timed.iter().map(|b| step_flops(&args.shapes, b)).sum();
    let tflops_per_s = model_flops / seconds / 1e12;
    Ok(StepRun {
        precision,
        steps: timed.len(),
        tokens,
        padded_tokens: timed.iter().map(|b| b.input_ids.numel() as i64).sum(),
        seconds,
        step_seconds: seconds / timed.len() as f64,
        tokens_per_s: tokens as f64 / seconds,
        model_flops,
        tflops_per_s,
        mfu: args.peak_tflops.map(|peak| tflops_per_s / peak),
        peak_rss_mib: peak_rss_mib(),
        peak_cuda_allocated_mib: cuda_peak.map(|p| p.allocated_mib()),
        peak_cuda_reserved_mib: cuda_peak.map(|p| p.reserved_mib()),
        first_losses,
    })
}

/// Random models in one precision and the step `distil distill` runs on them, one
/// micro-batch per update at the recipe's optimizer settings.
struct Trainer {
    models: RandomModels,
    step: DistillStep,
    micro_step: u64,
    learning_rate: f64,
}

impl Trainer {
    fn new(
        shapes: &ModelShapes,
        precision: StepPrecision,
        switches: StepSwitches,
        device: Device,
    ) -> anyhow::Result<Self> {
        let mut models = shapes.build(device)?;
        models.teacher.vs.set_kind(precision.teacher_kind());
        models.teacher.vs.freeze();
        models.student.vs.set_kind(precision.student_kind());
        // The recipe trains with the position table frozen.
        models
            .student
            .model
            .freeze_position_embeddings(&models.student.vs)?;
        let recipe = OptimizerConfig::default();
        let mut step = DistillStep::new(
            step_loss(shapes, &models)?,
            AdamW::new(&models.student.vs, AdamWConfig::from(&recipe)),
            switches,
            recipe.max_grad_norm,
        );
        if precision == StepPrecision::Bf16Autocast {
            step = step.with_autocast(StepAutocast::new(device, AutocastDtype::BFloat16)?);
        }
        Ok(Self {
            models,
            step,
            micro_step: 0,
            learning_rate: recipe.learning_rate,
        })
    }

    /// One optimizer step on `batch`; the losses stay on the device.
    fn train_step(&mut self, batch: &DeviceBatch) -> anyhow::Result<LossOutput> {
        let pair = StepModels {
            teacher: Some(&self.models.teacher.model),
            student: &self.models.student.model,
        };
        let losses = self.step.forward_backward(pair, batch, self.micro_step)?;
        self.micro_step += 1;
        // The gradient norm stays on the device: the recipe logs it, the bench does not.
        let _grad_norm = self.step.optimizer_step(self.learning_rate);
        Ok(losses)
    }
}

/// The recipe's triple loss; a student of another width cannot take the cosine term, so it
/// learns the teacher's hidden states through TinyBERT's projected MSE instead (the
/// projections join the student's store, so the optimizer updates them).
fn step_loss(shapes: &ModelShapes, models: &RandomModels) -> anyhow::Result<TripleLoss> {
    let recipe = LossConfig::default();
    if shapes.same_width() {
        return Ok(TripleLoss::from_config(&recipe));
    }
    let loss = LossConfig {
        alpha_cos: 0.0,
        alpha_hidden_mse: recipe.alpha_cos,
        ..recipe
    };
    let teacher = model_dims(&AnyConfig::Bert(models.teacher.config.clone()));
    let student = &models.student.config;
    let terms = TripleLoss::from_config(&loss).with_layer_terms(
        &loss,
        &model_dims(&AnyConfig::DistilBert(student.clone())),
        &teacher,
        &models.student.vs.root(),
        student.initializer_range,
    );
    terms.map_err(|e| anyhow::anyhow!("{e}"))
}

/// `--batch-size auto`: doubles the batch from 1 until a step of some requested precision runs
/// out of GPU memory (or [`AUTO_BATCH_LIMIT`]), and keeps the last size that fitted them all.
fn largest_batch(args: &StepBenchOptions, device: Device) -> anyhow::Result<usize> {
    anyhow::ensure!(
        matches!(device, Device::Cuda(_)),
        "--batch-size auto needs a CUDA device (it searches the largest batch that fits in GPU \
         memory); pass a number on {device:?}"
    );
    anyhow::ensure!(
        args.shards.is_none(),
        "--batch-size auto searches with synthetic full-length rows; pass a number with --shards"
    );
    let mut fitting = AUTO_BATCH_LIMIT;
    for &precision in &args.precisions {
        let mut size = 1;
        let mut largest = None;
        while size <= fitting {
            if !fits(args, precision, size, device)? {
                break;
            }
            largest = Some(size);
            size *= 2;
        }
        fitting = largest.with_context(|| {
            format!(
                "--batch-size auto: not even one sequence of {} tokens fits in {} for {}",
                args.seq_len,
                precision.name(),
                format!("{device:?}").to_lowercase()
            )
        })?;
        println!(
            "batch size auto: {} fits at {} x {}",
            precision.name(),
            fitting,
            args.seq_len
        );
    }
    Ok(fitting)
}

/// Whether two steps (the second with the optimizer state allocated) of `precision` run at
/// `batch_size`. tch panics on a libtorch error; an out-of-memory panic is caught here and
/// any other is passed on.
fn fits(
    args: &StepBenchOptions,
    precision: StepPrecision,
    batch_size: usize,
    device: Device,
) -> anyhow::Result<bool> {
    let probe = || -> anyhow::Result<()> {
        let mut trainer = Trainer::new(&args.shapes, precision, args.switches, device)?;
        for index in 0..2 {
            let batch = synthetic_batch(args, batch_size, index);
            trainer
                .train_step(&DeviceBatch::new(&batch, device))?
                .host_values();
        }
        Ok(())
    };
    let quiet_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(probe));
    panic::set_hook(quiet_hook);
    empty_cuda_cache()?;
    match outcome {
        Ok(result) => result.map(|()| true),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if message.contains("out of memory") {
                Ok(false)
            } else {
                panic::resume_unwind(payload)
            }
        }
    }
}

/// Model FLOPs of one step (docs/benchmarks.md): per sequence of `n` real tokens, a layer's
/// forward costs `2 n (4 h^2 + 2 h I) + 4 n^2 h` and the MLM head `2 n (h^2 + h V)` on the
/// `n` distilled rows, each at its model's widths; the teacher runs forward once, the student
/// forward and backward (3x). Padding, embeddings, norms, softmax, losses, projections and
/// the optimizer are not counted.
pub fn step_flops(shapes: &ModelShapes, batch: &DeviceBatch) -> f64 {
    let (h, inner, vocab) = (
        shapes.hidden as f64,
        shapes.intermediate as f64,
        shapes.vocab as f64,
    );
    let student = shapes.student_shape();
    let (sh, s_inner) = (student.dim as f64, student.hidden_dim as f64);
    let lengths: Vec<i64> = Vec::try_from(
        batch
            .attention_mask
            .ne(0)
            .sum_dim_intlist(1, false, Kind::Int64)
            .to_device(Device::Cpu),
    )
    .unwrap_or_default();
    lengths
        .iter()
        .map(|&n| {
            let n = n as f64;
            let layer =
                |h: f64, inner: f64| 2.0 * n * (4.0 * h * h + 2.0 * h * inner) + 4.0 * n * n * h;
            let head = |h: f64| 2.0 * n * (h * h + h * vocab);
            (shapes.teacher_layers as f64 * layer(h, inner) + head(h))
                + 3.0 * (shapes.student_layers as f64 * layer(sh, s_inner) + head(sh))
        })
        .sum()
}

/// Warm-up plus timed batches: synthetic full-length rows, or real ones from shards.
fn batches(args: &StepBenchOptions, batch_size: usize) -> anyhow::Result<Vec<LmBatch>> {
    let count = args.warmup + args.steps;
    match &args.shards {
        None => Ok((0..count)
            .map(|i| synthetic_batch(args, batch_size, i as i64))
            .collect()),
        Some(dir) => {
            let config = DataConfig {
                shards: dir.clone(),
                batch_size: Some(batch_size),
                group_by_size: args.group_by_size,
                seed: args.shapes.seed as u64,
                ..DataConfig::default()
            };
            config.validate()?;
            let loader = BatchLoader::open(&config, None, Objective::MaskedLm)
                .with_context(|| format!("opening the shards in {}", dir.display()))?;
            loader
                .take(count)
                .map(|b| Ok(b?.batch))
                .collect::<anyhow::Result<Vec<_>>>()
        }
    }
}

/// `batch_size x seq_len` random ids (no padding) with 15% of positions as MLM targets,
/// 80% of which become id 103 ([MASK] in bert-base-uncased).
fn synthetic_batch(args: &StepBenchOptions, batch_size: usize, index: i64) -> LmBatch {
    tch::manual_seed(1000 + index);
    let shape = [batch_size as i64, args.seq_len as i64];
    let opts = (Kind::Int64, Device::Cpu);
    let vocab = args.shapes.vocab;
    let original = Tensor::randint_low(1, vocab, shape, opts);
    let targets = Tensor::rand(shape, (Kind::Float, Device::Cpu)).lt(0.15);
    let masked = targets.logical_and(&Tensor::rand(shape, (Kind::Float, Device::Cpu)).lt(0.8));
    let mask_id = 103.min(vocab - 1);
    LmBatch {
        input_ids: original.where_self(&masked.logical_not(), &original.full_like(mask_id)),
        attention_mask: Tensor::ones(shape, opts),
        labels: original.where_self(&targets, &original.full_like(-100)),
        n_tokens: shape[0] * shape[1],
    }
}

fn save_batches(batches: &[LmBatch], path: &std::path::Path) -> anyhow::Result<()> {
    let named: Vec<(String, &Tensor)> = batches
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            [
                (format!("input_ids.{i}"), &b.input_ids),
                (format!("attention_mask.{i}"), &b.attention_mask),
                (format!("labels.{i}"), &b.labels),
            ]
        })
        .collect();
    Tensor::write_safetensors(&named, path).with_context(|| format!("writing {}", path.display()))
}
