//! `L_mse`: squared error between student and teacher logits, summed and divided by the number
//! of rows (`MSELoss(reduction="sum") / N`, which mimics `batchmean`).

use tch::{Reduction, Tensor};

use super::{LossContext, LossTerm, Rows};

#[derive(Debug, Clone)]
pub struct LogitMseLoss {
    /// The same rows as the soft-target loss.
    pub rows: Rows,
}

impl LossTerm for LogitMseLoss {
    fn name(&self) -> &'static str {
        "loss_mse"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        match ctx.logit_pair(self.rows) {
            Some((student, teacher)) => {
                student.mse_loss(&teacher, Reduction::Sum) / student.size()[0] as f64
            }
            None => ctx.zero_loss(),
        }
    }
}
