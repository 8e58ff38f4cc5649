//! `BertEmbeddings`: word + absolute position + token-type embeddings, LayerNorm, dropout.

use distil_core::nn::{dropout, embedding, layer_norm};
use distil_core::EncoderInput;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::BertConfig;

#[derive(Debug)]
pub struct BertEmbeddings {
    pub word_embeddings: nn::Embedding,
    pub position_embeddings: nn::Embedding,
    pub token_type_embeddings: nn::Embedding,
    /// HF `LayerNorm`.
    pub layer_norm: nn::LayerNorm,
    dropout: f64,
}

impl BertEmbeddings {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let (dim, init) = (config.hidden_size, config.initializer_range);
        Self {
            word_embeddings: embedding(
                &p / "word_embeddings",
                config.vocab_size,
                dim,
                init,
                config.pad_token_id,
            ),
            position_embeddings: embedding(
                &p / "position_embeddings",
                config.max_position_embeddings,
                dim,
                init,
                None,
            ),
            token_type_embeddings: embedding(
                &p / "token_type_embeddings",
                config.type_vocab_size,
                dim,
                init,
                None,
            ),
            layer_norm: layer_norm(&p / "LayerNorm", dim, config.layer_norm_eps),
            dropout: config.hidden_dropout_prob,
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> Tensor {
        let ids = input.input_ids;
        let seq = ids.size()[1];
        let positions = Tensor::arange(seq, (Kind::Int64, ids.device())).unsqueeze(0);
        let token_types = match input.token_type_ids {
            Some(types) => self.token_type_embeddings.forward(types),
            None => self
                .token_type_embeddings
                .forward(&ids.zeros_like().to_kind(Kind::Int64)),
        };
        let summed = self.word_embeddings.forward(ids)
            + token_types
            + self.position_embeddings.forward(&positions);
        dropout(&self.layer_norm.forward(&summed), self.dropout, train)
    }
}
