//! `L_clm`: the causal-LM objective (weighted by `alpha_clm`): next-token cross-entropy on the
//! student's logits shifted by one, mean over every non-pad target, as the reference
//! distiller's `lm_loss_fct(shift_logits, shift_labels)` computes it for GPT-2 students.

use tch::{Reduction, Tensor};

use super::mlm::cross_entropy_at_targets;
use super::{LossContext, LossTerm};

/// `L_clm` as a loss term. The batch's labels already hold each position's next token
/// (`distil_data::next_token_rows`), so the cross-entropy at the target rows is
/// [`causal_lm_loss`] over the full logits, with logits projected only at those rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct CausalLmLoss;

impl LossTerm for CausalLmLoss {
    fn name(&self) -> &'static str {
        "loss_clm"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        cross_entropy_at_targets(ctx)
    }
}

/// The next-token cross-entropy of `logits` `[B, S, V]` (position `i` predicts token `i + 1`)
/// against `input_ids` `[B, S]`, mean over the targets whose `attention_mask` is non-zero: a
/// target counts when the token it predicts is real, whatever its context (the reference
/// distiller sets `clm_labels[~attn_mask] = -100`). In PyTorch:
///
/// ```python
/// labels = input_ids.masked_fill(attention_mask == 0, -100)
/// shift_logits = logits[:, :-1, :].reshape(-1, logits.size(-1))
/// shift_labels = labels[:, 1:].reshape(-1)
/// loss = nn.CrossEntropyLoss(ignore_index=-100)(shift_logits, shift_labels)
/// ```
///
/// As there, a batch without any real target (every sequence shorter than two real tokens)
/// gives NaN.
pub fn causal_lm_loss(logits: &Tensor, input_ids: &Tensor, attention_mask: &Tensor) -> Tensor {
    let size = logits.size();
    let (seq, vocab) = (size[1], size[2]);
    let labels = input_ids.masked_fill(&attention_mask.eq(0), -100);
    let shift_logits = logits.narrow(1, 0, seq - 1).reshape([-1, vocab]);
    let shift_labels = labels.narrow(1, 1, seq - 1).reshape([-1]);
    shift_logits.cross_entropy_loss::<Tensor>(&shift_labels, None, Reduction::Mean, -100, 0.0)
}
