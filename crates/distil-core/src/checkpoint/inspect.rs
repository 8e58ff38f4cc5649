//! What `distil inspect` shows of a checkpoint: every tensor with its shape and dtype, and the
//! parameter count with and without tied duplicates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tch::Tensor;

use super::CheckpointError;
use super::{canonicalize, find_weights, kind_name, read_tensors, ties_word_embeddings};

#[derive(Debug, Serialize)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<i64>,
    pub dtype: String,
    pub numel: i64,
}

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub file: PathBuf,
    pub tensors: Vec<TensorEntry>,
    /// Elements of every tensor except buffers (`position_ids`).
    pub parameters: i64,
    /// The same without tied duplicates (an MLM decoder sharing the word embeddings).
    pub parameters_without_tied: i64,
    pub tied_duplicates: Vec<String>,
    pub buffers: Vec<String>,
    /// Why the checkpoint could not be put in canonical form, in which case it is still
    /// listed, with no duplicates or buffers told apart.
    #[serde(skip)]
    pub not_canonical: Option<String>,
}

/// Reads the weights of `path` (a model directory or a weights file) and describes them; the
/// `config.json` beside them says whether the MLM decoder is tied (tied when absent).
pub fn inspect(path: &Path) -> Result<Inspection, CheckpointError> {
    let file = find_weights(path)?;
    let tensors = read_tensors(&file)?;
    let config_path = file.with_file_name("config.json");
    let tie = match std::fs::read(&config_path) {
        Ok(bytes) => ties_word_embeddings(&serde_json::from_slice(&bytes).map_err(|e| {
            CheckpointError::Config {
                path: config_path.clone(),
                reason: e.to_string(),
            }
        })?),
        Err(_) => true,
    };
    let shallow = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.shallow_clone()))
        .collect();
    let (tied, buffers, not_canonical) = match canonicalize(shallow, tie) {
        Ok(canonical) => (canonical.dropped_tied, canonical.dropped_buffers, None),
        Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    Ok(describe(file, &tensors, tied, buffers, not_canonical))
}

fn describe(
    file: PathBuf,
    tensors: &BTreeMap<String, Tensor>,
    tied: Vec<String>,
    buffers: Vec<String>,
    not_canonical: Option<String>,
) -> Inspection {
    let numel = |keys: &[String]| -> i64 { keys.iter().map(|k| tensors[k].numel() as i64).sum() };
    let all: i64 = tensors.values().map(|t| t.numel() as i64).sum();
    let parameters = all - numel(&buffers);
    Inspection {
        file,
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
        not_canonical,
    }
}

impl Inspection {
    /// One line per tensor (name, shape, dtype), then the counts.
    pub fn table(&self) -> String {
        let width = self.tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let mut lines = vec![self.file.display().to_string()];
        for t in &self.tensors {
            let shape = format!("{:?}", t.shape);
            lines.push(format!("  {:width$}  {shape:16}  {}", t.name, t.dtype));
        }
        lines.push(format!(
            "{} tensors, {} parameters ({} without tied duplicates)",
            self.tensors.len(),
            self.parameters,
            self.parameters_without_tied
        ));
        if !self.tied_duplicates.is_empty() {
            lines.push(format!(
                "tied duplicates: {}",
                self.tied_duplicates.join(", ")
            ));
        }
        if !self.buffers.is_empty() {
            lines.push(format!("buffers: {}", self.buffers.join(", ")));
        }
        lines.join("\n") + "\n"
    }
}
