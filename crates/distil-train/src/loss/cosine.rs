//! `L_cos`: mean over non-pad tokens of `1 - cos(h_student, h_teacher)` on the last hidden
//! states (`CosineEmbeddingLoss` with target +1).

use tch::{Kind, Reduction, Tensor};

use super::{LossContext, LossTerm, Rows};

#[derive(Debug, Clone, Copy, Default)]
pub struct HiddenCosineLoss;

impl LossTerm for HiddenCosineLoss {
    fn name(&self) -> &'static str {
        "loss_cos"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::NonPad) == 0 {
            return ctx.zero_loss();
        }
        let student = ctx.student_hidden(Rows::NonPad);
        let teacher = ctx.teacher_hidden(Rows::NonPad);
        let target = Tensor::ones([student.size()[0]], (Kind::Float, student.device()));
        Tensor::cosine_embedding_loss(&student, &teacher, &target, 0.0, Reduction::Mean)
    }
}
