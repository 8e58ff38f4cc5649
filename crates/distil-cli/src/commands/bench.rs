//! `distil bench`: the measurements of distil_experiments::bench, with their flags.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use distil_experiments::bench::step::BatchSize;
use distil_experiments::bench::{
    self, BenchOutputs, InferBenchOptions, ModelShapes, PrepBenchOptions, StepBenchOptions,
    StepPrecision,
};
use distil_train::loss::VocabProjection;
use distil_train::{AttentionKernel, StepSwitches};
use serde::de::DeserializeOwned;

use crate::cli::GlobalOpts;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// `distil prep` tokens/s and peak memory beside the Python reference on the same corpus.
    Prep(PrepBenchArgs),
    /// CPU inference of the teacher and the student over the STS-B dev pairs (pairs/s and the
    /// student/teacher speed-up) at random-init published shapes.
    Infer(InferBenchArgs),
    /// One distillation step (teacher forward, student forward/backward, AdamW): tokens/s,
    /// step time, peak memory and model-FLOPs utilisation, in fp32, bf16-autocast and bf16.
    Step(StepBenchArgs),
}

#[derive(Debug, Args)]
pub struct PrepBenchArgs {
    /// Corpus files or directories.
    #[arg(long = "input", num_args = 1.., default_values = ["data/text"])]
    pub inputs: Vec<PathBuf>,
    /// Tokenizer directory holding tokenizer.json.
    #[arg(long, default_value = "data/vocab/bert-base-uncased")]
    pub tokenizer: PathBuf,
    /// Python with the `tokenizers` package (default: $DISTIL_VENV/bin/python, else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The reference script.
    #[arg(long, default_value = "scripts/bench_prep_reference.py")]
    pub script: PathBuf,
    /// Also run `distil prep` on the corpus repeated this many times, for peak memory.
    #[arg(long, default_value_t = 4)]
    pub repeat: usize,
    /// Tokens per shard for `distil prep`: below the corpus size, so that memory is seen to
    /// stay bounded by the shard and not grow with the corpus.
    #[arg(long, default_value_t = 1_000_000)]
    pub shard_tokens: usize,
    /// Threads for Python's `encode_batch`.
    #[arg(long, default_value_t = 2)]
    pub python_threads: usize,
    /// Where outputs go (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InferBenchArgs {
    #[command(flatten)]
    pub shapes: ModelShapeArgs,
    /// The STS-B dev file; each row's two sentences are encoded as one pair.
    #[arg(long, default_value = "data/glue/STS-B/dev.tsv")]
    pub data: PathBuf,
    /// Tokenizer directory holding tokenizer.json (its vocabulary must fit --vocab).
    #[arg(long, default_value = "data/vocab/bert-base-uncased")]
    pub tokenizer: PathBuf,
    /// Tokens per pair, special tokens included (longest-first truncation).
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Only the first N pairs (quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Batch sizes to measure; batch 1 is the paper's protocol.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub batch_sizes: Vec<usize>,
    /// Sort pairs by length before batching (less padding when the batch size is above 1);
    /// off keeps the file order.
    #[arg(long)]
    pub sort_by_length: bool,
    /// Batches run before timing starts, per model and batch size.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// `--save-inputs` writes `pairs.json` (infer) or `batches.safetensors` (step) besides
    /// the weights.
    #[command(flatten)]
    pub run: RunOutputs,
}

#[derive(Debug, Args)]
pub struct StepBenchArgs {
    #[command(flatten)]
    pub shapes: ModelShapeArgs,
    /// Sequences per step, or `auto`: the largest power of two at which every precision fits
    /// in GPU memory (CUDA only).
    #[arg(long, default_value = "8")]
    pub batch_size: BatchSize,
    /// Tokens per sequence of the synthetic batches (every position a real token; 128 and 512
    /// are the recipe's and BERT's longest).
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Real batches instead: shards written by `distil prep` (their length mix and padding).
    #[arg(long)]
    pub shards: Option<PathBuf>,
    /// With --shards: group sequences of similar length into batches (less padding).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub group_by_size: bool,
    /// Timed steps per precision.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Precisions to run, comma-separated: fp32; bf16-autocast (what `training.precision:
    /// bf16-autocast` trains with: fp32 student weights under bf16 autocast, bf16 teacher);
    /// bf16 (both models' weights cast, kept to compare with). Losses are fp32 in all three.
    #[arg(long = "precision", visible_alias = "precisions",
          value_parser = lowercase_name::<StepPrecision>, value_delimiter = ',',
          default_value = "fp32,bf16-autocast")]
    pub precisions: Vec<StepPrecision>,
    /// Where the vocabulary head runs: only at the rows a loss reads (`rows`), or everywhere
    /// (`full`).
    #[arg(long, value_parser = lowercase_name::<VocabProjection>, default_value = "rows")]
    pub projection: VocabProjection,
    /// Attention kernel: `sdpa` (libtorch's fused kernel) or `eager`.
    #[arg(long, value_parser = lowercase_name::<AttentionKernel>, default_value = "sdpa")]
    pub attention: AttentionKernel,
    /// The device's peak dense TFLOP/s at the measured precision, for the utilisation
    /// (for example 989 for bf16 on an H100 SXM); without it MFU is not computed.
    #[arg(long)]
    pub peak_tflops: Option<f64>,
    /// `--save-inputs` writes `pairs.json` (infer) or `batches.safetensors` (step) besides
    /// the weights.
    #[command(flatten)]
    pub run: RunOutputs,
}

/// Model shapes; the defaults are BERT-base (12 x 768 x 3072) and DistilBERT (6 layers).
#[derive(Debug, Clone, Args)]
pub struct ModelShapeArgs {
    /// Teacher (BERT) layers.
    #[arg(long, default_value_t = ModelShapes::default().teacher_layers)]
    pub teacher_layers: i64,
    /// Student (DistilBERT) layers; at most the teacher's.
    #[arg(long, default_value_t = ModelShapes::default().student_layers)]
    pub student_layers: i64,
    /// Hidden width of the teacher (and of the student unless --student-hidden).
    #[arg(long, default_value_t = ModelShapes::default().hidden)]
    pub hidden: i64,
    /// Feed-forward width of the teacher (and of the student unless --student-intermediate).
    #[arg(long, default_value_t = ModelShapes::default().intermediate)]
    pub intermediate: i64,
    /// Attention heads of the teacher (and of the student unless --student-heads).
    #[arg(long, default_value_t = ModelShapes::default().heads)]
    pub heads: i64,
    /// A student of another width (TinyBERT- or MiniLM-style); `bench step` then replaces
    /// the cosine term by the projected hidden-state MSE.
    #[arg(long)]
    pub student_hidden: Option<i64>,
    /// The student's feed-forward width, when not the teacher's.
    #[arg(long)]
    pub student_intermediate: Option<i64>,
    /// The student's attention heads, when not the teacher's.
    #[arg(long)]
    pub student_heads: Option<i64>,
    /// Vocabulary size (30522: bert-base-uncased, whose tokenizer encodes the inputs).
    #[arg(long, default_value_t = ModelShapes::default().vocab)]
    pub vocab: i64,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = ModelShapes::default().seed)]
    pub seed: i64,
}

/// Threads and outputs, shared by `bench infer` and `bench step`.
#[derive(Debug, Args)]
pub struct RunOutputs {
    /// libtorch threads (default: every core).
    #[arg(long)]
    pub threads: Option<i32>,
    /// Also write the weights (`teacher/`, `student/`) and the inputs here, for
    /// `scripts/bench_reference.py`.
    #[arg(long)]
    pub save_inputs: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(global: &GlobalOpts, command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Prep(args) => bench::prep::run(&PrepBenchOptions {
            distil: std::env::current_exe().context("locating the distil program")?,
            inputs: args.inputs.clone(),
            tokenizer: args.tokenizer.clone(),
            python: args.python.clone(),
            script: args.script.clone(),
            repeat: args.repeat,
            shard_tokens: args.shard_tokens,
            python_threads: args.python_threads,
            work_dir: args.work_dir.clone(),
        }),
        BenchCommand::Infer(args) => {
            let options = InferBenchOptions {
                shapes: args.shapes.to_shapes(),
                data: args.data.clone(),
                tokenizer: args.tokenizer.clone(),
                max_seq_length: args.max_seq_length,
                limit: args.limit,
                batch_sizes: args.batch_sizes.clone(),
                sort_by_length: args.sort_by_length,
                warmup: args.warmup,
                outputs: args.run.to_outputs(),
            };
            let device = global.device.resolve().context("resolving --device")?;
            bench::infer::run(&options, device).map(drop)
        }
        BenchCommand::Step(args) => {
            let options = StepBenchOptions {
                shapes: args.shapes.to_shapes(),
                batch_size: args.batch_size,
                seq_len: args.seq_len,
                shards: args.shards.clone(),
                group_by_size: args.group_by_size,
                steps: args.steps,
                warmup: args.warmup,
                precisions: args.precisions.clone(),
                switches: StepSwitches {
                    projection: args.projection,
                    attention: args.attention,
                },
                peak_tflops: args.peak_tflops,
                outputs: args.run.to_outputs(),
            };
            let device = global.device.resolve().context("resolving --device")?;
            bench::step::run(&options, device).map(drop)
        }
    }
}

impl ModelShapeArgs {
    fn to_shapes(&self) -> ModelShapes {
        ModelShapes {
            teacher_layers: self.teacher_layers,
            student_layers: self.student_layers,
            hidden: self.hidden,
            intermediate: self.intermediate,
            heads: self.heads,
            student_hidden: self.student_hidden,
            student_intermediate: self.student_intermediate,
            student_heads: self.student_heads,
            vocab: self.vocab,
            seed: self.seed,
        }
    }
}

impl RunOutputs {
    fn to_outputs(&self) -> BenchOutputs {
        BenchOutputs {
            threads: self.threads,
            save_inputs: self.save_inputs.clone(),
            out: self.out.clone(),
        }
    }
}

/// A flag value read as the serde name of an enum variant (`fp32`, `rows`, `sdpa`, ...).
pub(crate) fn lowercase_name<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|e| e.to_string())
}
