//! `DistilBertModel`: embeddings and transformer; no pooler, no token types.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{Encoder, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput};
use tch::nn;

use crate::embeddings::Embeddings;
use crate::transformer::distilbert_transformer;
use crate::DistilBertConfig;

#[derive(Debug)]
pub struct DistilBertModel {
    pub embeddings: Embeddings,
    pub transformer: Encoder,
}

impl DistilBertModel {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self {
            embeddings: Embeddings::new(&p / "embeddings", config),
            transformer: distilbert_transformer(&p / "transformer", config),
        }
    }

    /// Every hidden state (embeddings, then each layer) and, when asked for, the attentions.
    /// `token_type_ids` are ignored: DistilBERT has no segment embeddings.
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        let embeddings = self.embeddings.forward_t(input.input_ids, train);
        self.transformer.forward_t(embeddings, input, train)
    }
}

impl PretrainedModel for DistilBertModel {
    type Config = DistilBertConfig;

    fn build(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new("distilbert")
    }
}
