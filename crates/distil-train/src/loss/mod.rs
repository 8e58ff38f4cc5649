//! Distillation losses. Each objective is a [`LossTerm`] reading what it needs from a
//! [`LossContext`]; [`TripleLoss`] weighs and sums them, so new objectives (hidden-state MSE per
//! layer, attention transfer) join by adding a term, without touching the training loop.

mod context;
mod cosine;
mod logit_mse;
mod mlm;
mod rows;
mod soft_target;
mod triple;

pub use context::{LossContext, LossInputs, StudentInputs, VocabProjection};
pub use cosine::HiddenCosineLoss;
pub use logit_mse::LogitMseLoss;
pub use mlm::MaskedLmLoss;
pub use rows::{RowIndex, Rows};
pub use soft_target::{soft_target_kl, SoftTargetLoss};
pub use triple::{LossOutput, TripleLoss};

use tch::Tensor;

/// One objective: an unweighted scalar computed from the models' outputs.
pub trait LossTerm {
    /// Log name, without the `losses/` prefix (`loss_ce`, `loss_mlm`, ...).
    fn name(&self) -> &'static str;
    /// The unweighted loss, a 0-dim float tensor that carries gradients to the student.
    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor;
}
