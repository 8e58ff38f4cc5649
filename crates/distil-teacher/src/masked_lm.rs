//! `BertForMaskedLM`: BERT without pooler and the `cls.predictions` head, whose decoder
//! weight is the word-embedding tensor itself.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{layer_norm, linear, Activation, MaskedLmOutput, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput, MaskedLanguageModel};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::{BertConfig, BertModel};

/// `transform.dense`, activation, `transform.LayerNorm`.
#[derive(Debug)]
pub struct BertPredictionHeadTransform {
    pub dense: nn::Linear,
    /// HF `LayerNorm`.
    pub layer_norm: nn::LayerNorm,
    activation: Activation,
}

impl BertPredictionHeadTransform {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let dim = config.hidden_size;
        Self {
            dense: linear(&p / "dense", dim, dim, config.initializer_range),
            layer_norm: layer_norm(&p / "LayerNorm", dim, config.layer_norm_eps),
            activation: config.hidden_act,
        }
    }

    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        self.layer_norm
            .forward(&self.activation.forward(&self.dense.forward(hidden)))
    }
}

/// `cls.predictions`: the transform, then a decoder sharing the word embeddings' tensor
/// (not a second variable, so training updates one matrix, as HF's tie does) plus the
/// variable `cls.predictions.bias`.
#[derive(Debug)]
pub struct BertLMPredictionHead {
    pub transform: BertPredictionHeadTransform,
    pub decoder_weight: Tensor,
    pub bias: Tensor,
}

impl BertLMPredictionHead {
    pub fn new(p: nn::Path, config: &BertConfig, word_embeddings: &Tensor) -> Self {
        Self {
            transform: BertPredictionHeadTransform::new(&p / "transform", config),
            decoder_weight: word_embeddings.shallow_clone(),
            bias: p.zeros("bias", &[config.vocab_size]),
        }
    }

    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        self.transform
            .forward(hidden)
            .linear(&self.decoder_weight, Some(&self.bias))
    }
}

#[derive(Debug)]
pub struct BertForMaskedLM {
    pub bert: BertModel,
    pub predictions: BertLMPredictionHead,
    config: BertConfig,
}

impl BertForMaskedLM {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let bert = BertModel::new(&p / "bert", config, false);
        let predictions = BertLMPredictionHead::new(
            &p / "cls" / "predictions",
            config,
            &bert.embeddings.word_embeddings.ws,
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

impl MaskedLanguageModel for BertForMaskedLM {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.bert.forward_t(input, train)
    }

    /// BERT's MLM head has no dropout, so `train` changes nothing here.
    fn mlm_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        self.predictions.forward(hidden)
    }

    fn hidden_size(&self) -> i64 {
        self.config.hidden_size
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
