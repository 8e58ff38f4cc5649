//! The masked-LM head BERT and DistilBERT both compute: a dense transform, the activation,
//! LayerNorm, then a decoder that is the word-embedding tensor itself, plus a bias.

use tch::nn::{self, Module};
use tch::Tensor;

use super::paths::sub_path;
use super::{layer_norm, linear, Activation};

/// Where the head's weights live, as dotted keys below the model's root.
#[derive(Debug, Clone, Copy)]
pub struct MlmHeadNames {
    pub transform: &'static str,
    pub layer_norm: &'static str,
    /// The module whose variable `bias` is the decoder's bias.
    pub bias_module: &'static str,
}

#[derive(Debug)]
pub struct MlmHead {
    pub transform: nn::Linear,
    pub layer_norm: nn::LayerNorm,
    /// Shares the word embeddings' tensor (HF's tie; not a second variable, so training
    /// updates one matrix).
    pub decoder_weight: Tensor,
    pub bias: Tensor,
    activation: Activation,
}

impl MlmHead {
    /// A head over `word_embeddings` (`[vocab, dim]`, whose shape gives the head's sizes).
    pub fn new(
        p: &nn::Path,
        names: &MlmHeadNames,
        word_embeddings: &Tensor,
        activation: Activation,
        layer_norm_eps: f64,
        init_range: f64,
    ) -> Self {
        let (vocab, dim) = (word_embeddings.size()[0], word_embeddings.size()[1]);
        Self {
            transform: linear(sub_path(p, names.transform), dim, dim, init_range),
            layer_norm: layer_norm(sub_path(p, names.layer_norm), dim, layer_norm_eps),
            decoder_weight: word_embeddings.shallow_clone(),
            bias: sub_path(p, names.bias_module).zeros("bias", &[vocab]),
            activation,
        }
    }

    /// Vocabulary logits `[..., vocab]` for hidden states `[..., dim]`. The head has no
    /// dropout.
    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        let transformed = self.activation.forward(&self.transform.forward(hidden));
        self.layer_norm
            .forward(&transformed)
            .linear(&self.decoder_weight, Some(&self.bias))
    }
}
