//! `distil bench infer`: encoder-only CPU inference of the teacher and the student over the
//! STS-B dev pairs (the paper's Table 3 protocol at batch size 1, plus larger batches).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use distil_core::MaskedLanguageModel;
use distil_tasks::glue::{GlueEncoder, GlueFeatureConfig};
use distil_tasks::{EncodedText, EncoderBatch, GlueSplit, GlueTask, SegmentIds};
use serde::Serialize;

use super::machine::{write_json, Machine, RunOutputs};
use super::random_models::ModelShapes;
use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct InferBenchArgs {
    #[command(flatten)]
    pub shapes: ModelShapes,
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

/// One timed pass over the pairs.
#[derive(Debug, Clone, Serialize)]
pub struct InferRun {
    pub model: &'static str,
    pub batch_size: usize,
    pub pairs: usize,
    /// Tokens fed, padding included.
    pub padded_tokens: i64,
    pub seconds: f64,
    pub pairs_per_s: f64,
}

#[derive(Debug, Serialize)]
pub struct InferReport {
    pub bench: &'static str,
    pub implementation: &'static str,
    pub machine: Machine,
    pub shapes: ModelShapes,
    pub max_seq_length: usize,
    pub sort_by_length: bool,
    pub warmup: usize,
    /// What is timed.
    pub timed: &'static str,
    pub runs: Vec<InferRun>,
    /// Student pairs/s over teacher pairs/s, per batch size.
    pub speedups: Vec<(usize, f64)>,
}

/// The encoded pairs as the Python reference reads them.
#[derive(Serialize)]
struct PairsFile<'a> {
    pad_id: i64,
    input_ids: Vec<&'a [i64]>,
    token_type_ids: Vec<&'a [i64]>,
}

pub fn run(global: &GlobalOpts, args: &InferBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch_sizes.iter().all(|&b| b > 0),
        "--batch-sizes must all be at least 1"
    );
    let device = global.device.resolve().context("resolving --device")?;
    let machine = Machine::prepare(args.run.threads, device);
    let (pairs, pad_id) = read_pairs(args)?;
    let models = args.shapes.build(device)?;
    if let Some(dir) = &args.run.save_inputs {
        models.save(dir)?;
        let file = PairsFile {
            pad_id,
            input_ids: pairs.iter().map(|p| p.input_ids.as_slice()).collect(),
            token_type_ids: pairs.iter().map(|p| p.token_type_ids.as_slice()).collect(),
        };
        write_json(&dir.join("pairs.json"), &file)?;
    }
    let mut order: Vec<&EncodedText> = pairs.iter().collect();
    if args.sort_by_length {
        order.sort_by_key(|p| p.len());
    }
    let teacher: &dyn MaskedLanguageModel = &models.teacher.model;
    let student: &dyn MaskedLanguageModel = &models.student.model;
    println!(
        "{} pairs from {}; encoder forward only (no MLM head), no_grad, {} threads on {}; \
         {}",
        pairs.len(),
        args.data.display(),
        machine.threads,
        machine.cpu,
        if args.sort_by_length {
            "batches of length-sorted pairs"
        } else {
            "batches in file order"
        }
    );
    println!(
        "{:<8} {:>6} {:>7} {:>9} {:>10}",
        "model", "batch", "pairs", "seconds", "pairs/s"
    );
    let mut runs = Vec::new();
    let mut speedups = Vec::new();
    for &batch_size in &args.batch_sizes {
        let batches: Vec<EncoderBatch> = order
            .chunks(batch_size)
            .map(|chunk| EncoderBatch::pad(chunk, pad_id, SegmentIds::Keep).to_device(device))
            .collect();
        let mut pair_rates = Vec::new();
        for (name, model) in [("teacher", teacher), ("student", student)] {
            let run = time_pass(name, model, &batches, batch_size, args.warmup);
            println!(
                "{:<8} {:>6} {:>7} {:>9.2} {:>10.2}",
                run.model, run.batch_size, run.pairs, run.seconds, run.pairs_per_s
            );
            pair_rates.push(run.pairs_per_s);
            runs.push(run);
        }
        speedups.push((batch_size, pair_rates[1] / pair_rates[0]));
    }
    for (batch_size, speedup) in &speedups {
        println!("student/teacher speed-up at batch {batch_size}: {speedup:.2}x");
    }
    let report = InferReport {
        bench: "infer",
        implementation: "distil",
        machine,
        shapes: args.shapes.clone(),
        max_seq_length: args.max_seq_length,
        sort_by_length: args.sort_by_length,
        warmup: args.warmup,
        timed: "encoder forward of every batch (inputs already tensors), warm-up excluded",
        runs,
        speedups,
    };
    if let Some(out) = &args.run.out {
        write_json(out, &report)?;
    }
    Ok(())
}

fn read_pairs(args: &InferBenchArgs) -> anyhow::Result<(Vec<EncodedText>, i64)> {
    let tokenizer = distil_data::load_tokenizer(&args.tokenizer.display().to_string())?;
    let (pairs, pad_id) =
        read_sts_b_pairs(&tokenizer, &args.data, args.max_seq_length, args.limit)?;
    let vocab = args.shapes.vocab;
    anyhow::ensure!(
        pairs
            .iter()
            .flat_map(|p| &p.input_ids)
            .all(|&id| id < vocab),
        "the tokenizer {} yields ids at or above --vocab {vocab}",
        args.tokenizer.display()
    );
    Ok((pairs, pad_id))
}

/// The first `limit` (or all) STS-B pairs of `path`, each encoded as one pair, with the
/// padding id; shared with `distil reproduce`'s Table 3 stage.
pub(crate) fn read_sts_b_pairs(
    tokenizer: &tokenizers::Tokenizer,
    path: &Path,
    max_seq_length: usize,
    limit: Option<usize>,
) -> anyhow::Result<(Vec<EncodedText>, i64)> {
    let encoder = GlueEncoder::new(tokenizer, &GlueFeatureConfig { max_seq_length })?;
    let mut examples = GlueTask::Stsb.read_examples(GlueSplit::Dev, path)?;
    if let Some(limit) = limit {
        examples.truncate(limit);
    }
    anyhow::ensure!(!examples.is_empty(), "no pairs in {}", path.display());
    let pairs = encoder
        .encode(&examples)?
        .into_iter()
        .map(|f| f.text)
        .collect();
    Ok((pairs, encoder.pad_id()))
}

/// Runs `warmup` batches untimed, then every batch timed.
pub(crate) fn time_pass(
    name: &'static str,
    model: &dyn MaskedLanguageModel,
    batches: &[EncoderBatch],
    batch_size: usize,
    warmup: usize,
) -> InferRun {
    let forward = |batch: &EncoderBatch| {
        let output = model.encode(&batch.encoder_input(), false);
        // Reading one value waits for the device, without copying the output.
        let _ = output
            .last_hidden_state()
            .flatten(0, -1)
            .get(0)
            .double_value(&[]);
    };
    tch::no_grad(|| {
        for batch in batches.iter().cycle().take(warmup) {
            forward(batch);
        }
        let started = Instant::now();
        for batch in batches {
            forward(batch);
        }
        let seconds = started.elapsed().as_secs_f64();
        let pairs: usize = batches.iter().map(|b| b.input_ids.size()[0] as usize).sum();
        InferRun {
            model: name,
            batch_size,
            pairs,
            padded_tokens: batches.iter().map(|b| b.input_ids.numel() as i64).sum(),
            seconds,
            pairs_per_s: pairs as f64 / seconds,
        }
    })
}
