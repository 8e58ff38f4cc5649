//! The post-norm transformer layer that BERT and DistilBERT both compute: self-attention, an
//! output projection added to the input and normalised, then a feed-forward block added and
//! normalised. Only the weight names differ, so the parent passes them in ([`LayerNames`]) and
//! the store's keys stay each architecture's HF keys.

use tch::nn::{self, Module};
use tch::Tensor;

use crate::AttentionProjections;

use super::paths::sub_path;
use super::{dropout, layer_norm, linear, Activation, AttentionMask, MultiHeadAttention};

/// Where each weight of a layer lives, as dotted keys below the layer's path.
#[derive(Debug, Clone, Copy)]
pub struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    /// The projection of the attention's context back to the hidden width.
    pub attention_output: &'static str,
    pub attention_norm: &'static str,
    pub ffn_in: &'static str,
    pub ffn_out: &'static str,
    pub output_norm: &'static str,
}

/// The sizes and rates of a layer, from the architecture's config.
#[derive(Debug, Clone, Copy)]
pub struct LayerShape {
    pub dim: i64,
    pub n_heads: i64,
    /// The feed-forward block's inner width.
    pub ffn_dim: i64,
    pub activation: Activation,
    /// On the attention probabilities.
    pub attention_dropout: f64,
    /// On the attention's output projection (DistilBERT has none: 0).
    pub attention_output_dropout: f64,
    /// On the feed-forward block's output.
    pub ffn_dropout: f64,
    pub layer_norm_eps: f64,
    pub init_range: f64,
}

/// `dense`, dropout, then LayerNorm of the sum with the block's input (post-norm).
#[derive(Debug)]
pub struct ResidualNorm {
    pub dense: nn::Linear,
    pub layer_norm: nn::LayerNorm,
    dropout: f64,
}

impl ResidualNorm {
    fn new(dense: nn::Path, norm: nn::Path, in_dim: i64, dropout: f64, shape: &LayerShape) -> Self {
        Self {
            dense: linear(dense, in_dim, shape.dim, shape.init_range),
            layer_norm: layer_norm(norm, shape.dim, shape.layer_norm_eps),
            dropout,
        }
    }

    pub fn forward_t(&self, hidden: &Tensor, residual: &Tensor, train: bool) -> Tensor {
        let projected = dropout(&self.dense.forward(hidden), self.dropout, train);
        self.layer_norm.forward(&(projected + residual))
    }
}

#[derive(Debug)]
pub struct TransformerLayer {
    pub query: nn::Linear,
    pub key: nn::Linear,
    pub value: nn::Linear,
    attention: MultiHeadAttention,
    /// The projection of the attention's context, added to the layer's input and normalised.
    pub attention_output: ResidualNorm,
    pub ffn_in: nn::Linear,
    pub ffn_out: ResidualNorm,
    activation: Activation,
}

impl TransformerLayer {
    pub fn new(p: &nn::Path, names: &LayerNames, shape: &LayerShape) -> Self {
        let at = |name| sub_path(p, name);
        let project = |name| linear(at(name), shape.dim, shape.dim, shape.init_range);
        Self {
            query: project(names.query),
            key: project(names.key),
            value: project(names.value),
            attention: MultiHeadAttention {
                n_heads: shape.n_heads,
                dropout: shape.attention_dropout,
            },
            attention_output: ResidualNorm::new(
                at(names.attention_output),
                at(names.attention_norm),
                shape.dim,
                shape.attention_output_dropout,
                shape,
            ),
            ffn_in: linear(at(names.ffn_in), shape.dim, shape.ffn_dim, shape.init_range),
            ffn_out: ResidualNorm::new(
                at(names.ffn_out),
                at(names.output_norm),
                shape.ffn_dim,
                shape.ffn_dropout,
                shape,
            ),
            activation: shape.activation,
        }
    }

    /// The layer's output and, when asked for, its attention probabilities and its query,
    /// key and value projections.
    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output: LayerOutputs,
    ) -> LayerOutput {
        let projections = AttentionProjections {
            query: self.query.forward(hidden),
            key: self.key.forward(hidden),
            value: self.value.forward(hidden),
        };
        let (context, attention) =
            self.attention
                .attend(&projections, mask, train, output.attentions);
        let attended = self.attention_output.forward_t(&context, hidden, train);
        let inner = self.activation.forward(&self.ffn_in.forward(&attended));
        LayerOutput {
            hidden: self.ffn_out.forward_t(&inner, &attended, train),
            attention,
            projections: output.projections.then_some(projections),
        }
    }
}

/// What a layer returns besides its output.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerOutputs {
    /// The attention probabilities (computed on the eager path).
    pub attentions: bool,
    pub projections: bool,
}

/// A layer's output, and what [`LayerOutputs`] asked for.
#[derive(Debug)]
pub struct LayerOutput {
    pub hidden: Tensor,
    pub attention: Option<Tensor>,
    pub projections: Option<AttentionProjections>,
}
