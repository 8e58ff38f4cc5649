//! `RobertaEmbeddings`: word + token-type + position embeddings, LayerNorm, dropout, with the
//! position ids derived from the padding in the token ids.

use distil_core::nn::{embedding, segment_embeddings, WordEmbeddings, WordEmbeddingsShape};
use distil_core::EncoderInput;
use tch::nn::{self, Module};
use tch::Tensor;

use crate::position_ids::position_ids_from_input_ids;
use crate::RobertaConfig;

/// Mirrors `transformers.models.roberta.modeling_roberta.RobertaEmbeddings`.
#[derive(Debug)]
pub struct RobertaEmbeddings {
    /// `word_embeddings`, `LayerNorm` and the dropout.
    pub words: WordEmbeddings,
    /// Row `padding_idx` is the padding tokens' position: zero at initialisation and never
    /// updated by a gradient, as `nn.Embedding(padding_idx=...)` in HF.
    pub position_embeddings: nn::Embedding,
    pub token_type_embeddings: nn::Embedding,
    padding_idx: i64,
}

impl RobertaEmbeddings {
    pub fn new(p: nn::Path, config: &RobertaConfig) -> Self {
        let (dim, init, padding_idx) = (
            config.hidden_size,
            config.initializer_range,
            config.padding_idx(),
        );
        let words = WordEmbeddingsShape {
            vocab_size: config.vocab_size,
            dim,
            pad_token_id: Some(padding_idx),
            layer_norm_eps: config.layer_norm_eps,
            dropout: config.hidden_dropout_prob,
            init_range: init,
        };
        Self {
            words: WordEmbeddings::new(&p, &words),
            position_embeddings: embedding(
                &p / "position_embeddings",
                config.max_position_embeddings,
                dim,
                init,
                Some(padding_idx),
            ),
            token_type_embeddings: embedding(
                &p / "token_type_embeddings",
                config.type_vocab_size,
                dim,
                init,
                None,
            ),
            padding_idx,
        }
    }

    /// The position ids of `input_ids` (see [`position_ids_from_input_ids`]).
    pub fn position_ids(&self, input_ids: &Tensor) -> Tensor {
        position_ids_from_input_ids(input_ids, self.padding_idx)
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> Tensor {
        let ids = input.input_ids;
        // HF adds the token types first, then the positions.
        let token_types = segment_embeddings(&self.token_type_embeddings, input);
        let positions = self.position_embeddings.forward(&self.position_ids(ids));
        self.words.forward_t(ids, &[token_types, positions], train)
    }
}
