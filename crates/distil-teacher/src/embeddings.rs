//! `BertEmbeddings`: word + token-type + absolute position embeddings, LayerNorm, dropout.

use distil_core::nn::{embedding, segment_embeddings, WordEmbeddings, WordEmbeddingsShape};
use distil_core::EncoderInput;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::BertConfig;

#[derive(Debug)]
pub struct BertEmbeddings {
    /// `word_embeddings`, `LayerNorm` and the dropout.
    pub words: WordEmbeddings,
    pub position_embeddings: nn::Embedding,
    pub token_type_embeddings: nn::Embedding,
}

impl BertEmbeddings {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let (dim, init) = (config.hidden_size, config.initializer_range);
        let shape = WordEmbeddingsShape {
            vocab_size: config.vocab_size,
            dim,
            pad_token_id: config.pad_token_id,
            layer_norm_eps: config.layer_norm_eps,
            dropout: config.hidden_dropout_prob,
            init_range: init,
        };
        Self {
            words: WordEmbeddings::new(&p, &shape),
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
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> Tensor {
        let ids = input.input_ids;
        let seq = ids.size()[1];
        let positions = Tensor::arange(seq, (Kind::Int64, ids.device())).unsqueeze(0);
        let token_types = segment_embeddings(&self.token_type_embeddings, input);
        let positions = self.position_embeddings.forward(&positions);
        self.words.forward_t(ids, &[token_types, positions], train)
    }
}
