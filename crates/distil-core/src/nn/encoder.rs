//! Running a stack of transformer layers and collecting what `output_hidden_states=True` and
//! `output_attentions=True` give in `transformers`.

use tch::Tensor;

use super::AttentionMask;
use crate::EncoderOutput;

/// One transformer block: hidden states in, hidden states (and attention maps) out.
pub trait EncoderLayer {
    fn forward_t(
        &self,
        hidden: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>);
}

/// Runs `layers` on the embeddings' output; the result holds the embeddings followed by every
/// layer's output, and every layer's attention maps when `output_attentions` is set.
pub fn run_layers<L: EncoderLayer>(
    embeddings: Tensor,
    layers: &[L],
    mask: &AttentionMask,
    train: bool,
    output_attentions: bool,
) -> EncoderOutput {
    let mut hidden_states = Vec::with_capacity(layers.len() + 1);
    let mut attentions = Vec::with_capacity(if output_attentions { layers.len() } else { 0 });
    hidden_states.push(embeddings);
    for layer in layers {
        let input = hidden_states.last().expect("starts with the embeddings");
        let (output, probs) = layer.forward_t(input, mask, train, output_attentions);
        hidden_states.push(output);
        attentions.extend(probs);
    }
    EncoderOutput {
        hidden_states,
        attentions: output_attentions.then_some(attentions),
    }
}
