//! `BertLayer` (attention, `intermediate`, `output`) and `BertEncoder` (the layer stack).

use distil_core::nn::{linear, Activation, AttentionMask, EncoderLayer};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::attention::{BertAttention, BertSelfOutput};
use crate::BertConfig;

/// `intermediate.dense` followed by the configured activation.
#[derive(Debug)]
pub struct BertIntermediate {
    pub dense: nn::Linear,
    activation: Activation,
}

impl BertIntermediate {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            dense: linear(
                &p / "dense",
                config.hidden_size,
                config.intermediate_size,
                config.initializer_range,
            ),
            activation: config.hidden_act,
        }
    }

    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        self.activation.forward(&self.dense.forward(hidden))
    }
}

/// The feed-forward output block has the same shape of computation as the attention's
/// output (dense, dropout, residual LayerNorm), from the intermediate width.
pub type BertOutput = BertSelfOutput;

#[derive(Debug)]
pub struct BertLayer {
    pub attention: BertAttention,
    pub intermediate: BertIntermediate,
    pub output: BertOutput,
}

impl BertLayer {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            attention: BertAttention::new(&p / "attention", config),
            intermediate: BertIntermediate::new(&p / "intermediate", config),
            output: BertOutput::new(&p / "output", config, config.intermediate_size),
        }
    }
}

impl EncoderLayer for BertLayer {
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
        let intermediate = self.intermediate.forward(&attended);
        (
            self.output.forward_t(&intermediate, &attended, train),
            probs,
        )
    }
}

#[derive(Debug)]
pub struct BertEncoder {
    pub layer: Vec<BertLayer>,
}

impl BertEncoder {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let layers = &p / "layer";
        Self {
            layer: (0..config.num_hidden_layers)
                .map(|i| BertLayer::new(&layers / i, config))
                .collect(),
        }
    }
}
