//! `distil reproduce`: the DistilBERT paper's experiment end to end, as resumable stages
//! writing into `experiments/<run>/`, ending in `report.md`, `results.json` and PNG plots.

pub mod ablation;
pub mod config;
mod outputs;
pub mod paper;
mod pipeline;
pub mod plots;
pub mod report;
pub mod representation;
mod representation_report;
pub mod results;
mod runner;
pub mod scores;
mod stages;
pub mod task_text;

use std::path::PathBuf;

use anyhow::Context;
use tch::Device;

pub use ablation::Ablation;
pub use config::ReproduceConfig;
pub use pipeline::Pipeline;
pub use results::Results;

/// Runs (or resumes) the experiment `config` describes on `device` in its run folder, which
/// also gets the config as `config.yaml`; returns the path of `report.md`. `quiet` hides the
/// progress bars.
pub fn run(config: &ReproduceConfig, device: Device, quiet: bool) -> anyhow::Result<PathBuf> {
    let run_dir = config.run_dir();
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    distil_core::config::save_config(config, &run_dir.join("config.yaml"))?;
    Pipeline::new(config, device, &run_dir, quiet)?.run()
}
