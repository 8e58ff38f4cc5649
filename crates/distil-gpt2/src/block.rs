//! `GPT2Block`: pre-LayerNorm self-attention and MLP, each added to the residual stream.

use distil_core::nn::{layer_norm, AttentionMask, LayerOutput, LayerOutputs};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::attention::Gpt2Attention;
use crate::mlp::Gpt2Mlp;
use crate::Gpt2Config;

/// Mirrors `transformers.models.gpt2.modeling_gpt2.GPT2Block` without cross-attention:
/// `x + attn(ln_1(x))`, then `h + mlp(ln_2(h))`.
#[derive(Debug)]
pub struct Gpt2Block {
    pub ln_1: nn::LayerNorm,
    pub attn: Gpt2Attention,
    pub ln_2: nn::LayerNorm,
    pub mlp: Gpt2Mlp,
}

impl Gpt2Block {
    pub fn new(p: nn::Path, config: &Gpt2Config) -> Self {
        let (dim, eps) = (config.n_embd, config.layer_norm_epsilon);
        Self {
            ln_1: layer_norm(&p / "ln_1", dim, eps),
            attn: Gpt2Attention::new(&p / "attn", config),
            ln_2: layer_norm(&p / "ln_2", dim, eps),
            mlp: Gpt2Mlp::new(&p / "mlp", config),
        }
    }

    /// The block's output and, when asked for, its attention probabilities and projections.
    pub fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        wanted: LayerOutputs,
    ) -> LayerOutput {
        let attention = self
            .attn
            .forward_t(&self.ln_1.forward(hidden), mask, train, wanted);
        let attended = &attention.hidden + hidden;
        LayerOutput {
            hidden: self.mlp.forward_t(&self.ln_2.forward(&attended), train) + &attended,
            ..attention
        }
    }
}
