//! `RobertaForMaskedLM`: RoBERTa without pooler and the `lm_head`, whose decoder weight is
//! the word-embedding tensor itself.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{Activation, MaskedLmOutput, MlmHead, MlmHeadNames, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use tch::nn;
use tch::Tensor;

use crate::model::ROBERTA_PREFIX;
use crate::{RobertaConfig, RobertaModel};

/// `lm_head` (`RobertaLMHead`): `dense`, gelu, `layer_norm`, then the decoder sharing the word
/// embeddings' tensor, plus the variable `lm_head.bias`.
pub const ROBERTA_MLM_HEAD_NAMES: MlmHeadNames = MlmHeadNames {
    transform: "lm_head.dense",
    layer_norm: "lm_head.layer_norm",
    bias_module: "lm_head",
};

/// Mirrors `transformers.RobertaForMaskedLM` (DistilRoBERTa is this class with 6 layers).
#[derive(Debug)]
pub struct RobertaForMaskedLM {
    pub roberta: RobertaModel,
    pub lm_head: MlmHead,
    config: RobertaConfig,
}

impl RobertaForMaskedLM {
    pub fn new(p: nn::Path, config: &RobertaConfig) -> Self {
        let roberta = RobertaModel::new(&p / ROBERTA_PREFIX, config, false);
        let lm_head = MlmHead::new(
            &p,
            &ROBERTA_MLM_HEAD_NAMES,
            &roberta.embeddings.words.word_embeddings.ws,
            // `RobertaLMHead` calls the exact gelu whatever `hidden_act` says.
            Activation::Gelu,
            config.layer_norm_eps,
            config.initializer_range,
        );
        Self {
            roberta,
            lm_head,
            config: config.clone(),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        let encoder = self.roberta.forward_t(input, train);
        let logits = self.lm_head.forward(encoder.last_hidden_state());
        MaskedLmOutput { encoder, logits }
    }

    pub fn config(&self) -> &RobertaConfig {
        &self.config
    }
}

impl PretrainedModel for RobertaForMaskedLM {
    type Config = RobertaConfig;

    fn build(p: nn::Path, config: &RobertaConfig) -> Self {
        Self::new(p, config)
    }

    /// The tied `lm_head.decoder.*` keys of older files (roberta-base's) are among
    /// [`distil_core::checkpoint::TIED_KEYS`], which every spec skips or takes the bias from.
    fn load_spec() -> LoadSpec {
        LoadSpec::new(ROBERTA_PREFIX)
    }
}

impl LanguageModel for RobertaForMaskedLM {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.roberta.forward_t(input, train)
    }

    /// RoBERTa's MLM head has no dropout, so `train` changes nothing here.
    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        self.lm_head.forward(hidden)
    }

    fn hidden_size(&self) -> i64 {
        self.config.hidden_size
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
