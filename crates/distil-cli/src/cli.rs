//! Command-line surface: global options and one subcommand per job.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use distil_core::DeviceSpec;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Parser)]
#[command(
    name = "distil",
    version,
    about = "Knowledge distillation of BERT into DistilBERT on libtorch",
    long_about = "distil reproduces DistilBERT (Sanh et al. 2019): a frozen BERT teacher, a \
                  6-layer DistilBERT student trained with the triple loss, and fine-tuning on \
                  GLUE and SQuAD. Checkpoints are Hugging Face directories (config.json + \
                  model.safetensors + tokenizer files)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Device to run on: cpu, cuda, cuda:N or auto (first GPU if any, else CPU).
    #[arg(long, global = true, default_value = "auto", env = "DISTIL_DEVICE")]
    pub device: DeviceSpec,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl GlobalOpts {
    /// A progress bar drawn with `template` (indicatif's), hidden under `--quiet`.
    pub fn progress_bar(&self, template: &str) -> anyhow::Result<ProgressBar> {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(ProgressStyle::with_template(template).context("progress bar template")?);
        Ok(bar)
    }

    pub fn init_logging(&self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        };
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
            .format_timestamp_secs()
            .init();
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the libtorch version, CUDA devices, bf16 support and thread count.
    Env,
    /// Train a WordPiece vocabulary on a corpus (for models too small to learn bert-base's
    /// 30,522 embeddings).
    Vocab(crate::commands::vocab::VocabArgs),
    /// Tokenise a corpus into parquet token shards with token counts and a manifest.
    Prep(crate::commands::prep::PrepArgs),
    /// Benchmarks (tokens/s, peak memory) beside the reference implementation.
    #[command(subcommand)]
    Bench(crate::commands::bench::BenchCommand),
    /// List a checkpoint's tensors (name, shape, dtype) and its parameter count.
    Inspect(crate::commands::inspect::InspectArgs),
    /// Rewrite a checkpoint directory as a clean Hugging Face directory (config.json,
    /// model.safetensors with canonical names, tokenizer files).
    Export(crate::commands::export::ExportArgs),
    /// Distil a teacher (BERT, RoBERTa or GPT-2) into a smaller student from a YAML run config
    /// (triple loss, exact resume, TensorBoard and JSONL logs, HF export of the student).
    Distill(crate::commands::distill::DistillArgs),
    /// Initialise a student from chosen layers of a teacher: DistilBERT from BERT, DistilRoBERTa
    /// from RoBERTa, DistilGPT2 from GPT-2 (HF directories).
    InitStudent(crate::commands::init_student::InitStudentArgs),
    /// Fit an MLM head on a frozen encoder saved without one (a bare BertModel such as
    /// all-MiniLM-L6-v2), scored on held-out shards beside the unigram baseline.
    FitHead(crate::commands::fit_head::FitHeadArgs),
    /// Print the most likely tokens, with probabilities, for each mask token of a text (masked
    /// LMs).
    FillMask(crate::commands::fill_mask::FillMaskArgs),
    /// Write each input line's last hidden state, pooled vector and vocabulary logits to
    /// safetensors.
    Encode(crate::commands::encode::EncodeArgs),
    /// Fine-tune on GLUE or SQuAD (optionally distilling from a fine-tuned teacher).
    #[command(subcommand)]
    Finetune(crate::commands::finetune::FinetuneCommand),
    /// Evaluate a fine-tuned model on GLUE or SQuAD dev data without training.
    #[command(subcommand)]
    Eval(crate::commands::eval::EvalCommand),
    /// Run the DistilBERT paper's experiment end to end (resumable stages) and write its
    /// tables, plots and results to experiments/<run>/.
    Reproduce(crate::commands::reproduce::ReproduceArgs),
}
