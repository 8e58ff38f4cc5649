//! `BertForMaskedLM`: BERT without pooler and the `cls.predictions` head, whose decoder
//! weight is the word-embedding tensor itself.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{MaskedLmOutput, MlmHead, MlmHeadNames, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use tch::nn;
use tch::Tensor;

use crate::{BertConfig, BertModel};

/// `cls.predictions`: `transform.dense`, activation, `transform.LayerNorm`, then the decoder
/// sharing the word embeddings' tensor, plus the variable `cls.predictions.bias`.
pub const BERT_MLM_HEAD_NAMES: MlmHeadNames = MlmHeadNames {
    transform: "cls.predictions.transform.dense",
    layer_norm: "cls.predictions.transform.LayerNorm",
    bias_module: "cls.predictions",
};

#[derive(Debug)]
pub struct BertForMaskedLM {
    pub bert: BertModel,
    pub predictions: MlmHead,
    config: BertConfig,
}

impl BertForMaskedLM {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let bert = BertModel::new(&p / "bert", config, false);
        let predictions = MlmHead::new(
            &p,
            &BERT_MLM_HEAD_NAMES,
            &bert.embeddings.words.word_embeddings.ws,
            config.hidden_act,
            config.layer_norm_eps,
            config.initializer_range,
        );
        Self {
            bert,
            predictions,
            config: config.clone(),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        let encoder = self.bert.forward_t(input, train);
        let logits = self.predictions.forward(encoder.last_hidden_state());
        MaskedLmOutput { encoder, logits }
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }
}

impl PretrainedModel for BertForMaskedLM {
    type Config = BertConfig;

    fn build(p: nn::Path, config: &BertConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new("bert")
    }
}

impl LanguageModel for BertForMaskedLM {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.bert.forward_t(input, train)
    }

    /// BERT's MLM head has no dropout, so `train` changes nothing here.
    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        self.predictions.forward(hidden)
    }

    fn hidden_size(&self) -> i64 {
        self.config.hidden_size
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
