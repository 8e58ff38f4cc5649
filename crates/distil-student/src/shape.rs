//! A student of any depth, width, head count and feed-forward size (`student.shape` in a run
//! config), as TinyBERT's and MiniLM's students are: a DistilBERT config whose vocabulary,
//! positions, activation and dropouts follow the teacher.

use distil_core::config::InvalidKey;
use distil_teacher::BertConfig;
use serde::{Deserialize, Serialize};

use crate::DistilBertConfig;

/// The sizes of a student, in DistilBERT's `config.json` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentShape {
    pub n_layers: i64,
    /// Hidden width.
    pub dim: i64,
    pub n_heads: i64,
    /// The feed-forward block's inner width.
    pub hidden_dim: i64,
}

impl StudentShape {
    /// The teacher's widths with `n_layers` layers (DistilBERT's halving of depth).
    pub fn of_teacher(teacher: &BertConfig, n_layers: i64) -> Self {
        Self {
            n_layers,
            dim: teacher.hidden_size,
            n_heads: teacher.num_attention_heads,
            hidden_dim: teacher.intermediate_size,
        }
    }

    /// Every size positive and the heads dividing the width; `key` is where the shape sits in
    /// the run config (`student.shape`).
    pub fn validate(&self, key: &str) -> Result<(), InvalidKey> {
        let sizes = [
            ("n_layers", self.n_layers),
            ("dim", self.dim),
            ("n_heads", self.n_heads),
            ("hidden_dim", self.hidden_dim),
        ];
        for (name, value) in sizes {
            if value < 1 {
                return Err(InvalidKey::new(
                    format!("{key}.{name}"),
                    format!("must be at least 1, found {value}"),
                ));
            }
        }
        if self.dim % self.n_heads != 0 {
            return Err(InvalidKey::new(
                format!("{key}.n_heads"),
                format!(
                    "must divide dim: {} heads do not split a width of {}",
                    self.n_heads, self.dim
                ),
            ));
        }
        Ok(())
    }

    /// The student's config: this shape, with the teacher's vocabulary, positions,
    /// activation, dropouts and init range (HF's renaming: `hidden_size` to `dim`, ...).
    pub fn config(&self, teacher: &BertConfig) -> DistilBertConfig {
        DistilBertConfig {
            vocab_size: teacher.vocab_size,
            dim: self.dim,
            n_layers: self.n_layers,
            n_heads: self.n_heads,
            hidden_dim: self.hidden_dim,
            max_position_embeddings: teacher.max_position_embeddings,
            sinusoidal_pos_embds: false,
            activation: teacher.hidden_act,
            dropout: teacher.hidden_dropout_prob,
            attention_dropout: teacher.attention_probs_dropout_prob,
            qa_dropout: 0.1,
            seq_classif_dropout: 0.2,
            tie_weights_: true,
            pad_token_id: teacher.pad_token_id,
            initializer_range: teacher.initializer_range,
            model_type: "distilbert".to_string(),
            architectures: Some(vec!["DistilBertForMaskedLM".to_string()]),
            id2label: None,
            num_labels: None,
            extra: Default::default(),
        }
    }
}
