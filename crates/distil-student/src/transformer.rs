//! DistilBERT's `Transformer`: the shared post-norm transformer layer under DistilBERT's weight
//! names (`attention.q_lin`, `attention.out_lin`, `sa_layer_norm`, `ffn.lin1`, ...).

use distil_core::nn::{Encoder, LayerNames, LayerShape};
use tch::nn;

use crate::config::{DistilBertConfig, LAYER_NORM_EPS};

/// Each weight of a `TransformerBlock` below `transformer.layer.N`.
pub const DISTILBERT_LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    ffn_in: "ffn.lin1",
    ffn_out: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// `Transformer`: `config.n_layers` blocks below `p`.
pub fn distilbert_transformer(p: nn::Path, config: &DistilBertConfig) -> Encoder {
    let shape = LayerShape {
        dim: config.dim,
        n_heads: config.n_heads,
        ffn_dim: config.hidden_dim,
        activation: config.activation,
        attention_dropout: config.attention_dropout,
        // Unlike BERT, no dropout on the attention's output, as in `transformers`.
        attention_output_dropout: 0.0,
        ffn_dropout: config.dropout,
        layer_norm_eps: LAYER_NORM_EPS,
        init_range: config.initializer_range,
    };
    Encoder::new(p, config.n_layers, &DISTILBERT_LAYER_NAMES, &shape)
}
