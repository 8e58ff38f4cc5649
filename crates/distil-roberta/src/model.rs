//! `RobertaModel`: embeddings, encoder and the optional pooler.

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::checkpoint::{has_pooler, LoadSpec};
use distil_core::nn::{
    build_and_load, linear, read_config_file, read_weights, Encoder, ModelError, Pretrained,
};
use distil_core::{EncoderInput, EncoderOutput};
use distil_teacher::model::BertPooler;
use tch::nn;
use tch::{Device, Tensor};

use crate::embeddings::RobertaEmbeddings;
use crate::encoder::roberta_encoder;
use crate::RobertaConfig;

/// The base model's weight-path segment in HF checkpoints with a head.
pub const ROBERTA_PREFIX: &str = "roberta";

/// Mirrors `transformers.RobertaModel`; its pooler (`pooler.dense` and tanh on `<s>`) is
/// BERT's.
#[derive(Debug)]
pub struct RobertaModel {
    pub embeddings: RobertaEmbeddings,
    pub encoder: Encoder,
    pub pooler: Option<BertPooler>,
}

impl RobertaModel {
    /// `add_pooling_layer` as in HF: every head builds RoBERTa without a pooler.
    pub fn new(p: nn::Path, config: &RobertaConfig, add_pooling_layer: bool) -> Self {
        let dim = config.hidden_size;
        Self {
            embeddings: RobertaEmbeddings::new(&p / "embeddings", config),
            encoder: roberta_encoder(&p / "encoder", config),
            pooler: add_pooling_layer.then(|| BertPooler {
                dense: linear(&p / "pooler" / "dense", dim, dim, config.initializer_range),
            }),
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

    /// Loads a base model (keys with or without `roberta.`); the pooler is built when the
    /// checkpoint has one.
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, RobertaConfig>, ModelError> {
        let config: RobertaConfig = read_config_file(&dir.join("config.json"))?;
        let (file, tensors) = read_weights(dir)?;
        Self::from_tensors(config, &tensors, &file, device)
    }

    pub fn from_tensors(
        config: RobertaConfig,
        tensors: &BTreeMap<String, Tensor>,
        file: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, RobertaConfig>, ModelError> {
        let has_pooler = has_pooler(tensors, ROBERTA_PREFIX);
        let spec = LoadSpec::new(ROBERTA_PREFIX);
        build_and_load(config, tensors, file, &spec, device, |p, c| {
            RobertaModel::new(p, c, has_pooler)
        })
    }
}
