//! `Gpt2Model`: token and position embeddings, the decoder blocks and the final LayerNorm.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{
    dropout, embedding, layer_norm, AttentionMask, LayerOutputs, PretrainedModel,
};
use distil_core::{EncoderInput, EncoderOutput};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::block::Gpt2Block;
use crate::Gpt2Config;

/// The base model's weight-path segment in HF checkpoints with a head.
pub const GPT2_PREFIX: &str = "transformer";

/// Mirrors `transformers.GPT2Model` (no cache: every forward sees the whole sequence).
#[derive(Debug)]
pub struct Gpt2Model {
    /// Token embeddings `[vocab, n_embd]`, also the LM head's weight.
    pub wte: nn::Embedding,
    /// Learned absolute positions `[n_positions, n_embd]`.
    pub wpe: nn::Embedding,
    pub h: Vec<Gpt2Block>,
    pub ln_f: nn::LayerNorm,
    embd_dropout: f64,
}

impl Gpt2Model {
    pub fn new(p: nn::Path, config: &Gpt2Config) -> Self {
        let (dim, init) = (config.n_embd, config.initializer_range);
        let blocks = &p / "h";
        Self {
            wte: embedding(&p / "wte", config.vocab_size, dim, init, None),
            wpe: embedding(&p / "wpe", config.n_positions, dim, init, None),
            h: (0..config.n_layer)
                .map(|i| Gpt2Block::new(&blocks / i, config))
                .collect(),
            ln_f: layer_norm(&p / "ln_f", dim, config.layer_norm_epsilon),
            embd_dropout: config.embd_pdrop,
        }
    }

    /// `n_layer + 1` hidden states as `output_hidden_states=True` gives them in transformers
    /// 5: the embeddings, each block's output but the last, then the last block's output
    /// after `ln_f` (what the LM head reads). The attentions and one block's projections
    /// when `input` asks for them.
    ///
    /// Positions are `0..seq` in every row whatever the padding, as `GPT2Model` computes them
    /// when given an attention mask and no position ids: left padding shifts the real tokens'
    /// positions, right padding does not. Token types, when given, are looked up in `wte`
    /// and added, as HF does. Panics when `seq` exceeds `n_positions`.
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        let ids = input.input_ids;
        let seq = ids.size()[1];
        let positions = Tensor::arange(seq, (Kind::Int64, ids.device())).unsqueeze(0);
        let mut embeddings = self.wte.forward(ids) + self.wpe.forward(&positions);
        if let Some(token_types) = input.token_type_ids {
            embeddings += self.wte.forward(token_types);
        }
        let mask = AttentionMask::causal(input.attention_mask);
        let output_attentions = input.output_attentions;
        let mut hidden_states = Vec::with_capacity(self.h.len() + 1);
        let mut attentions = Vec::new();
        let mut projections = None;
        let mut hidden = dropout(&embeddings, self.embd_dropout, train);
        for (index, block) in self.h.iter().enumerate() {
            let wanted = LayerOutputs {
                attentions: output_attentions,
                projections: input.projections_of_layer == Some(index),
            };
            let output = block.forward_t(&hidden, &mask, train, wanted);
            hidden_states.push(std::mem::replace(&mut hidden, output.hidden));
            attentions.extend(output.attention);
            projections = projections.or(output.projections);
        }
        hidden_states.push(self.ln_f.forward(&hidden));
        EncoderOutput {
            hidden_states,
            attentions: output_attentions.then_some(attentions),
            projections,
        }
    }
}

impl PretrainedModel for Gpt2Model {
    type Config = Gpt2Config;

    fn build(p: nn::Path, config: &Gpt2Config) -> Self {
        Self::new(p, config)
    }

    /// Keys with or without `transformer.`: HF's `GPT2LMHeadModel` files and the original
    /// OpenAI ones (gpt2, distilgpt2) both load. The causal-mask buffers older files carry
    /// (`h.N.attn.bias`, `h.N.attn.masked_bias`) are not variables: the load report lists them
    /// as unexpected.
    fn load_spec() -> LoadSpec {
        LoadSpec::new(GPT2_PREFIX)
    }
}
