//! `GPT2Attention`: one `c_attn` projection split into query, key and value, causal
//! multi-head attention, and `c_proj` back to the residual width.

use distil_core::nn::{dropout, AttentionMask, LayerOutput, LayerOutputs, MultiHeadAttention};
use distil_core::AttentionProjections;
use tch::nn::{self, Module};
use tch::Tensor;

use crate::{Conv1D, Gpt2Config};

/// Mirrors `transformers.models.gpt2.modeling_gpt2.GPT2Attention` (self-attention only).
#[derive(Debug)]
pub struct Gpt2Attention {
    /// `[n_embd, 3 * n_embd]`: query, key and value side by side.
    pub c_attn: Conv1D,
    pub c_proj: Conv1D,
    attention: MultiHeadAttention,
    resid_dropout: f64,
}

impl Gpt2Attention {
    pub fn new(p: nn::Path, config: &Gpt2Config) -> Self {
        let dim = config.n_embd;
        Self {
            c_attn: Conv1D::new(&p / "c_attn", dim, 3 * dim, config.initializer_range),
            c_proj: Conv1D::new(&p / "c_proj", dim, dim, config.residual_init_range()),
            attention: MultiHeadAttention {
                n_heads: config.n_head,
                dropout: config.attn_pdrop,
            },
            resid_dropout: config.resid_pdrop,
        }
    }

    /// The attention's output (before the residual sum) and what `wanted` asks for; `mask` is
    /// the causal mask ([`AttentionMask::causal`]), and asking for the probabilities takes the
    /// eager path.
    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        wanted: LayerOutputs,
    ) -> LayerOutput {
        let dim = hidden.size()[2];
        let qkv = self.c_attn.forward(hidden).split(dim, 2);
        let projections = AttentionProjections {
            query: qkv[0].shallow_clone(),
            key: qkv[1].shallow_clone(),
            value: qkv[2].shallow_clone(),
        };
        let (context, attention) =
            self.attention
                .attend(&projections, mask, train, wanted.attentions);
        LayerOutput {
            hidden: dropout(&self.c_proj.forward(&context), self.resid_dropout, train),
            attention,
            projections: wanted.projections.then_some(projections),
        }
    }
}
