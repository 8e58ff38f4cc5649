//! `Gpt2LMHeadModel`: GPT-2 and the output head whose weight is the token-embedding tensor.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::PretrainedModel;
use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use tch::nn;
use tch::Tensor;

use crate::model::GPT2_PREFIX;
use crate::{Gpt2Config, Gpt2Model};

/// What the LM computed: the decoder's states and the next-token logits `[batch, seq, vocab]`.
#[derive(Debug)]
pub struct CausalLmOutput {
    pub decoder: EncoderOutput,
    pub logits: Tensor,
}

/// Mirrors `transformers.GPT2LMHeadModel` (DistilGPT2 is this class with 6 layers). `lm_head`
/// (no bias) is `transformer.wte`'s tensor itself, not a variable of its own, so the store
/// holds exactly the keys HF saves.
#[derive(Debug)]
pub struct Gpt2LMHeadModel {
    pub transformer: Gpt2Model,
    /// `lm_head.weight`: the same tensor as `transformer.wte.ws`.
    pub lm_head: Tensor,
    config: Gpt2Config,
}

impl Gpt2LMHeadModel {
    pub fn new(p: nn::Path, config: &Gpt2Config) -> Self {
        let transformer = Gpt2Model::new(&p / GPT2_PREFIX, config);
        let lm_head = transformer.wte.ws.shallow_clone();
        Self {
            transformer,
            lm_head,
            config: config.clone(),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> CausalLmOutput {
        let decoder = self.transformer.forward_t(input, train);
        let logits = self.vocab_logits(decoder.last_hidden_state(), train);
        CausalLmOutput { decoder, logits }
    }

    pub fn config(&self) -> &Gpt2Config {
        &self.config
    }
}

impl PretrainedModel for Gpt2LMHeadModel {
    type Config = Gpt2Config;

    fn build(p: nn::Path, config: &Gpt2Config) -> Self {
        Self::new(p, config)
    }

    /// HF saves no `lm_head.weight`; files that do hold the tied duplicate load too.
    fn load_spec() -> LoadSpec {
        LoadSpec::new(GPT2_PREFIX).tied("lm_head.weight")
    }
}

impl LanguageModel for Gpt2LMHeadModel {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.transformer.forward_t(input, train)
    }

    /// The head has no dropout, so `train` changes nothing here.
    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        hidden.linear::<&Tensor>(&self.lm_head, None)
    }

    fn hidden_size(&self) -> i64 {
        self.config.n_embd
    }

    fn vocab_size(&self) -> i64 {
        self.config.vocab_size
    }
}
