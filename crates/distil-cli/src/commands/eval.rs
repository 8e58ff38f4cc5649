//! `distil eval glue|squad`: score an already fine-tuned model on the dev data and write the
//! same results files as fine-tuning, without training.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use distil_tasks::finetune::{eval_glue, eval_squad};
use distil_tasks::squad::SquadVersion;
use distil_tasks::GlueTask;

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

pub fn run(global: &GlobalOpts, command: &EvalCommand) -> anyhow::Result<()> {
    let device = global.device.resolve().context("resolving --device")?;
    let summary = match command {
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
