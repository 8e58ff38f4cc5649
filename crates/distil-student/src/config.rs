//! `DistilBertConfig`: the serde mirror of a DistilBERT `config.json`.

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::config::InvalidKey;
use distil_core::nn::{
    check_heads_divide, check_model_type, check_positive, check_tied_embeddings, label_count,
    read_config_file, Activation, HfConfig, ModelError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// LayerNorm eps of every DistilBERT LayerNorm (fixed in `transformers`, not a config key).
pub const LAYER_NORM_EPS: f64 = 1e-12;

/// A DistilBERT config. The architecture keys are required; the others take HF's defaults.
/// Unknown keys are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistilBertConfig {
    pub vocab_size: i64,
    pub dim: i64,
    pub n_layers: i64,
    pub n_heads: i64,
    pub hidden_dim: i64,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: i64,
    #[serde(default)]
    pub sinusoidal_pos_embds: bool,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default = "defaults::dropout")]
    pub dropout: f64,
    #[serde(default = "defaults::dropout")]
    pub attention_dropout: f64,
    #[serde(default = "defaults::dropout")]
    pub qa_dropout: f64,
    #[serde(default = "defaults::seq_classif_dropout")]
    pub seq_classif_dropout: f64,
    #[serde(default = "defaults::tie_weights")]
    pub tie_weights_: bool,
    #[serde(default = "defaults::pad_token_id")]
    pub pad_token_id: Option<i64>,
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "defaults::model_type")]
    pub model_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

mod defaults {
    pub fn max_position_embeddings() -> i64 {
        512
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn seq_classif_dropout() -> f64 {
        0.2
    }
    pub fn tie_weights() -> bool {
        true
    }
    pub fn pad_token_id() -> Option<i64> {
        Some(0)
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn model_type() -> String {
        "distilbert".to_string()
    }
}

impl DistilBertConfig {
    /// Reads `config.json` (a file, or the directory holding it).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        read_config_file(path)
    }

    /// Labels of a classification head: `id2label`'s size, else `num_labels`, else HF's 2.
    pub fn num_labels(&self) -> i64 {
        label_count(self.id2label.as_ref(), self.num_labels)
    }
}

impl HfConfig for DistilBertConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("dim", self.dim),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("hidden_dim", self.hidden_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ])?;
        check_heads_divide(("n_heads", self.n_heads), ("dim", self.dim))?;
        check_model_type(&self.model_type, "distilbert")?;
        check_tied_embeddings(&self.extra)
    }
}
