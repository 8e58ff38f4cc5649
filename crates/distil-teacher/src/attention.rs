//! `BertAttention`: self-attention (`self.query/key/value`) and its output block
//! (`output.dense`, dropout, residual LayerNorm).

use distil_core::nn::{dropout, layer_norm, linear, AttentionMask, MultiHeadAttention};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::BertConfig;

#[derive(Debug)]
pub struct BertSelfAttention {
    pub query: nn::Linear,
    pub key: nn::Linear,
    pub value: nn::Linear,
    attention: MultiHeadAttention,
}

impl BertSelfAttention {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let (dim, init) = (config.hidden_size, config.initializer_range);
        Self {
            query: linear(&p / "query", dim, dim, init),
            key: linear(&p / "key", dim, dim, init),
            value: linear(&p / "value", dim, dim, init),
            attention: MultiHeadAttention {
                n_heads: config.num_attention_heads,
                dropout: config.attention_probs_dropout_prob,
            },
        }
    }

    /// The context `[batch, seq, hidden]` and, when asked for, the attention probabilities.
    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        self.attention.forward(
            &self.query.forward(hidden),
            &self.key.forward(hidden),
            &self.value.forward(hidden),
            mask,
            train,
            output_attentions,
        )
    }
}

/// `dense`, dropout, then LayerNorm of the sum with the block's input (post-norm).
#[derive(Debug)]
pub struct BertSelfOutput {
    pub dense: nn::Linear,
    /// HF `LayerNorm`.
    pub layer_norm: nn::LayerNorm,
    dropout: f64,
}

impl BertSelfOutput {
    pub fn new(p: nn::Path, config: &BertConfig, in_dim: i64) -> Self {
        Self {
            dense: linear(
                &p / "dense",
                in_dim,
                config.hidden_size,
                config.initializer_range,
            ),
            layer_norm: layer_norm(&p / "LayerNorm", config.hidden_size, config.layer_norm_eps),
            dropout: config.hidden_dropout_prob,
        }
    }

    pub fn forward_t(&self, hidden: &Tensor, residual: &Tensor, train: bool) -> Tensor {
        let projected = dropout(&self.dense.forward(hidden), self.dropout, train);
        self.layer_norm.forward(&(projected + residual))
    }
}

#[derive(Debug)]
pub struct BertAttention {
    pub self_attention: BertSelfAttention,
    pub output: BertSelfOutput,
}

impl BertAttention {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            self_attention: BertSelfAttention::new(&p / "self", config),
            output: BertSelfOutput::new(&p / "output", config, config.hidden_size),
        }
    }

    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        let (context, probs) =
            self.self_attention
                .forward_t(hidden, mask, train, output_attentions);
        (self.output.forward_t(&context, hidden, train), probs)
    }
}
