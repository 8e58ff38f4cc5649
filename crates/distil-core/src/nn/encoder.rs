//! The stack of transformer layers, and what `output_hidden_states=True` and
//! `output_attentions=True` give in `transformers`.

use tch::{nn, Tensor};

use super::{AttentionMask, LayerNames, LayerOutputs, LayerShape, TransformerLayer};
use crate::{EncoderInput, EncoderOutput};

/// The stack of layers, `layer.0`, `layer.1`, ... below its path.
#[derive(Debug)]
pub struct Encoder {
    pub layer: Vec<TransformerLayer>,
}

impl Encoder {
    pub fn new(p: nn::Path, n_layers: i64, names: &LayerNames, shape: &LayerShape) -> Self {
        let layers = &p / "layer";
        Self {
            layer: (0..n_layers)
                .map(|i| TransformerLayer::new(&(&layers / i), names, shape))
                .collect(),
        }
    }

    /// Runs the layers on the embeddings' output of `input`'s batch; the result holds the
    /// embeddings followed by every layer's output (as `output_hidden_states=True` gives in
    /// `transformers`), every layer's attention maps and one layer's projections when
    /// `input` asks for them.
    pub fn forward_t(
        &self,
        embeddings: Tensor,
        input: &EncoderInput,
        train: bool,
    ) -> EncoderOutput {
        let mask = AttentionMask::new(input.attention_mask);
        let output_attentions = input.output_attentions;
        let layers = &self.layer;
        let mut hidden_states = Vec::with_capacity(layers.len() + 1);
        let mut attentions = Vec::with_capacity(if output_attentions { layers.len() } else { 0 });
        let mut projections = None;
        hidden_states.push(embeddings);
        for (index, layer) in layers.iter().enumerate() {
            let previous = hidden_states.last().expect("starts with the embeddings");
            let wanted = LayerOutputs {
                attentions: output_attentions,
                projections: input.projections_of_layer == Some(index),
            };
            let output = layer.forward_t(previous, &mask, train, wanted);
            hidden_states.push(output.hidden);
            attentions.extend(output.attention);
            projections = projections.or(output.projections);
        }
        EncoderOutput {
            hidden_states,
            attentions: output_attentions.then_some(attentions),
            projections,
        }
    }
}
