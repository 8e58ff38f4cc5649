//! HF's canonical form of a checkpoint: LayerNorm `weight`/`bias` rather than the legacy
//! `gamma`/`beta`, no buffers, and tied duplicates left out as `transformers` saves them.

use std::collections::BTreeMap;

use tch::Tensor;

use super::CheckpointError;

/// A file key that duplicates another weight in HF models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TiedKey {
    /// The duplicate, often absent from files.
    pub key: &'static str,
    /// The weight it is tied to.
    pub source: &'static str,
    /// Whether the tie is the output-to-input embedding tie that `tie_word_embeddings:
    /// false` turns off (the decoder bias is always one tensor with the head's bias).
    pub word_embeddings: bool,
}

/// The tied keys of BERT, DistilBERT and RoBERTa masked-LM checkpoints.
pub const TIED_KEYS: &[TiedKey] = &[
    TiedKey {
        key: "cls.predictions.decoder.weight",
        source: "bert.embeddings.word_embeddings.weight",
        word_embeddings: true,
    },
    TiedKey {
        key: "cls.predictions.decoder.bias",
        source: "cls.predictions.bias",
        word_embeddings: false,
    },
    TiedKey {
        key: "vocab_projector.weight",
        source: "distilbert.embeddings.word_embeddings.weight",
        word_embeddings: true,
    },
    // roberta-base's file holds both duplicates; transformers 5 saves neither.
    TiedKey {
        key: "lm_head.decoder.weight",
        source: "roberta.embeddings.word_embeddings.weight",
        word_embeddings: true,
    },
    TiedKey {
        key: "lm_head.decoder.bias",
        source: "lm_head.bias",
        word_embeddings: false,
    },
];

/// Keys of which any one means a BERT, DistilBERT or RoBERTa checkpoint has its MLM head.
const MLM_HEAD_KEYS: [&str; 5] = [
    "cls.predictions.bias",
    "cls.predictions.decoder.bias",
    "vocab_projector.bias",
    "lm_head.bias",
    "lm_head.decoder.bias",
];

/// Whether a checkpoint holds an MLM head; sentence-embedding models (all-MiniLM-L6-v2) are
/// saved as a bare `BertModel` without one.
pub fn has_mlm_head<V>(tensors: &BTreeMap<String, V>) -> bool {
    MLM_HEAD_KEYS.iter().any(|k| tensors.contains_key(*k))
}

/// Whether a base-model checkpoint holds a pooler (`pooler.dense.weight`, with or without the
/// architecture's prefix, `bert.` or `roberta.`): heads that read no pooler are saved without.
pub fn has_pooler<V>(tensors: &BTreeMap<String, V>, prefix: &str) -> bool {
    const POOLER: &str = "pooler.dense.weight";
    tensors.contains_key(POOLER) || tensors.contains_key(&format!("{prefix}.{POOLER}"))
}

/// Whether an HF config ties the output embeddings to the input ones (`tie_word_embeddings`,
/// true unless set to false).
pub fn ties_word_embeddings(config: &serde_json::Value) -> bool {
    config
        .get("tie_word_embeddings")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

/// A checkpoint rewritten in canonical form, with what was changed.
#[derive(Debug)]
pub struct Canonical {
    pub tensors: BTreeMap<String, Tensor>,
    /// `(old key, new key)`.
    pub renamed: Vec<(String, String)>,
    /// Tied duplicates whose source is present, left out.
    pub dropped_tied: Vec<String>,
    /// Buffers (`*.position_ids`), left out.
    pub dropped_buffers: Vec<String>,
}

/// Rewrites a checkpoint's keys in canonical form. A tied duplicate whose source is absent
/// is renamed to the source, so nothing is lost; with `tie_word_embeddings` false the
/// embedding ties are kept as separate weights.
pub fn canonicalize(
    tensors: BTreeMap<String, Tensor>,
    tie_word_embeddings: bool,
) -> Result<Canonical, CheckpointError> {
    let mut out = Canonical {
        tensors: BTreeMap::new(),
        renamed: Vec::new(),
        dropped_tied: Vec::new(),
        dropped_buffers: Vec::new(),
    };
    if let Some((key, modern)) = tensors
        .keys()
        .map(|k| (k, modern_layer_norm_name(k)))
        .find(|(k, modern)| *k != modern && tensors.contains_key(modern))
    {
        return Err(CheckpointError::Conflict {
            key: key.clone(),
            other: modern,
        });
    }
    for (key, tensor) in tensors {
        if key.rsplit('.').next() == Some("position_ids") {
            out.dropped_buffers.push(key);
            continue;
        }
        let new_key = modern_layer_norm_name(&key);
        if new_key != key {
            out.renamed.push((key, new_key.clone()));
        }
        out.tensors.insert(new_key, tensor);
    }
    for tie in TIED_KEYS {
        if tie.word_embeddings && !tie_word_embeddings {
            continue;
        }
        let Some(duplicate) = out.tensors.remove(tie.key) else {
            continue;
        };
        if out.tensors.contains_key(tie.source) {
            out.dropped_tied.push(tie.key.to_string());
        } else {
            out.tensors.insert(tie.source.to_string(), duplicate);
            out.renamed
                .push((tie.key.to_string(), tie.source.to_string()));
        }
    }
    Ok(out)
}

/// `weight`/`bias` for a key ending in the legacy `gamma`/`beta`.
fn modern_layer_norm_name(key: &str) -> String {
    if let Some(stem) = key.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = key.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        key.to_string()
    }
}
