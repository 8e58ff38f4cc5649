//! `distil finetune glue|squad`: fine-tune a BERT, DistilBERT or RoBERTa on a GLUE task or
//! SQuAD, optionally distilling from a fine-tuned teacher, and write `experiments/<run>/`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use distil_core::config::InvalidKey;
use distil_tasks::finetune::{
    finetune_glue, finetune_squad, load_run_config, GlueRunConfig, LoopOptions, ModelConfig,
    OutputConfig, RunSummary, SquadRunConfig,
};
use distil_tasks::squad::{SquadVersion, UnknownSquadVersion};
use distil_tasks::GlueTask;
use distil_train::Interrupt;

use crate::cli::GlobalOpts;

#[derive(Debug, Subcommand)]
pub enum FinetuneCommand {
    /// Fine-tune on a GLUE task (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI):
    /// dev evaluation each epoch, the best epoch kept, dev predictions, GLUE-submission TSVs
    /// for the test split and the model as an HF directory.
    Glue(GlueArgs),
    /// Fine-tune on SQuAD v1.1 or v2.0: sliding windows, n-best decoding, predictions.json
    /// and the official EM/F1. Windows use `features.doc_stride` 128 as the STEP between
    /// window starts (the reference `run_squad_w_distillation.py`); `--set
    /// features.doc_stride_mode=overlap` makes it the tokens consecutive windows share
    /// (`run_qa.py`).
    Squad(SquadArgs),
}

/// Options every fine-tuning and evaluation command takes.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The model: an HF directory or Hub id (BERT, DistilBERT or RoBERTa, read from
    /// config.json).
    #[arg(long)]
    pub model: String,
    /// Run config (YAML); without it the built-in defaults (the reference recipe) apply.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set training.learning_rate=2e-5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// tokenizer.json directory, file or Hub id; defaults to the model.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Run folder name under `output.dir` (default: `<command>-<task>-<model folder>`).
    #[arg(long)]
    pub run: Option<String>,
}

impl RunArgs {
    /// Writes the command-line choices into the config's sections.
    pub fn apply(&self, model: &mut ModelConfig, output: &mut OutputConfig) {
        model.source = Some(self.model.clone());
        if let Some(tokenizer) = &self.tokenizer {
            model.tokenizer = Some(tokenizer.clone());
        }
        if let Some(run) = &self.run {
            output.run_name = Some(run.clone());
        }
    }

    /// Where a key error in the config is reported.
    pub fn config_error(&self, error: InvalidKey) -> anyhow::Error {
        let origin = self
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in defaults)"));
        error.in_file(&origin).into()
    }
}

#[derive(Debug, Args)]
pub struct GlueArgs {
    /// The GLUE task: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte or wnli.
    #[arg(long)]
    pub task: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// A teacher already fine-tuned on the task: adds alpha_ce * KL(teacher||student at T) *
    /// T^2 to alpha_task * the task loss (config `distillation`; STS-B uses the squared error
    /// to the teacher's score instead of a KL).
    #[arg(long)]
    pub teacher: Option<String>,
    /// Continue the run folder's newest checkpoint.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct SquadArgs {
    /// SQuAD version: 1.1 or 2.0 (unanswerable questions and the null answer).
    #[arg(long, value_parser = parse_version)]
    pub version: SquadVersion,
    #[command(flatten)]
    pub run: RunArgs,
    /// The SQuAD training file (the official train file is not shipped). For a smoke test
    /// on the shipped dev subset, leave it out and `--set data.dev_train_share=0.5`.
    #[arg(long)]
    pub train_file: Option<PathBuf>,
    /// The file to evaluate on (default: the shipped data/squad/dev-v2.0-first5articles.json).
    #[arg(long)]
    pub dev_file: Option<PathBuf>,
    /// A teacher already fine-tuned on SQuAD: adds the mean of the start and end soft-target
    /// terms (config `distillation`).
    #[arg(long)]
    pub teacher: Option<String>,
    /// Continue the run folder's newest checkpoint.
    #[arg(long)]
    pub resume: bool,
}

/// `1.1`/`v1.1` or `2.0`/`v2.0`.
pub fn parse_version(text: &str) -> Result<SquadVersion, String> {
    text.parse().map_err(|e: UnknownSquadVersion| e.to_string())
}

/// The GLUE run config from `--config`/`--set` and the command line.
pub fn glue_config(task: GlueTask, run: &RunArgs) -> anyhow::Result<GlueRunConfig> {
    let mut config: GlueRunConfig = load_run_config(run.config.as_deref(), &run.overrides)?;
    config.resolve_task(task).map_err(|e| run.config_error(e))?;
    run.apply(&mut config.model, &mut config.output);
    Ok(config)
}

/// The SQuAD run config from `--config`/`--set` and the command line.
pub fn squad_config(
    version: SquadVersion,
    run: &RunArgs,
    dev_file: Option<&PathBuf>,
) -> anyhow::Result<SquadRunConfig> {
    let mut config: SquadRunConfig = load_run_config(run.config.as_deref(), &run.overrides)?;
    config.version = version;
    if let Some(dev_file) = dev_file {
        config.data.dev_file = dev_file.clone();
    }
    run.apply(&mut config.model, &mut config.output);
    Ok(config)
}

pub fn run(global: &GlobalOpts, command: &FinetuneCommand) -> anyhow::Result<()> {
    let device = global.device.resolve().context("resolving --device")?;
    let options = |resume: bool| -> anyhow::Result<LoopOptions> {
        Ok(LoopOptions {
            resume,
            quiet: global.quiet,
            interrupt: Interrupt::install()?,
        })
    };
    let summary = match command {
        FinetuneCommand::Glue(args) => {
            let task: GlueTask = args.task.parse()?;
            let mut config = glue_config(task, &args.run)?;
            config.model.teacher = args.teacher.clone().or(config.model.teacher);
            finetune_glue(task, &config, device, &options(args.resume)?)?
        }
        FinetuneCommand::Squad(args) => {
            let mut config = squad_config(args.version, &args.run, args.dev_file.as_ref())?;
            if let Some(train_file) = &args.train_file {
                config.data.train_file = Some(train_file.clone());
            }
            config.model.teacher = args.teacher.clone().or(config.model.teacher);
            finetune_squad(&config, device, &options(args.resume)?)?
        }
    };
    report(&summary);
    Ok(())
}

/// Prints where the run went and its dev scores.
pub fn report(summary: &RunSummary) {
    if summary.interrupted {
        println!(
            "interrupted; resume with the same command and --resume ({})",
            summary.dir.display()
        );
        return;
    }
    for (name, value) in &summary.metrics {
        println!("{name:<20} {value:.4}");
    }
    println!("results in {}", summary.dir.display());
}
