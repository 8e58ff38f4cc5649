//! `L_att`: KL(teacher || student) between the self-attention distributions of mapped layers
//! (MiniLM, Wang et al. 2020, eq. 3, over TinyBERT's layer map instead of the last layer only),
//! per head, so both models must have the same head count; summed over the mapped layers, each
//! a mean over heads and real queries (see [`super::row_kl`]).
//!
//! PyTorch: `sum(row_kl(at[n - 1].log(), as_[m - 1].log(), mask) for m, n in layer_pairs)`

use tch::Tensor;

use super::row_kl::{log_probabilities, row_kl};
use super::{EncoderNeeds, LossContext, LossTerm, ModelNeeds, Rows};

/// Attention-map KL over the layer map's pairs.
#[derive(Debug, Clone)]
pub struct AttentionKlLoss {
    /// `(student, teacher)` layers, counted from 1 as in the layer map.
    pub layer_pairs: Vec<(usize, usize)>,
}

impl LossTerm for AttentionKlLoss {
    fn name(&self) -> &'static str {
        "loss_attention_kl"
    }

    fn needs(&self) -> ModelNeeds {
        let maps = EncoderNeeds {
            attentions: true,
            projections_of_layer: None,
        };
        ModelNeeds {
            student: maps,
            teacher: maps,
        }
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::NonPad) == 0 {
            return ctx.zero_loss();
        }
        let mask = ctx.attention_mask().shallow_clone();
        let mut total = ctx.zero_loss();
        for &(student, teacher) in &self.layer_pairs {
            let (student_probs, teacher_probs) = ctx.attention_pair(student - 1, teacher - 1);
            total += row_kl(
                &log_probabilities(&teacher_probs, &mask),
                &log_probabilities(&student_probs, &mask),
                &mask,
            );
        }
        total
    }
}
