//! The input block BERT and DistilBERT share: word embeddings plus what the architecture adds
//! (positions, segments), then LayerNorm and dropout. Both name these weights alike
//! (`word_embeddings`, `LayerNorm`).

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::{dropout, embedding, layer_norm};
use crate::EncoderInput;

/// The segment (token type) embeddings of `input`: its token types, or segment 0 everywhere
/// when it gives none (the zeros `transformers` buffers).
pub fn segment_embeddings(table: &nn::Embedding, input: &EncoderInput) -> Tensor {
    match input.token_type_ids {
        Some(types) => table.forward(types),
        None => table.forward(&input.input_ids.zeros_like().to_kind(Kind::Int64)),
    }
}

#[derive(Debug)]
pub struct WordEmbeddings {
    pub word_embeddings: nn::Embedding,
    /// HF `LayerNorm`.
    pub layer_norm: nn::LayerNorm,
    dropout: f64,
}

/// The sizes and rates of [`WordEmbeddings`], from the architecture's config.
#[derive(Debug, Clone, Copy)]
pub struct WordEmbeddingsShape {
    pub vocab_size: i64,
    pub dim: i64,
    pub pad_token_id: Option<i64>,
    pub layer_norm_eps: f64,
    pub dropout: f64,
    pub init_range: f64,
}

impl WordEmbeddings {
    /// The weights `word_embeddings` and `LayerNorm` below `p` (the embeddings module).
    pub fn new(p: &nn::Path, shape: &WordEmbeddingsShape) -> Self {
        Self {
            word_embeddings: embedding(
                p / "word_embeddings",
                shape.vocab_size,
                shape.dim,
                shape.init_range,
                shape.pad_token_id,
            ),
            layer_norm: layer_norm(p / "LayerNorm", shape.dim, shape.layer_norm_eps),
            dropout: shape.dropout,
        }
    }

    /// `LayerNorm(word_embeddings(ids) + added[0] + added[1] ...)`, then dropout; the terms
    /// are added in the order `transformers` adds them.
    pub fn forward_t(&self, input_ids: &Tensor, added: &[Tensor], train: bool) -> Tensor {
        let summed = added
            .iter()
            .fold(self.word_embeddings.forward(input_ids), |sum, term| {
                sum + term
            });
        dropout(&self.layer_norm.forward(&summed), self.dropout, train)
    }
}
