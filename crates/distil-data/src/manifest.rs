//! The shard directory's description (`manifest.json`) and its dense token counts
//! (`token_counts.json`). The manifest is written last, so a directory without one is an
//! unfinished or failed `distil prep`.

use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::input::{ReadSummary, TextUnit};
use crate::sequence::{DropCounts, SpecialTokens};
use crate::DataError;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const TOKEN_COUNTS_FILE: &str = "token_counts.json";
/// The manifest layout this build writes and reads.
pub(crate) const FORMAT: u32 = 1;

/// The integer type token ids are stored as in the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    Uint16,
    Uint32,
}

impl IdType {
    /// `uint16` when every id fits, as the reference does.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= usize::from(u16::MAX) + 1 {
            IdType::Uint16
        } else {
            IdType::Uint32
        }
    }
}

/// One shard file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    pub file: String,
    pub rows: u64,
    pub tokens: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A file named by path with its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    pub path: PathBuf,
    pub sha256: String,
}

/// Everything `distil prep` wrote and counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub rows: u64,
    pub tokens: u64,
    pub max_seq_len: usize,
    /// Manifests written before paragraphs existed were made of lines.
    #[serde(default)]
    pub text_unit: TextUnit,
    pub vocab_size: usize,
    pub id_type: IdType,
    pub special_tokens: SpecialTokens,
    pub tokenizer: FileDigest,
    pub seed: u64,
    pub shards: Vec<ShardEntry>,
    /// `token_counts.json`, relative to the shard directory.
    pub token_counts: FileDigest,
    pub dropped: DropCounts,
    pub input: ReadSummary,
}

impl Manifest {
    /// Reads `manifest.json` from a shard directory.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Manifest {
            path: path.clone(),
            reason: format!("{source} (is this a directory written by `distil prep`?)"),
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| DataError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if manifest.format != FORMAT {
            return Err(DataError::Manifest {
                path,
                reason: format!(
                    "format {} found, this build reads format {FORMAT}",
                    manifest.format
                ),
            });
        }
        Ok(manifest)
    }

    /// Writes `manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), DataError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| DataError::Manifest {
            path: dir.join(MANIFEST_FILE),
            reason: e.to_string(),
        })?;
        Ok(write_atomically(&dir.join(MANIFEST_FILE), text.as_bytes())?)
    }

    /// The dense per-id token counts, checked against the manifest's vocabulary and checksum.
    pub fn token_counts(&self, dir: &Path) -> Result<Vec<u64>, DataError> {
        let path = dir.join(&self.token_counts.path);
        let bytes = std::fs::read(&path).map_err(|source| DataError::Read {
            path: path.clone(),
            source,
        })?;
        let bad = |reason: String| DataError::Manifest {
            path: path.clone(),
            reason,
        };
        if sha256_hex(&bytes) != self.token_counts.sha256 {
            return Err(bad("checksum differs from manifest.json".to_string()));
        }
        let counts: Vec<u64> = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if counts.len() != self.vocab_size {
            return Err(bad(format!(
                "{} counts, expected one per vocabulary id ({})",
                counts.len(),
                self.vocab_size
            )));
        }
        Ok(counts)
    }

    /// A short fingerprint of the shard contents, so a saved position is only resumed on the
    /// same shards.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for shard in &self.shards {
            hasher.update(shard.sha256.as_bytes());
        }
        hex(&hasher.finalize()[..8])
    }
}

/// Writes the dense token counts file and returns its digest entry for the manifest.
pub fn save_token_counts(dir: &Path, counts: &[u64]) -> Result<FileDigest, DataError> {
    let text = serde_json::to_vec(counts).map_err(|e| DataError::Manifest {
        path: dir.join(TOKEN_COUNTS_FILE),
        reason: e.to_string(),
    })?;
    write_atomically(&dir.join(TOKEN_COUNTS_FILE), &text)?;
    Ok(FileDigest {
        path: PathBuf::from(TOKEN_COUNTS_FILE),
        sha256: sha256_hex(&text),
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
