//! `BertConfig`: the serde mirror of a BERT `config.json` as `transformers` writes it.

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::config::InvalidKey;
use distil_core::nn::{
    check_heads_divide, check_model_type, check_positive, check_tied_embeddings, label_count,
    read_config_file, Activation, HfConfig, ModelError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A BERT config. The architecture keys are required; the others take HF's defaults. Keys this
/// struct does not know are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    #[serde(default)]
    pub hidden_act: Activation,
    #[serde(default = "defaults::dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "defaults::dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "defaults::type_vocab_size")]
    pub type_vocab_size: i64,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "defaults::pad_token_id")]
    pub pad_token_id: Option<i64>,
    /// Dropout before the sequence classifier; `None` means `hidden_dropout_prob`.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    #[serde(default = "defaults::position_embedding_type")]
    pub position_embedding_type: String,
    #[serde(default = "defaults::model_type")]
    pub model_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// HF writes the label count through `id2label`; `num_labels` is accepted as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

mod defaults {
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn type_vocab_size() -> i64 {
        2
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn pad_token_id() -> Option<i64> {
        Some(0)
    }
    pub fn position_embedding_type() -> String {
        "absolute".to_string()
    }
    pub fn model_type() -> String {
        "bert".to_string()
    }
}

impl BertConfig {
    /// Reads `config.json` (a file, or the directory holding it).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        read_config_file(path)
    }

    /// Labels of a classification head: `id2label`'s size, else `num_labels`, else HF's 2.
    pub fn num_labels(&self) -> i64 {
        label_count(self.id2label.as_ref(), self.num_labels)
    }

    /// Dropout before the sequence classifier.
    pub fn classifier_dropout(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }
}

impl HfConfig for BertConfig {
    fn validate(&self) -> Result<(), InvalidKey> {
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ])?;
        check_heads_divide(
            ("num_attention_heads", self.num_attention_heads),
            ("hidden_size", self.hidden_size),
        )?;
        if self.position_embedding_type != "absolute" {
            return Err(InvalidKey::new(
                "position_embedding_type",
                format!(
                    "only \"absolute\" is supported, found \"{}\"",
                    self.position_embedding_type
                ),
            ));
        }
        check_tied_embeddings(&self.extra)?;
        check_model_type(&self.model_type, "bert")
    }
}
