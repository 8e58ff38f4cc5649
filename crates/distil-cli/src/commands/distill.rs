//! `distil distill`: trains a DistilBERT student from a frozen teacher with the triple loss, as
//! a YAML run config says (configs/distill/*.yaml), with exact resume and Ctrl-C checkpoints.

use std::path::PathBuf;

use clap::Args;
use distil_core::DeviceSpec;
use distil_train::{DistillConfig, DistillOptions, DistillOutcome, Distiller, Interrupt};

use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The run config (YAML), such as configs/distill/tiny-cpu.yaml.
    #[arg(long)]
    pub config: PathBuf,
    /// Override a config value, parsed as YAML (repeatable): --set optimizer.learning_rate=1e-4
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Continue the run from its newest complete checkpoint (weights, optimizer moments,
    /// schedule, data position and dropout seeds).
    #[arg(long)]
    pub resume: bool,
    /// Run name: the run directory under output.dir (sets output.run_name).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(global: &GlobalOpts, args: &DistillArgs) -> anyhow::Result<()> {
    let mut overrides = args.overrides.clone();
    if let Some(name) = &args.run {
        // A JSON string is a YAML string, so a name like `123` stays a string.
        overrides.push(format!("output.run_name={}", serde_json::to_string(name)?));
    }
    if global.device != DeviceSpec::Auto {
        overrides.push(format!("training.device={}", global.device));
    }
    let config = DistillConfig::load(&args.config, &overrides)?;
    let interrupt = Interrupt::install()?;
    let distiller = Distiller::new(config, args.resume)?;
    // Under torchrun, rank 0 speaks for the job; the others only report their end.
    let rank = match distiller.world_size() {
        1 => String::new(),
        _ => format!("rank {}: ", distiller.rank()),
    };
    if !global.quiet && distiller.rank() == 0 {
        let from = match distiller.start_step() {
            0 => String::new(),
            step => format!(", resuming after step {step}"),
        };
        eprintln!(
            "distilling into {} ({} optimizer steps{from})",
            distiller.run_dir().display(),
            distiller.plan().expected_steps,
        );
    }
    let options = DistillOptions {
        quiet: global.quiet,
        interrupt,
    };
    match distiller.run(&options)? {
        DistillOutcome::Finished {
            steps,
            student_dir,
            weights_digest,
        } => println!(
            "{rank}finished after {steps} optimizer steps (weights digest {weights_digest}); \
             student saved to {}",
            student_dir.display()
        ),
        DistillOutcome::Interrupted { step, checkpoint } => println!(
            "{rank}interrupted: checkpoint after optimizer step {step} written to {}; continue \
             with --resume",
            checkpoint.display()
        ),
    }
    Ok(())
}
