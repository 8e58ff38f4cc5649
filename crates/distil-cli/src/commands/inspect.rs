//! `distil inspect`: every tensor of a checkpoint with its shape and dtype, and the parameter
//! count with and without tied duplicates.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use distil_core::checkpoint::inspect;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A model directory or a weights file (`.safetensors`, PyTorch `.bin`, `*.index.json`).
    pub path: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let inspection = inspect(&args.path)?;
    if let Some(reason) = &inspection.not_canonical {
        log::warn!("{}: {reason}", inspection.file.display());
    }
    let text = if args.json {
        serde_json::to_string_pretty(&inspection)? + "\n"
    } else {
        inspection.table()
    };
    // Output piped into `head` closes early; that is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
