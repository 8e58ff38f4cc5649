//! The speed switches of the distillation step (`step:` in the run config): where the
//! vocabulary head runs and which attention kernel the encoders use. Every combination
//! computes the same losses (tests/step.rs checks it); the defaults are the fast ones.

use distil_core::EncoderInput;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::loss::VocabProjection;

/// Which attention kernel the encoders use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKernel {
    /// libtorch's fused `scaled_dot_product_attention`.
    #[default]
    Sdpa,
    /// matmul, masked softmax, matmul (the path that can return attention maps).
    Eager,
}

/// `step:` in the run config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepSwitches {
    /// `rows`: the vocabulary head runs only at the rows a loss reads; `full`: at every
    /// position, as the reference distiller does.
    pub projection: VocabProjection,
    /// `sdpa` or `eager`.
    pub attention: AttentionKernel,
}

impl StepSwitches {
    /// Both models' input for a batch, on the chosen attention kernel.
    pub(crate) fn encoder_input<'a>(
        &self,
        input_ids: &'a Tensor,
        attention_mask: &'a Tensor,
    ) -> EncoderInput<'a> {
        let mut input = EncoderInput::new(input_ids, attention_mask);
        // Asking for the attention maps is what selects the eager kernel.
        input.output_attentions = self.attention == AttentionKernel::Eager;
        input
    }
}
