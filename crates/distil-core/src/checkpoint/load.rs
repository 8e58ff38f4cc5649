//! Copying a checkpoint's tensors into a VarStore, accepting the renamings HF checkpoints
//! use: a present or absent base-model prefix (`bert.`, `distilbert.`), LayerNorm
//! `gamma`/`beta` for `weight`/`bias`, tied keys and buffers that are not variables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use tch::nn::VarStore;
use tch::Tensor;

use super::canonical::TIED_KEYS;
use super::{find_weights, read_tensors, CheckpointError};

/// How a model's variables are found in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// The base model's weight-path segment (`bert`, `distilbert`), tried both added and
    /// stripped so a base-model file loads into a model with a head and vice versa.
    pub base_prefix: String,
    /// File keys that duplicate another weight (an MLM decoder tied to the embeddings):
    /// skipped without being reported as unexpected.
    pub tied_keys: Vec<String>,
    /// `(variable, file key)`: a second file key tried for a variable absent under its own.
    pub aliases: Vec<(String, String)>,
    /// Variable-name prefixes that may be absent from the file (fresh heads), matched at a
    /// `.` boundary: `classifier` covers `classifier.weight`.
    pub allowed_missing: Vec<String>,
    /// Last key segments of buffers to skip (`position_ids`).
    pub ignored_suffixes: Vec<String>,
}

impl LoadSpec {
    /// A spec for a model whose base is `base_prefix`, that skips every HF tied key in
    /// [`TIED_KEYS`] and `*.position_ids`, takes an MLM head's bias (`cls.predictions.bias`,
    /// `lm_head.bias`) from its decoder's bias when only that is saved, and allows nothing
    /// missing.
    pub fn new(base_prefix: &str) -> Self {
        Self {
            base_prefix: base_prefix.to_string(),
            tied_keys: TIED_KEYS.iter().map(|t| t.key.to_string()).collect(),
            // A tie within the head (not to the embeddings) is the same variable either way.
            aliases: TIED_KEYS
                .iter()
                .filter(|t| !t.word_embeddings)
                .map(|t| (t.source.to_string(), t.key.to_string()))
                .collect(),
            allowed_missing: Vec::new(),
            ignored_suffixes: vec!["position_ids".to_string()],
        }
    }

    /// Lets variables under these prefixes be absent (`classifier`, `qa_outputs`, ...); a
    /// trailing `.*` is accepted.
    pub fn allow_missing<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_missing.extend(prefixes.into_iter().map(|p| {
            let p: String = p.into();
            p.trim_end_matches(".*").trim_end_matches('.').to_string()
        }));
        self
    }

    /// Adds a tied file key to skip.
    pub fn tied(mut self, key: impl Into<String>) -> Self {
        self.tied_keys.push(key.into());
        self
    }

    /// The name with the base prefix, and without it.
    fn prefix_forms(&self, name: &str) -> Vec<String> {
        if self.base_prefix.is_empty() {
            return vec![name.to_string()];
        }
        let prefix = format!("{}.", self.base_prefix);
        let other = match name.strip_prefix(&prefix) {
            Some(stripped) => stripped.to_string(),
            None => format!("{prefix}{name}"),
        };
        vec![name.to_string(), other]
    }

    /// File keys tried for a variable, best first.
    fn candidates(&self, variable: &str) -> Vec<String> {
        let bases = std::iter::once(variable).chain(
            self.aliases
                .iter()
                .filter(|(v, _)| v == variable)
                .map(|(_, k)| k.as_str()),
        );
        let mut out: Vec<String> = Vec::new();
        for base in bases {
            for key in self.prefix_forms(base) {
                let legacy = legacy_layer_norm_name(&key);
                for k in std::iter::once(key).chain(legacy) {
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
            }
        }
        out
    }

    fn allows_missing(&self, variable: &str) -> bool {
        self.prefix_forms(variable).iter().any(|name| {
            self.allowed_missing
                .iter()
                .any(|p| name == p || name.starts_with(&format!("{p}.")))
        })
    }

    fn is_tied(&self, file_key: &str) -> bool {
        self.prefix_forms(file_key)
            .iter()
            .any(|k| self.tied_keys.contains(k))
    }

    fn is_ignored_buffer(&self, file_key: &str) -> bool {
        let last = file_key.rsplit('.').next().unwrap_or(file_key);
        self.ignored_suffixes.iter().any(|s| s == last)
    }
}

/// The `gamma`/`beta` name older BERT files use for a `weight`/`bias`.
fn legacy_layer_norm_name(key: &str) -> Option<String> {
    if let Some(stem) = key.strip_suffix(".weight") {
        Some(format!("{stem}.gamma"))
    } else {
        key.strip_suffix(".bias").map(|stem| format!("{stem}.beta"))
    }
}

/// What a load did with each variable and each file key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Variables filled from the file.
    pub loaded: Vec<String>,
    /// `(variable, file key)` for variables filled from a differently named key.
    pub renamed: Vec<(String, String)>,
    /// Variables absent from the file that the spec allows to be absent (kept as
    /// initialised).
    pub missing_allowed: Vec<String>,
    /// File keys that matched no variable.
    pub unexpected: Vec<String>,
    /// Tied duplicates in the file, skipped.
    pub ignored_tied: Vec<String>,
    /// Buffers in the file (`position_ids`), skipped.
    pub ignored_buffers: Vec<String>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loaded {} tensors ({} renamed), {} allowed missing, {} unexpected, {} tied and {} \
             buffers skipped",
            self.loaded.len(),
            self.renamed.len(),
            self.missing_allowed.len(),
            self.unexpected.len(),
            self.ignored_tied.len(),
            self.ignored_buffers.len()
        )?;
        for (label, keys) in [
            ("allowed missing", &self.missing_allowed),
            ("unexpected", &self.unexpected),
        ] {
            if !keys.is_empty() {
                write!(f, "\n  {label}: {}", keys.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Copies `tensors` into the variables of `vs` (converting dtype and device to each
/// variable's) as `spec` matches them. Nothing is copied unless every variable is either
/// found with its exact shape or allowed missing; otherwise the error names the key (and,
/// for a shape, the expected and found shapes).
pub fn load_into(
    vs: &VarStore,
    tensors: &BTreeMap<String, Tensor>,
    spec: &LoadSpec,
) -> Result<LoadReport, CheckpointError> {
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));

    let mut report = LoadReport::default();
    let mut used = BTreeSet::new();
    let mut plan = Vec::with_capacity(variables.len());
    for (name, variable) in variables {
        let candidates = spec.candidates(&name);
        let Some((file_key, source)) = candidates
            .iter()
            .find_map(|k| tensors.get(k).map(|t| (k, t)))
        else {
            if spec.allows_missing(&name) {
                report.missing_allowed.push(name);
                continue;
            }
            return Err(CheckpointError::MissingKey {
                key: name,
                tried: candidates,
            });
        };
        let (expected, found) = (variable.size(), source.size());
        if expected != found {
            return Err(CheckpointError::ShapeMismatch {
                key: name,
                file_key: file_key.clone(),
                expected,
                found,
            });
        }
        used.insert(file_key.clone());
        if *file_key != name {
            report.renamed.push((name.clone(), file_key.clone()));
        }
        report.loaded.push(name.clone());
        plan.push((name, variable, source));
    }

    tch::no_grad(|| {
        for (name, mut variable, source) in plan {
            source
                .f_to_kind(variable.kind())
                .and_then(|s| s.f_to_device(variable.device()))
                .and_then(|s| variable.f_copy_(&s))
                .map_err(|e| CheckpointError::tensor(&name, e))?;
        }
        Ok::<(), CheckpointError>(())
    })?;

    for key in tensors.keys().filter(|k| !used.contains(*k)) {
        let bucket = if spec.is_tied(key) {
            &mut report.ignored_tied
        } else if spec.is_ignored_buffer(key) {
            &mut report.ignored_buffers
        } else {
            &mut report.unexpected
        };
        bucket.push(key.clone());
    }
    Ok(report)
}

/// Reads a weights file (or a model directory's weights, see [`find_weights`]) and loads
/// it with [`load_into`]; errors name the file.
pub fn load_file_into(
    vs: &VarStore,
    path: &Path,
    spec: &LoadSpec,
) -> Result<LoadReport, CheckpointError> {
    let file = find_weights(path)?;
    let tensors = read_tensors(&file)?;
    load_into(vs, &tensors, spec).map_err(|e| e.in_file(&file))
}
