//! `L_pooled`: the distance between student and teacher sentence embeddings, each the mean of a
//! sequence's last hidden states over its real tokens (attention mask 1, `[CLS]` and `[SEP]`
//! included: sentence-transformers' mean pooling). `mse` is sentence-transformers' `MSELoss`
//! distillation objective (Reimers & Gurevych 2020), the mean over batch and hidden units;
//! `cosine` is the mean over the batch of `1 - cos`. Equal widths only.
//!
//! PyTorch:
//! ```python
//! def pool(h, mask):
//!     m = mask.unsqueeze(-1).float()
//!     return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
//! s, t = pool(h_s, mask), pool(h_t, mask)
//! loss = F.mse_loss(s, t)                                # mse
//! loss = (1 - F.cosine_similarity(s, t, dim=-1)).mean()  # cosine
//! ```

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use super::{LossContext, LossTerm, Rows};

/// How the pooled embeddings are compared (`loss.pooled_distance: mse | cosine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PooledDistance {
    #[default]
    Mse,
    Cosine,
}

impl PooledDistance {
    /// `mse`, the default, is left out of a saved config (see `LossConfig`).
    pub fn is_mse(&self) -> bool {
        *self == PooledDistance::Mse
    }
}

/// The distance between mean-pooled last hidden states, per sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct PooledLoss {
    pub distance: PooledDistance,
}

impl LossTerm for PooledLoss {
    fn name(&self) -> &'static str {
        "loss_pooled"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::NonPad) == 0 {
            return ctx.zero_loss();
        }
        let (student, teacher) = ctx.last_hidden_pair();
        let mask = ctx.attention_mask().to_kind(Kind::Float).unsqueeze(-1);
        // sentence-transformers' clamp: a sequence of padding alone pools to 0 instead of NaN.
        let count = mask.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
        let pool = |h: &Tensor| (h * &mask).sum_dim_intlist(1, false, Kind::Float) / &count;
        let (student, teacher) = (pool(&student), pool(&teacher));
        match self.distance {
            PooledDistance::Mse => student.mse_loss(&teacher, Reduction::Mean),
            PooledDistance::Cosine => {
                (1f64 - Tensor::cosine_similarity(&student, &teacher, 1, 1e-8)).mean(Kind::Float)
            }
        }
    }
}
