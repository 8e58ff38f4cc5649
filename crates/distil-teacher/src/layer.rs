//! BERT's encoder: the shared transformer layer under BERT's weight names
//! (`attention.self.query`, `attention.output.dense`, `intermediate.dense`, `output.dense`, ...).

use distil_core::nn::{Encoder, LayerNames, LayerShape};
use tch::nn;

use crate::BertConfig;

/// Each weight of a `BertLayer` below `encoder.layer.N`.
pub const BERT_LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    output_norm: "output.LayerNorm",
};

/// `BertEncoder`: `config.num_hidden_layers` layers below `p`.
pub fn bert_encoder(p: nn::Path, config: &BertConfig) -> Encoder {
    let shape = LayerShape {
        dim: config.hidden_size,
        n_heads: config.num_attention_heads,
        ffn_dim: config.intermediate_size,
        activation: config.hidden_act,
        attention_dropout: config.attention_probs_dropout_prob,
        attention_output_dropout: config.hidden_dropout_prob,
        ffn_dropout: config.hidden_dropout_prob,
        layer_norm_eps: config.layer_norm_eps,
        init_range: config.initializer_range,
    };
    Encoder::new(p, config.num_hidden_layers, &BERT_LAYER_NAMES, &shape)
}
