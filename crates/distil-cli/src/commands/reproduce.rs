//! `distil reproduce --config configs/reproduce/NAME.yaml`: the DistilBERT paper's experiment
//! (distil_experiments::reproduce) with `--set` overrides.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use distil_experiments::reproduce::{self, ReproduceConfig};

use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The experiment: `configs/reproduce/mini-cpu.yaml`, `mini-gpu.yaml` or `paper.yaml`.
    #[arg(long)]
    pub config: PathBuf,
    /// Override a config key, e.g. `--set finetune.seeds=[1]` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

pub fn run(global: &GlobalOpts, args: &ReproduceArgs) -> anyhow::Result<()> {
    let config = ReproduceConfig::load(&args.config, &args.overrides)?;
    let device = global.device.resolve().context("resolving --device")?;
    let report = reproduce::run(&config, device, global.quiet)?;
    println!("report: {}", report.display());
    Ok(())
}
