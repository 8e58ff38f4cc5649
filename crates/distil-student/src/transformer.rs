//! DistilBERT's `Transformer`: post-norm `TransformerBlock`s of `MultiHeadSelfAttention`
//! (`q_lin`, `k_lin`, `v_lin`, `out_lin`) and `FFN` (`lin1`, `lin2`).

use distil_core::nn::{
    dropout, layer_norm, linear, Activation, AttentionMask, EncoderLayer, MultiHeadAttention,
};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::config::{DistilBertConfig, LAYER_NORM_EPS};

#[derive(Debug)]
pub struct MultiHeadSelfAttention {
    pub q_lin: nn::Linear,
    pub k_lin: nn::Linear,
    pub v_lin: nn::Linear,
    pub out_lin: nn::Linear,
    attention: MultiHeadAttention,
}

impl MultiHeadSelfAttention {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let (dim, init) = (config.dim, config.initializer_range);
        Self {
            q_lin: linear(&p / "q_lin", dim, dim, init),
            k_lin: linear(&p / "k_lin", dim, dim, init),
            v_lin: linear(&p / "v_lin", dim, dim, init),
            out_lin: linear(&p / "out_lin", dim, dim, init),
            attention: MultiHeadAttention {
                n_heads: config.n_heads,
                dropout: config.attention_dropout,
            },
        }
    }

    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        let (context, probs) = self.attention.forward(
            &self.q_lin.forward(hidden),
            &self.k_lin.forward(hidden),
            &self.v_lin.forward(hidden),
            mask,
            train,
            output_attentions,
        );
        (self.out_lin.forward(&context), probs)
    }
}

/// HF's `FFN`: `lin1`, activation, `lin2`, dropout.
#[derive(Debug)]
pub struct Ffn {
    pub lin1: nn::Linear,
    pub lin2: nn::Linear,
    activation: Activation,
    dropout: f64,
}

impl Ffn {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let init = config.initializer_range;
        Self {
            lin1: linear(&p / "lin1", config.dim, config.hidden_dim, init),
            lin2: linear(&p / "lin2", config.hidden_dim, config.dim, init),
            activation: config.activation,
            dropout: config.dropout,
        }
    }

    pub fn forward_t(&self, hidden: &Tensor, train: bool) -> Tensor {
        let inner = self.activation.forward(&self.lin1.forward(hidden));
        dropout(&self.lin2.forward(&inner), self.dropout, train)
    }
}

#[derive(Debug)]
pub struct TransformerBlock {
    pub attention: MultiHeadSelfAttention,
    pub sa_layer_norm: nn::LayerNorm,
    pub ffn: Ffn,
    pub output_layer_norm: nn::LayerNorm,
}

impl TransformerBlock {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self {
            attention: MultiHeadSelfAttention::new(&p / "attention", config),
            sa_layer_norm: layer_norm(&p / "sa_layer_norm", config.dim, LAYER_NORM_EPS),
            ffn: Ffn::new(&p / "ffn", config),
            output_layer_norm: layer_norm(&p / "output_layer_norm", config.dim, LAYER_NORM_EPS),
        }
    }
}

impl EncoderLayer for TransformerBlock {
    /// Post-norm: no dropout on the attention output (unlike BERT), as in `transformers`.
    fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        let (attended, probs) = self
            .attention
            .forward_t(hidden, mask, train, output_attentions);
        let sa_output = self.sa_layer_norm.forward(&(attended + hidden));
        let ffn_output = self.ffn.forward_t(&sa_output, train);
        (
            self.output_layer_norm.forward(&(ffn_output + sa_output)),
            probs,
        )
    }
}

#[derive(Debug)]
pub struct Transformer {
    pub layer: Vec<TransformerBlock>,
}

impl Transformer {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let layers = &p / "layer";
        Self {
            layer: (0..config.n_layers)
                .map(|i| TransformerBlock::new(&layers / i, config))
                .collect(),
        }
    }
}
