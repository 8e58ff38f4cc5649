//! `BertModel`: embeddings, encoder and the optional pooler.

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::checkpoint::{has_pooler, LoadSpec};
use distil_core::nn::{
    build_and_load, linear, read_config_file, read_weights, Encoder, ModelError, Pretrained,
};
use distil_core::{EncoderInput, EncoderOutput};
use tch::nn::{self, Module};
use tch::{Device, Tensor};

use crate::embeddings::BertEmbeddings;
use crate::layer::bert_encoder;
use crate::BertConfig;

/// `pooler.dense` and tanh on the first ([CLS]) token.
#[derive(Debug)]
pub struct BertPooler {
    pub dense: nn::Linear,
}

impl BertPooler {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let dim = config.hidden_size;
        Self {
            dense: linear(&p / "dense", dim, dim, config.initializer_range),
        }
    }

    /// `[batch, seq, hidden]` to `[batch, hidden]`.
    pub fn forward(&self, hidden: &Tensor) -> Tensor {
        self.dense.forward(&hidden.select(1, 0)).tanh()
    }
}

#[derive(Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub encoder: Encoder,
    pub pooler: Option<BertPooler>,
}

impl BertModel {
    /// `add_pooling_layer` as in HF: the MLM and QA heads build BERT without a pooler.
    pub fn new(p: nn::Path, config: &BertConfig, add_pooling_layer: bool) -> Self {
        Self {
            embeddings: BertEmbeddings::new(&p / "embeddings", config),
            encoder: bert_encoder(&p / "encoder", config),
            pooler: add_pooling_layer.then(|| BertPooler::new(&p / "pooler", config)),
        }
    }

    /// Every hidden state (embeddings, then each layer) and, when asked for, the attentions.
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        let embeddings = self.embeddings.forward_t(input, train);
        self.encoder.forward_t(embeddings, input, train)
    }

    /// The pooler's output for an encoder output, when this model has a pooler.
    pub fn pooled(&self, output: &EncoderOutput) -> Option<Tensor> {
        self.pooler
            .as_ref()
            .map(|pooler| pooler.forward(output.last_hidden_state()))
    }

    /// Loads a base model (keys with or without `bert.`); the pooler is built when the
    /// checkpoint has one.
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, BertConfig>, ModelError> {
        let config: BertConfig = read_config_file(&dir.join("config.json"))?;
        let (file, tensors) = read_weights(dir)?;
        Self::from_tensors(config, &tensors, &file, device)
    }

    pub fn from_tensors(
        config: BertConfig,
        tensors: &BTreeMap<String, Tensor>,
        file: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, BertConfig>, ModelError> {
        let has_pooler = has_pooler(tensors, "bert");
        let spec = LoadSpec::new("bert");
        build_and_load(config, tensors, file, &spec, device, |p, c| {
            BertModel::new(p, c, has_pooler)
        })
    }
}
