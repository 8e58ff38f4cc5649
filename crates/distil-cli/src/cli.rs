//! Command-line surface: global options and one subcommand per job.

use clap::{Args, Parser, Subcommand};
use distil_core::DeviceSpec;

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
}
