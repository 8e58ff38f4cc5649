//! `distil inspect`: every tensor of a checkpoint with its shape and dtype, and the parameter
//! count with and without tied duplicates.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use distil_core::checkpoint::{
    canonicalize, find_weights, kind_name, read_tensors, ties_word_embeddings,
};
use serde::Serialize;
use tch::Tensor;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A model directory or a weights file (`.safetensors`, PyTorch `.bin`, `*.index.json`).
    pub path: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct TensorEntry {
    name: String,
    shape: Vec<i64>,
    dtype: String,
    numel: i64,
}

#[derive(Debug, Serialize)]
struct Inspection {
    file: PathBuf,
    tensors: Vec<TensorEntry>,
    /// Elements of every tensor except buffers (`position_ids`).
    parameters: i64,
    /// The same without tied duplicates (an MLM decoder sharing the word embeddings).
    parameters_without_tied: i64,
    tied_duplicates: Vec<String>,
    buffers: Vec<String>,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let file = find_weights(&args.path)?;
    let tensors = read_tensors(&file)?;
    let inspection = inspect(&file, &tensors)?;
    let text = if args.json {
        serde_json::to_string_pretty(&inspection)? + "\n"
    } else {
        table(&inspection)
    };
    // Output piped into `head` closes early; that is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn inspect(file: &Path, tensors: &BTreeMap<String, Tensor>) -> anyhow::Result<Inspection> {
    let config_path = file.with_file_name("config.json");
    let tie = match std::fs::read(&config_path) {
        Ok(bytes) => ties_word_embeddings(
            &serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", config_path.display()))?,
        ),
        Err(_) => true,
    };
    let shallow = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.shallow_clone()))
        .collect();
    // A checkpoint that cannot be put in canonical form is still listed, with no
    // duplicates or buffers told apart.
    let (tied, buffers) = match canonicalize(shallow, tie) {
        Ok(canonical) => (canonical.dropped_tied, canonical.dropped_buffers),
        Err(e) => {
            log::warn!("{}: {e}", file.display());
            (Vec::new(), Vec::new())
        }
    };
    let numel = |keys: &[String]| -> i64 { keys.iter().map(|k| tensors[k].numel() as i64).sum() };
    let all: i64 = tensors.values().map(|t| t.numel() as i64).sum();
    let parameters = all - numel(&buffers);
    Ok(Inspection {
        file: file.to_path_buf(),
        tensors: tensors
            .iter()
            .map(|(name, t)| TensorEntry {
                name: name.clone(),
                shape: t.size(),
                dtype: kind_name(t.kind()),
                numel: t.numel() as i64,
            })
            .collect(),
        parameters,
        parameters_without_tied: parameters - numel(&tied),
        tied_duplicates: tied,
        buffers,
    })
}

fn table(inspection: &Inspection) -> String {
    let width = inspection
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0);
    let mut lines = vec![inspection.file.display().to_string()];
    for t in &inspection.tensors {
        let shape = format!("{:?}", t.shape);
        lines.push(format!("  {:width$}  {shape:16}  {}", t.name, t.dtype));
    }
    lines.push(format!(
        "{} tensors, {} parameters ({} without tied duplicates)",
        inspection.tensors.len(),
        inspection.parameters,
        inspection.parameters_without_tied
    ));
    if !inspection.tied_duplicates.is_empty() {
        lines.push(format!(
            "tied duplicates: {}",
            inspection.tied_duplicates.join(", ")
        ));
    }
    if !inspection.buffers.is_empty() {
        lines.push(format!("buffers: {}", inspection.buffers.join(", ")));
    }
    lines.join("\n") + "\n"
}
