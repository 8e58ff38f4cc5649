//! `DistilBertForMaskedLM`: `vocab_transform`, activation, `vocab_layer_norm` and
//! `vocab_projector`, whose weight is the word-embedding tensor itself.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{MaskedLmOutput, MlmHead, MlmHeadNames, ModelError, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use tch::nn::{self, VarStore};
use tch::Tensor;

use crate::config::LAYER_NORM_EPS;
use crate::{DistilBertConfig, DistilBertModel};

/// `vocab_transform`, activation, `vocab_layer_norm`, then `vocab_projector`: the word
/// embeddings' tensor and the variable `vocab_projector.bias`.
pub const DISTILBERT_MLM_HEAD_NAMES: MlmHeadNames = MlmHeadNames {
    transform: "vocab_transform",
    layer_norm: "vocab_layer_norm",
    bias_module: "vocab_projector",
};

#[derive(Debug)]
pub struct DistilBertForMaskedLM {
    pub distilbert: DistilBertModel,
    pub vocab_head: MlmHead,
    config: DistilBertConfig,
}

impl DistilBertForMaskedLM {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let distilbert = DistilBertModel::new(&p / "distilbert", config);
        let vocab_head = MlmHead::new(
            &p,
            &DISTILBERT_MLM_HEAD_NAMES,
            &distilbert.embeddings.words.word_embeddings.ws,
            config.activation,
            LAYER_NORM_EPS,
            config.initializer_range,
        );
        Self {
            distilbert,
            vocab_head,
            config: config.clone(),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        let encoder = self.distilbert.forward_t(input, train);
        let logits = self.vocab_logits(encoder.last_hidden_state(), train);
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

impl LanguageModel for DistilBertForMaskedLM {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.distilbert.forward_t(input, train)
    }

    /// The head has no dropout, so `train` changes nothing here.
    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        self.vocab_head.forward(hidden)
    }

    fn hidden_size(&self) -> i64 {
        self.config.dim
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
