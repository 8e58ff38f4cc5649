//! `distil eval glue|squad`: score an already fine-tuned model on the dev data and write the
//! same results files as fine-tuning, without training. `distil eval perplexity`: the
//! sliding-window perplexity of a causal language model (GPT-2) on a text file. `distil eval
//! sts|probe`: a frozen encoder's representations, by zero-shot STS and by a linear probe
//! (the library's `distil_tasks::representation`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use distil_core::nn::PretrainedModel;
use distil_gpt2::Gpt2LMHeadModel;
use distil_tasks::finetune::{eval_glue, eval_squad};
use distil_tasks::output::write_json;
use distil_tasks::representation::{
    linear_probe, sts_zero_shot, Pooling, ProbeOptions, ProbeScore, StsOptions, StsScore,
};
use distil_tasks::squad::SquadVersion;
use distil_tasks::{perplexity, GlueTask, Perplexity, SlidingWindow};
use serde::Serialize;
use tch::Device;

use super::bench::lowercase_name;
use super::finetune::{glue_config, parse_version, report, squad_config, RunArgs};
use crate::cli::GlobalOpts;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Dev metrics, dev predictions and GLUE-submission TSVs of a fine-tuned classifier.
    Glue(EvalGlueArgs),
    /// predictions.json and the official EM/F1 (HasAns/NoAns for 2.0) of a fine-tuned QA
    /// model. Windows use `features.doc_stride` as the step between window starts;
    /// `--set features.doc_stride_mode=overlap` makes it the overlap.
    Squad(EvalSquadArgs),
    /// Perplexity of a GPT-2 model on a text file, with transformers' sliding window: windows
    /// of --max-length tokens every --stride tokens, each scoring only the tokens no earlier
    /// window scored.
    Perplexity(EvalPerplexityArgs),
    /// Zero-shot STS of a frozen encoder: each sentence of a pair encoded on its own and
    /// pooled, the pair scored by the cosine of its two vectors, and the Spearman and Pearson
    /// correlations (x 100) of the cosines with the gold scores, as sentence-transformers'
    /// EmbeddingSimilarityEvaluator computes them.
    Sts(EvalStsArgs),
    /// A frozen linear probe on a GLUE classification task: sklearn's L2-regularised logistic
    /// regression (C = 1 / --l2) on the standardised pooled vectors of the first
    /// --train-examples training rows, scored on the dev set.
    Probe(EvalProbeArgs),
}

#[derive(Debug, Args)]
pub struct EvalGlueArgs {
    /// The GLUE task: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte or wnli.
    #[arg(long)]
    pub task: String,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct EvalSquadArgs {
    /// SQuAD version: 1.1 or 2.0.
    #[arg(long, value_parser = parse_version)]
    pub version: SquadVersion,
    #[command(flatten)]
    pub run: RunArgs,
    /// The file to evaluate on (default: the shipped data/squad/dev-v2.0-first5articles.json).
    #[arg(long)]
    pub dev_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalPerplexityArgs {
    /// The model directory (`config.json` with `model_type: "gpt2"` and its weights).
    #[arg(long)]
    pub model: PathBuf,
    /// The text file, tokenized whole (without special tokens beyond the tokenizer's own).
    #[arg(long)]
    pub input: PathBuf,
    /// `tokenizer.json`, its directory or a Hub id (default: the model directory).
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Tokens per window (default and maximum: the model's `n_positions`).
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Tokens between window starts (default: half of --max-length).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Also write the result as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What both representation evaluations take: the model, how it embeds, where results go.
#[derive(Debug, Args)]
pub struct EmbeddingArgs {
    /// A BERT, DistilBERT, RoBERTa or GPT-2 directory (with or without a head).
    #[arg(long)]
    pub model: PathBuf,
    /// tokenizer.json directory, file or Hub id; defaults to the model directory.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// mean: the average of the last hidden state over the real tokens (sentence-transformers'
    /// mean pooling); cls: the first token's last hidden state.
    #[arg(long, value_parser = lowercase_name::<Pooling>, default_value = "mean")]
    pub pooling: Pooling,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Tokens per input, special tokens included (at most the model's positions).
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Also write the result as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalStsArgs {
    #[command(flatten)]
    pub embedding: EmbeddingArgs,
    /// An STS-B-format TSV (GLUE's: header, sentences in columns 8 and 9, the score last).
    #[arg(long, default_value = "data/glue/STS-B/dev.tsv")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalProbeArgs {
    #[command(flatten)]
    pub embedding: EmbeddingArgs,
    /// A GLUE classification task: cola, sst-2, mrpc, qqp, mnli, qnli, rte or wnli.
    #[arg(long)]
    pub task: String,
    /// The folder holding each task's folder (`<glue-dir>/SST-2/train.tsv`, `dev.tsv`).
    #[arg(long, default_value = "data/glue")]
    pub glue_dir: PathBuf,
    /// The probe is trained on the first N training rows.
    #[arg(long, default_value_t = 5000)]
    pub train_examples: usize,
    /// The L2 penalty's weight (sklearn's 1 / C).
    #[arg(long, default_value_t = 1.0)]
    pub l2: f64,
}

pub fn run(global: &GlobalOpts, command: &EvalCommand) -> anyhow::Result<()> {
    let device = global.device.resolve().context("resolving --device")?;
    let summary = match command {
        EvalCommand::Perplexity(args) => return eval_perplexity(global, args, device),
        EvalCommand::Sts(args) => return eval_sts(global, args, device),
        EvalCommand::Probe(args) => return eval_probe(global, args, device),
        EvalCommand::Glue(args) => {
            let task: GlueTask = args.task.parse()?;
            eval_glue(task, &glue_config(task, &args.run)?, device)?
        }
        EvalCommand::Squad(args) => eval_squad(
            &squad_config(args.version, &args.run, args.dev_file.as_ref())?,
            device,
        )?,
    };
    report(&summary);
    Ok(())
}

/// What `--out` holds: the inputs, then [`Perplexity`]'s fields.
#[derive(Debug, Serialize)]
struct PerplexityReport<'a> {
    model: &'a Path,
    input: &'a Path,
    #[serde(flatten)]
    result: &'a Perplexity,
}

fn eval_perplexity(
    global: &GlobalOpts,
    args: &EvalPerplexityArgs,
    device: Device,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read --input `{}`", args.input.display()))?;
    let loaded = Gpt2LMHeadModel::from_pretrained(&args.model, device).with_context(|| {
        format!(
            "loading `{}` as a causal language model (GPT-2)",
            args.model.display()
        )
    })?;
    let positions = loaded.config.n_positions as usize;
    let max_length = args.max_length.unwrap_or(positions);
    anyhow::ensure!(
        max_length <= positions,
        "--max-length {max_length} exceeds the model's n_positions {positions}"
    );
    let window = SlidingWindow {
        max_length,
        stride: args.stride.unwrap_or((max_length / 2).max(1)),
    };
    let tokenizer_spec = match &args.tokenizer {
        Some(spec) => spec.clone(),
        None => args.model.display().to_string(),
    };
    let tokenizer = distil_data::load_tokenizer(&tokenizer_spec)
        .with_context(|| format!("loading the tokenizer `{tokenizer_spec}`"))?;
    let encoding = tokenizer
        .encode(text.as_str(), true)
        .map_err(|e| anyhow::anyhow!("tokenizing `{}`: {e}", args.input.display()))?;
    let ids: Vec<i64> = encoding.get_ids().iter().map(|&id| i64::from(id)).collect();

    let bar = global
        .progress_bar("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} windows ETA {eta}")?;
    let result = perplexity(&loaded.model, &ids, window, device, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("perplexity of `{}`", args.input.display()))?;
    bar.finish_and_clear();

    println!(
        "perplexity {:.4} (mean NLL {:.6} over {} tokens, {} windows of {} every {})",
        result.perplexity,
        result.mean_nll,
        result.scored_tokens,
        result.windows,
        window.max_length,
        window.stride
    );
    if let Some(out) = &args.out {
        let report = PerplexityReport {
            model: &args.model,
            input: &args.input,
            result: &result,
        };
        let json = serde_json::to_string_pretty(&report)? + "\n";
        distil_core::fs::write_atomically(out, json.as_bytes())?;
    }
    Ok(())
}

fn eval_sts(global: &GlobalOpts, args: &EvalStsArgs, device: Device) -> anyhow::Result<()> {
    let embedding = &args.embedding;
    let options = StsOptions {
        pooling: embedding.pooling,
        batch_size: embedding.batch_size,
        max_seq_length: embedding.max_seq_length,
        max_pairs: None,
    };
    let score: StsScore = sts_zero_shot(
        &embedding.model,
        embedding.tokenizer.as_deref(),
        &args.data,
        &options,
        device,
        !global.quiet,
    )?;
    println!(
        "STS {}: Spearman {:.2}, Pearson {:.2} over {} pairs ({} pooling, {} tokens at most)",
        score.data.display(),
        score.spearman,
        score.pearson,
        score.pairs,
        score.pooling,
        score.max_seq_length
    );
    if let Some(out) = &embedding.out {
        write_json(out, &score)?;
    }
    Ok(())
}

fn eval_probe(global: &GlobalOpts, args: &EvalProbeArgs, device: Device) -> anyhow::Result<()> {
    let embedding = &args.embedding;
    let task: GlueTask = args.task.parse()?;
    let options = ProbeOptions {
        pooling: embedding.pooling,
        train_examples: args.train_examples,
        l2: args.l2,
        batch_size: embedding.batch_size,
        max_seq_length: embedding.max_seq_length,
        ..ProbeOptions::default()
    };
    let probe = linear_probe(
        &embedding.model,
        embedding.tokenizer.as_deref(),
        task,
        &args.glue_dir,
        &options,
        device,
        !global.quiet,
    )?;
    let score: &ProbeScore = &probe.score;
    // The task's own metrics where they are more than the accuracy (MRPC's F1, CoLA's MCC).
    let metrics: String = score
        .metrics
        .iter()
        .filter(|(key, _)| key.as_str() != "acc")
        .map(|(key, value)| format!(", {key} {:.2}", 100.0 * value))
        .collect();
    println!(
        "{} linear probe: dev accuracy {:.2}% over {} examples{}; trained on {}, {} pooling, \
         l2 {}, {} Newton iterations{}",
        task,
        100.0 * score.accuracy,
        score.dev_examples,
        metrics,
        score.train_examples,
        score.pooling,
        score.l2,
        score.iterations,
        if score.converged {
            ""
        } else {
            ", NOT converged"
        }
    );
    if let Some(out) = &embedding.out {
        write_json(out, score)?;
    }
    Ok(())
}
