//! `distil fit-head`: fits an MLM head on a frozen encoder that ships without one (a bare
//! `BertModel` such as all-MiniLM-L6-v2), so it can give the triple loss its soft targets.

use std::path::PathBuf;

use clap::Args;
use distil_core::DeviceSpec;
use distil_train::{HeadFitConfig, HeadFitOutcome, HeadFitter, Interrupt};

use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct FitHeadArgs {
    /// The run config (YAML), such as configs/fit-head/minilm.yaml.
    #[arg(long)]
    pub config: PathBuf,
    /// Override a config value, parsed as YAML (repeatable): --set training.steps=100
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub overrides: Vec<String>,
    /// The encoder: an HF directory or Hub id (sets `teacher`).
    #[arg(long)]
    pub teacher: Option<String>,
    /// Run name: the run directory under output.dir (sets output.run_name).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(global: &GlobalOpts, args: &FitHeadArgs) -> anyhow::Result<()> {
    let mut overrides = args.overrides.clone();
    // A JSON string is a YAML string, so names like `123` stay strings.
    if let Some(teacher) = &args.teacher {
        overrides.push(format!("teacher={}", serde_json::to_string(teacher)?));
    }
    if let Some(name) = &args.run {
        overrides.push(format!("output.run_name={}", serde_json::to_string(name)?));
    }
    if global.device != DeviceSpec::Auto {
        overrides.push(format!("training.device={}", global.device));
    }
    let config = HeadFitConfig::load(&args.config, &overrides)?;
    let interrupt = Interrupt::install()?;
    let fitter = HeadFitter::new(config)?;
    if !global.quiet {
        eprintln!("fitting an MLM head into {}", fitter.run_dir().display());
    }
    match fitter.run(global.quiet, &interrupt)? {
        HeadFitOutcome::Finished {
            model_dir,
            head,
            unigram,
        } => println!(
            "held-out masked tokens ({}): head accuracy {:.3}, loss {:.3}; unigram baseline \
             accuracy {:.3}, loss {:.3}\nteacher with its head saved to {}",
            head.targets,
            head.accuracy,
            head.loss,
            unigram.accuracy,
            unigram.loss,
            model_dir.display()
        ),
        HeadFitOutcome::Interrupted { step } => {
            println!("interrupted after step {step}: nothing saved (rerun the fit)")
        }
    }
    Ok(())
}
