//! `distil bench infer`: encoder-only CPU inference of the teacher and the student over the
//! STS-B dev pairs (the paper's Table 3 protocol at batch size 1, plus larger batches).

use std::path::PathBuf;

use distil_core::LanguageModel;
use distil_tasks::{EncodedText, EncoderBatch, SegmentIds};
use serde::Serialize;
use tch::Device;

use super::machine::{write_json, BenchOutputs, Machine};
use super::random_models::ModelShapes;
use crate::sts_b::{read_sts_b_pairs, time_pass, InferRun};

/// What `bench infer` measures.
#[derive(Debug, Clone)]
pub struct InferBenchOptions {
    pub shapes: ModelShapes,
    /// The STS-B dev file; each row's two sentences are encoded as one pair.
    pub data: PathBuf,
    /// Tokenizer directory holding tokenizer.json (its vocabulary must fit the shapes').
    pub tokenizer: PathBuf,
    /// Tokens per pair, special tokens included (longest-first truncation).
    pub max_seq_length: usize,
    /// Only the first N pairs (quick runs).
    pub limit: Option<usize>,
    /// Batch sizes to measure; batch 1 is the paper's protocol.
    pub batch_sizes: Vec<usize>,
    /// Sort pairs by length before batching; off keeps the file order.
    pub sort_by_length: bool,
    /// Batches run before timing starts, per model and batch size.
    pub warmup: usize,
    pub outputs: BenchOutputs,
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

/// Times the teacher and the student over the pairs at each batch size, prints a table and
/// writes the report to `outputs.out` when set.
pub fn run(args: &InferBenchOptions, device: Device) -> anyhow::Result<InferReport> {
    anyhow::ensure!(
        args.batch_sizes.iter().all(|&b| b > 0),
        "--batch-sizes must all be at least 1"
    );
    let machine = Machine::prepare(args.outputs.threads, device);
    let (pairs, pad_id) = read_pairs(args)?;
    let models = args.shapes.build(device)?;
    if let Some(dir) = &args.outputs.save_inputs {
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
    let teacher: &dyn LanguageModel = &models.teacher.model;
    let student: &dyn LanguageModel = &models.student.model;
    println!(
        "{} pairs from {}; encoder forward only (no MLM head), inference mode, {} threads on {}; \
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
            let run = time_pass(name, model, &batches, batch_size, args.warmup)?;
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
    if let Some(out) = &args.outputs.out {
        write_json(out, &report)?;
    }
    Ok(report)
}

fn read_pairs(args: &InferBenchOptions) -> anyhow::Result<(Vec<EncodedText>, i64)> {
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
