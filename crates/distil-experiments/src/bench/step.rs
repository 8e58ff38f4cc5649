//! `distil bench step`: distillation step throughput (tokens/s, step time, peak memory and
//! model-FLOPs utilisation) at chosen shapes and precisions.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use distil_core::process::{peak_rss_mib, reset_peak_rss};
use distil_data::{DataConfig, MlmBatch, MlmLoader};
use distil_train::{
    AdamW, AdamWConfig, DeviceBatch, DistillStep, LossConfig, StepModels, StepSwitches, TripleLoss,
};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::machine::{write_json, BenchOutputs, Machine};
use super::random_models::ModelShapes;

/// Numeric format of both models' weights during the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPrecision {
    Fp32,
    /// Teacher and student weights cast to bf16 (losses still in fp32).
    Bf16,
}

impl StepPrecision {
    fn kind(self) -> Kind {
        match self {
            StepPrecision::Fp32 => Kind::Float,
            StepPrecision::Bf16 => Kind::BFloat16,
        }
    }
}

/// What `bench step` measures.
#[derive(Debug, Clone)]
pub struct StepBenchOptions {
    pub shapes: ModelShapes,
    /// Sequences per step.
    pub batch_size: usize,
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
    pub batch_size: usize,
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
        args.batch_size > 0 && args.seq_len > 1 && args.steps > 0,
        "--batch-size, --seq-len and --steps must be positive"
    );
    let machine = Machine::prepare(args.outputs.threads, device);
    let batches = batches(args)?;
    if let Some(dir) = &args.outputs.save_inputs {
        args.shapes.build(device)?.save(dir)?;
        save_batches(&batches, &dir.join("batches.safetensors"))?;
    }
    let switches = args.switches;
    println!(
        "distillation step: teacher {}x{} (no_grad) + student {}x{} fwd/bwd, triple loss \
         (5 ce + 2 mlm + 1 cos), clip 5.0, AdamW; {} x {}; projection {:?}, attention {:?}; \
         {} threads on {}",
        args.shapes.teacher_layers,
        args.shapes.hidden,
        args.shapes.student_layers,
        args.shapes.hidden,
        args.batch_size,
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
        "{:<9} {:>7} {:>9} {:>10} {:>9} {:>7} {:>10}",
        "precision", "tokens", "step s", "tokens/s", "TFLOP/s", "MFU", "peak RSS"
    );
    let device_batches: Vec<DeviceBatch> = batches
        .iter()
        .map(|b| DeviceBatch::new(b, device))
        .collect();
    let mut runs = Vec::new();
    for &precision in &args.precisions {
        let run = run_precision(args, precision, switches, &device_batches, device)?;
        println!(
            "{:<9} {:>7} {:>9.3} {:>10.1} {:>9.3} {:>7} {:>10}",
            format!("{precision:?}").to_lowercase(),
            run.tokens,
            run.step_seconds,
            run.tokens_per_s,
            run.tflops_per_s,
            run.mfu
                .map_or("n/a".to_string(), |m| format!("{:.1}%", 100.0 * m)),
            run.peak_rss_mib
                .map_or("?".to_string(), |m| format!("{m:.0} MiB"))
        );
        runs.push(run);
    }
    let report = StepReport {
        bench: "step",
        implementation: "distil",
        machine,
        shapes: args.shapes.clone(),
        switches,
        batch_size: args.batch_size,
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
    // Fresh weights for each precision, so that every run starts from the same point.
    let mut models = args.shapes.build(device)?;
    models.teacher.vs.set_kind(precision.kind());
    models.teacher.vs.freeze();
    models.student.vs.set_kind(precision.kind());
    // The recipe trains with the position table frozen.
    models
        .student
        .model
        .freeze_position_embeddings(&models.student.vs)?;
    // The recipe's optimizer and the step `distil distill` runs, one micro-batch per update.
    let recipe = distil_train::config::OptimizerConfig::default();
    let mut step = DistillStep::new(
        TripleLoss::from_config(&LossConfig::default()),
        AdamW::new(&models.student.vs, AdamWConfig::from(&recipe)),
        switches,
        recipe.max_grad_norm,
    );
    let pair = StepModels {
        teacher: Some(&models.teacher.model),
        student: &models.student.model,
    };
    let mut micro_step = 0;
    let mut train_step = |batch: &DeviceBatch| {
        let losses = step.forward_backward(pair, batch, micro_step);
        micro_step += 1;
        // The gradient norm stays on the device: the recipe logs it, the bench does not.
        let _grad_norm = step.optimizer_step(recipe.learning_rate);
        losses
    };
    let (warmup, timed) = batches.split_at(args.warmup);
    for batch in warmup {
        // Waits for the device, as every timed step does.
        train_step(batch).host_values();
    }
    let started = Instant::now();
    let mut first_losses = Vec::new();
    for batch in timed {
        // Reading the losses waits for the device, so each step is timed to its end.
        let losses = train_step(batch).host_values();
        if first_losses.is_empty() {
            first_losses = losses;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
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
        first_losses,
    })
}

/// Model FLOPs of one step (docs/benchmarks.md): per sequence of `n` real tokens, a layer's
/// forward costs `2 n (4 h^2 + 2 h I) + 4 n^2 h` and the MLM head `2 n (h^2 + h V)` on the
/// `n` distilled rows; the teacher runs forward once, the student forward and backward (3x).
/// Padding, embeddings, norms, softmax, losses and the optimizer are not counted.
pub fn step_flops(shapes: &ModelShapes, batch: &DeviceBatch) -> f64 {
    let (h, inner, vocab) = (
        shapes.hidden as f64,
        shapes.intermediate as f64,
        shapes.vocab as f64,
    );
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
            let layer = 2.0 * n * (4.0 * h * h + 2.0 * h * inner) + 4.0 * n * n * h;
            let head = 2.0 * n * (h * h + h * vocab);
            (shapes.teacher_layers as f64 * layer + head)
                + 3.0 * (shapes.student_layers as f64 * layer + head)
        })
        .sum()
}

/// Warm-up plus timed batches: synthetic full-length rows, or real ones from shards.
fn batches(args: &StepBenchOptions) -> anyhow::Result<Vec<MlmBatch>> {
    let count = args.warmup + args.steps;
    match &args.shards {
        None => Ok((0..count)
            .map(|i| synthetic_batch(args, i as i64))
            .collect()),
        Some(dir) => {
            let config = DataConfig {
                shards: dir.clone(),
                batch_size: Some(args.batch_size),
                group_by_size: args.group_by_size,
                seed: args.shapes.seed as u64,
                ..DataConfig::default()
            };
            config.validate()?;
            let loader = MlmLoader::open(&config, None)
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
fn synthetic_batch(args: &StepBenchOptions, index: i64) -> MlmBatch {
    tch::manual_seed(1000 + index);
    let shape = [args.batch_size as i64, args.seq_len as i64];
    let opts = (Kind::Int64, Device::Cpu);
    let vocab = args.shapes.vocab;
    let original = Tensor::randint_low(1, vocab, shape, opts);
    let targets = Tensor::rand(shape, (Kind::Float, Device::Cpu)).lt(0.15);
    let masked = targets.logical_and(&Tensor::rand(shape, (Kind::Float, Device::Cpu)).lt(0.8));
    let mask_id = 103.min(vocab - 1);
    MlmBatch {
        input_ids: original.where_self(&masked.logical_not(), &original.full_like(mask_id)),
        attention_mask: Tensor::ones(shape, opts),
        labels: original.where_self(&targets, &original.full_like(-100)),
        n_tokens: shape[0] * shape[1],
    }
}

fn save_batches(batches: &[MlmBatch], path: &std::path::Path) -> anyhow::Result<()> {
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
