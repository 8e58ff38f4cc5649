//! `DistilBertModel`: embeddings and transformer; no pooler, no token types.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{run_layers, AttentionMask, PretrainedModel};
use distil_core::{EncoderInput, EncoderOutput};
use tch::nn;

use crate::embeddings::Embeddings;
use crate::transformer::Transformer;
use crate::DistilBertConfig;

#[derive(Debug)]
pub struct DistilBertModel {
    pub embeddings: Embeddings,
    pub transformer: Transformer,
}

impl DistilBertModel {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self {
            embeddings: Embeddings::new(&p / "embeddings", config),
            transformer: Transformer::new(&p / "transformer", config),
        }
    }

    /// Every hidden state (embeddings, then each layer) and, when asked for, the attentions.
    /// `token_type_ids` are ignored: DistilBERT has no segment embeddings.
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        let mask = AttentionMask::new(input.attention_mask);
        let embeddings = self.embeddings.forward_t(input.input_ids, train);
        run_layers(
            embeddings,
            &self.transformer.layer,
            &mask,
            train,
            input.output_attentions,
        )
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
