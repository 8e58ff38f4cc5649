//! `RobertaConfig`: the serde mirror of a RoBERTa (or DistilRoBERTa) `config.json` as
//! `transformers` writes it (`model_type: "roberta"`).

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::config::InvalidKey;
use distil_core::nn::{
    check_heads_divide, check_model_type, check_positive, check_tied_embeddings, label_count,
    read_config_file, Activation, HfConfig, LayerShape, ModelError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A RoBERTa config, mirroring `transformers.RobertaConfig`. The architecture keys are
/// required; the others take the defaults of `RobertaConfig` in transformers 5.24 (which are
/// not roberta-base's values: `type_vocab_size` 2, `layer_norm_eps` 1e-12). Keys this struct
/// does not know are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobertaConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    /// roberta-base has 514: positions start after the padding index (1).
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
    /// Also the padding index of the position embeddings; RoBERTa cannot do without one.
    #[serde(default = "defaults::pad_token_id")]
    pub pad_token_id: Option<i64>,
    /// Dropout in the sequence classifier; `None` means `hidden_dropout_prob`.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
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
    pub const PAD_TOKEN_ID: i64 = 1;
    pub fn pad_token_id() -> Option<i64> {
        Some(PAD_TOKEN_ID)
    }
    pub fn model_type() -> String {
        "roberta".to_string()
    }
}

/// Keys HF writes (false) that would make the model a causal decoder or add cross-attention
/// when true; only the bidirectional encoder is built here.
const UNSUPPORTED_FLAGS: [&str; 2] = ["is_decoder", "add_cross_attention"];

impl RobertaConfig {
    /// Reads `config.json` (a file, or the directory holding it).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        read_config_file(path)
    }

    /// Labels of a classification head: `id2label`'s size, else `num_labels`, else HF's 2.
    pub fn num_labels(&self) -> i64 {
        label_count(self.id2label.as_ref(), self.num_labels)
    }

    /// Dropout in the sequence classifier.
    pub fn classifier_dropout(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// The padding index of the word and position embeddings; [`HfConfig::validate`] has
    /// checked that there is one.
    pub fn padding_idx(&self) -> i64 {
        self.pad_token_id.unwrap_or(defaults::PAD_TOKEN_ID)
    }

    /// The sizes and rates of each encoder layer.
    pub fn layer_shape(&self) -> LayerShape {
        LayerShape {
            dim: self.hidden_size,
            n_heads: self.num_attention_heads,
            ffn_dim: self.intermediate_size,
            activation: self.hidden_act,
            attention_dropout: self.attention_probs_dropout_prob,
            attention_output_dropout: self.hidden_dropout_prob,
            ffn_dropout: self.hidden_dropout_prob,
            layer_norm_eps: self.layer_norm_eps,
            init_range: self.initializer_range,
        }
    }
}

impl HfConfig for RobertaConfig {
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
        check_padding_index(
            self.pad_token_id,
            self.vocab_size,
            self.max_position_embeddings,
        )?;
        check_absolute_positions(&self.extra)?;
        for flag in UNSUPPORTED_FLAGS {
            if self.extra.get(flag) == Some(&Value::Bool(true)) {
                return Err(InvalidKey::new(
                    flag,
                    "only the bidirectional encoder is supported",
                ));
            }
        }
        check_tied_embeddings(&self.extra)?;
        check_model_type(&self.model_type, "roberta")
    }
}

/// RoBERTa's positions count from the padding index, so it must exist and leave room for at
/// least one real position in both tables it indexes.
fn check_padding_index(
    pad_token_id: Option<i64>,
    vocab_size: i64,
    max_positions: i64,
) -> Result<(), InvalidKey> {
    let Some(pad) = pad_token_id else {
        return Err(InvalidKey::new(
            "pad_token_id",
            "RoBERTa derives its position ids from the padding token, which must be set",
        ));
    };
    if pad < 0 || pad >= vocab_size || pad + 1 >= max_positions {
        return Err(InvalidKey::new(
            "pad_token_id",
            format!(
                "{pad} must index the vocabulary ({vocab_size}) and leave positions after it \
                 (max_position_embeddings {max_positions})"
            ),
        ));
    }
    Ok(())
}

/// Configs written by transformers 4 may carry `position_embedding_type`; transformers 5
/// computes absolute positions only, and a relative-position checkpoint would be misread.
fn check_absolute_positions(extra: &Map<String, Value>) -> Result<(), InvalidKey> {
    match extra.get("position_embedding_type") {
        None => Ok(()),
        Some(Value::String(kind)) if kind == "absolute" => Ok(()),
        Some(other) => Err(InvalidKey::new(
            "position_embedding_type",
            format!("only \"absolute\" is supported, found {other}"),
        )),
    }
}
