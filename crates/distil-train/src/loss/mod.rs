//! Distillation losses. Each objective is a [`LossTerm`] reading what it needs from a
//! [`LossContext`]; [`TripleLoss`] weighs and sums them, so new objectives join by adding a
//! term, without touching the training loop. Besides the triple loss: TinyBERT's hidden-state
//! MSE through learned projections, attention-map KL and MiniLM v2's attention relations, over
//! a [`LayerMap`] between student and teacher layers; and sentence-transformers' distance
//! between mean-pooled sentence embeddings.

mod attention_kl;
mod attention_relations;
mod clm;
mod context;
mod cosine;
mod hidden_mse;
mod layer_map;
mod logit_mse;
mod mlm;
mod needs;
mod pooled;
mod row_kl;
mod rows;
mod soft_target;
mod triple;

pub use attention_kl::AttentionKlLoss;
pub use attention_relations::AttentionRelationLoss;
pub use clm::{causal_lm_loss, CausalLmLoss};
pub use context::{LossContext, LossInputs, StudentInputs, VocabProjection};
pub use cosine::HiddenCosineLoss;
pub use hidden_mse::HiddenMseLoss;
pub use layer_map::LayerMap;
pub use logit_mse::LogitMseLoss;
pub use mlm::MaskedLmLoss;
pub use needs::{EncoderNeeds, ModelNeeds};
pub use pooled::{PooledDistance, PooledLoss};
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
    /// What the term reads from the encoders beyond their hidden states.
    fn needs(&self) -> ModelNeeds {
        ModelNeeds::default()
    }
}
