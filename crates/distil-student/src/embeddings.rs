//! DistilBERT's `Embeddings`: word + position embeddings (learned, or the frozen sinusoidal
//! table), LayerNorm, dropout. No token-type embeddings.

use distil_core::nn::{
    embedding, freeze_variable, ModelError, WordEmbeddings, WordEmbeddingsShape,
};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use crate::config::{DistilBertConfig, LAYER_NORM_EPS};

#[derive(Debug)]
pub struct Embeddings {
    /// `word_embeddings`, `LayerNorm` and the dropout.
    pub words: WordEmbeddings,
    /// `[max_position_embeddings, dim]`.
    pub position_embeddings: Tensor,
    /// The store name of the position table, to freeze it.
    position_key: String,
}

impl Embeddings {
    /// With `sinusoidal_pos_embds`, the position table is a registered but non-trainable
    /// variable holding HF's sin/cos values, so a checkpoint's table still replaces it (as
    /// `from_pretrained` does in `transformers`).
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let (dim, init) = (config.dim, config.initializer_range);
        let positions = &p / "position_embeddings";
        let position_key = positions.path("weight");
        let position_embeddings = if config.sinusoidal_pos_embds {
            let table = sinusoidal_table(config.max_position_embeddings, dim, positions.device());
            positions.add("weight", table, false)
        } else {
            embedding(positions, config.max_position_embeddings, dim, init, None).ws
        };
        let shape = WordEmbeddingsShape {
            vocab_size: config.vocab_size,
            dim,
            pad_token_id: config.pad_token_id,
            layer_norm_eps: LAYER_NORM_EPS,
            dropout: config.dropout,
            init_range: init,
        };
        Self {
            // Drawn after the position table, which keeps seeded fresh models as they were.
            words: WordEmbeddings::new(&p, &shape),
            position_embeddings,
            position_key,
        }
    }

    pub fn forward_t(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let seq = input_ids.size()[1];
        let positions = self.position_embeddings.narrow(0, 0, seq).unsqueeze(0);
        self.words.forward_t(input_ids, &[positions], train)
    }

    /// Stops training the position table (the distillation recipe trains with frozen,
    /// teacher-copied positions); `vs` is the store this model was built in.
    pub fn freeze_position_embeddings(&self, vs: &VarStore) -> Result<(), ModelError> {
        freeze_variable(vs, &self.position_key)
    }
}

/// HF's `create_sinusoidal_embeddings`: `pos / 10000^(2 (j / 2) / dim)`, sine on even
/// columns and cosine on odd ones, computed in f64 and stored as f32.
pub fn sinusoidal_table(n_pos: i64, dim: i64, device: Device) -> Tensor {
    let mut values = Vec::with_capacity((n_pos * dim) as usize);
    for pos in 0..n_pos {
        for j in 0..dim {
            let angle = pos as f64 / 10000f64.powf((2 * (j / 2)) as f64 / dim as f64);
            values.push(if j % 2 == 0 { angle.sin() } else { angle.cos() });
        }
    }
    Tensor::from_slice(&values)
        .view([n_pos, dim])
        .to_kind(Kind::Float)
        .to_device(device)
}
