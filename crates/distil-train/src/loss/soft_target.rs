//! `L_ce`: KL(teacher || student) between temperature-softened distributions, times T^2, as a
//! per-token mean (`KLDivLoss(reduction="batchmean")` on the selected rows).

use tch::{Kind, Tensor};

use super::{LossContext, LossTerm, Rows};

#[derive(Debug, Clone)]
pub struct SoftTargetLoss {
    pub temperature: f64,
    /// `Rows::NonPad` for the recipe, `Rows::Targets` with `restrict_ce_to_mask`.
    pub rows: Rows,
}

impl LossTerm for SoftTargetLoss {
    fn name(&self) -> &'static str {
        "loss_ce"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        match ctx.logit_pair(self.rows) {
            Some((student, teacher)) => soft_target_kl(&student, &teacher, self.temperature),
            None => ctx.zero_loss(),
        }
    }
}

/// `T^2 * sum_rows KL(softmax(t/T) || softmax(s/T)) / rows` for logits `[N, V]`. The teacher's
/// log-probabilities come from `log_softmax`, so underflowed probabilities contribute exactly 0
/// as in torch's `xlogy`.
pub fn soft_target_kl(student: &Tensor, teacher: &Tensor, temperature: f64) -> Tensor {
    let rows = student.size()[0] as f64;
    let log_p_student = (student / temperature).log_softmax(-1, Kind::Float);
    let log_p_teacher = (teacher / temperature).log_softmax(-1, Kind::Float);
    let kl = (log_p_teacher.exp() * (&log_p_teacher - log_p_student)).sum(Kind::Float);
    kl * (temperature * temperature / rows)
}
