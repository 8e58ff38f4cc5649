//! `L_mlm`: cross-entropy of the student's raw logits at the MLM targets, mean over targets
//! (`CrossEntropyLoss(ignore_index=-100)`).

use tch::{Reduction, Tensor};

use super::{LossContext, LossTerm, Rows};

#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedLmLoss;

impl LossTerm for MaskedLmLoss {
    fn name(&self) -> &'static str {
        "loss_mlm"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::MlmTargets) == 0 {
            return ctx.zero_loss();
        }
        let logits = ctx.student_logits(Rows::MlmTargets);
        let labels = ctx.labels(Rows::MlmTargets);
        logits.cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)
    }
}
