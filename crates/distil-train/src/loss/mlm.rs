//! `L_mlm`: cross-entropy of the student's raw logits at the MLM targets, mean over targets
//! (`CrossEntropyLoss(ignore_index=-100)`). The causal term computes the same over next-token
//! labels (see [`super::clm`]).

use tch::{Reduction, Tensor};

use super::{LossContext, LossTerm, Rows};

#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedLmLoss;

impl LossTerm for MaskedLmLoss {
    fn name(&self) -> &'static str {
        "loss_mlm"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        cross_entropy_at_targets(ctx)
    }
}

/// Mean cross-entropy of the student's logits against the labels at every target row; 0
/// (with a gradient path) when the batch has none.
pub(super) fn cross_entropy_at_targets(ctx: &mut LossContext<'_>) -> Tensor {
    if ctx.count(Rows::Targets) == 0 {
        return ctx.zero_loss();
    }
    let logits = ctx.student_logits(Rows::Targets);
    let labels = ctx.labels(Rows::Targets);
    logits.cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)
}
