//! `DistilBertForMaskedLM`: `vocab_transform`, activation, `vocab_layer_norm` and
//! `vocab_projector`, whose weight is the word-embedding tensor itself.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{
    layer_norm, linear, Activation, MaskedLmOutput, ModelError, PretrainedModel,
};
use distil_core::{EncoderInput, EncoderOutput, MaskedLanguageModel};
use tch::nn::{self, Module, VarStore};
use tch::Tensor;

use crate::config::LAYER_NORM_EPS;
use crate::{DistilBertConfig, DistilBertModel};

#[derive(Debug)]
pub struct DistilBertForMaskedLM {
    pub distilbert: DistilBertModel,
    pub vocab_transform: nn::Linear,
    pub vocab_layer_norm: nn::LayerNorm,
    /// Shares the tensor of `distilbert.embeddings.word_embeddings.weight` (HF's tie; not a
    /// second variable, so training updates one matrix).
    pub vocab_projector_weight: Tensor,
    /// The variable `vocab_projector.bias`.
    pub vocab_projector_bias: Tensor,
    activation: Activation,
    config: DistilBertConfig,
}

impl DistilBertForMaskedLM {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let distilbert = DistilBertModel::new(&p / "distilbert", config);
        let vocab_projector_weight = distilbert.embeddings.word_embeddings.ws.shallow_clone();
        let dim = config.dim;
        Self {
            vocab_transform: linear(&p / "vocab_transform", dim, dim, config.initializer_range),
            vocab_layer_norm: layer_norm(&p / "vocab_layer_norm", dim, LAYER_NORM_EPS),
            vocab_projector_weight,
            vocab_projector_bias: (&p / "vocab_projector").zeros("bias", &[config.vocab_size]),
            activation: config.activation,
            distilbert,
            config: config.clone(),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        let encoder = self.distilbert.forward_t(input, train);
        let logits = self.mlm_logits(encoder.last_hidden_state(), train);
        MaskedLmOutput { encoder, logits }
    }

    pub fn config(&self) -> &DistilBertConfig {
        &self.config
    }

    /// See [`crate::embeddings::Embeddings::freeze_position_embeddings`].
    pub fn freeze_position_embeddings(&self, vs: &VarStore) -> Result<(), ModelError> {
        self.distilbert.embeddings.freeze_position_embeddings(vs)
    }
}

impl PretrainedModel for DistilBertForMaskedLM {
    type Config = DistilBertConfig;

    fn build(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new("distilbert")
    }
}

impl MaskedLanguageModel for DistilBertForMaskedLM {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.distilbert.forward_t(input, train)
    }

    /// The head has no dropout, so `train` changes nothing here.
    fn mlm_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        let transformed = self
            .activation
            .forward(&self.vocab_transform.forward(hidden));
        self.vocab_layer_norm.forward(&transformed).linear(
            &self.vocab_projector_weight,
            Some(&self.vocab_projector_bias),
        )
    }

    fn hidden_size(&self) -> i64 {
        self.config.dim
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
