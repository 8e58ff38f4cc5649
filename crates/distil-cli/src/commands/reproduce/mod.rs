//! `distil reproduce --config configs/reproduce/NAME.yaml`: the DistilBERT paper's experiment
//! end to end, as resumable stages writing into `experiments/<run>/`, ending in `report.md`,
//! `results.json` and PNG plots.

mod config;
mod paper;
mod pipeline;
mod plots;
mod report;
mod results;
mod stages;
mod timing;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cli::GlobalOpts;
pub use config::ReproduceConfig;

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
    let run_dir = config.run_dir();
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    distil_core::config::save_config(&config, &run_dir.join("config.yaml"))?;
    let report = pipeline::Pipeline::new(&config, device, &run_dir, global.quiet)?.run()?;
    println!("report: {}", report.display());
    Ok(())
}
