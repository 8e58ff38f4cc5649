//! `RobertaClassificationHead`: the sentence classifier on the `<s>` token, which RoBERTa
//! computes itself rather than through a pooler.

use distil_core::nn::{dropout, linear, SequenceClassifierOutput};
use distil_core::EncoderOutput;
use tch::nn::{self, Module};

use crate::RobertaConfig;

/// Mirrors `transformers.models.roberta.modeling_roberta.RobertaClassificationHead`: dropout,
/// `dense`, tanh, dropout, `out_proj`, under `classifier`.
#[derive(Debug)]
pub struct RobertaClassificationHead {
    pub dense: nn::Linear,
    pub out_proj: nn::Linear,
    dropout: f64,
}

impl RobertaClassificationHead {
    /// The variables `dense` and `out_proj` below `p` (the model's `classifier`).
    pub fn new(p: nn::Path, config: &RobertaConfig) -> Self {
        let (dim, init) = (config.hidden_size, config.initializer_range);
        Self {
            dense: linear(&p / "dense", dim, dim, init),
            out_proj: linear(&p / "out_proj", dim, config.num_labels(), init),
            dropout: config.classifier_dropout(),
        }
    }

    /// Logits `[batch, num_labels]` from the first token of the last hidden state.
    pub fn forward_t(&self, encoder: EncoderOutput, train: bool) -> SequenceClassifierOutput {
        let first = encoder.last_hidden_state().select(1, 0);
        let pooled = self
            .dense
            .forward(&dropout(&first, self.dropout, train))
            .tanh();
        let logits = self
            .out_proj
            .forward(&dropout(&pooled, self.dropout, train));
        SequenceClassifierOutput { encoder, logits }
    }
}
