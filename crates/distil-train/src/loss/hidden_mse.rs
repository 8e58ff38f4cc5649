//! `L_hidn` (TinyBERT, Jiao et al. 2020, eq. 8 and the embedding loss of eq. 9): the mean
//! squared error between mapped hidden states, the embeddings' output included, summed over
//! the mapped pairs, on the non-pad tokens. A student narrower than its teacher is projected
//! to the teacher's width by a learned linear map per pair (`W_h`; TextBrewer's `proj` per
//! matched layer); equal widths are compared directly.
//!
//! PyTorch:
//! ```python
//! sum(F.mse_loss(proj[i](hs[m][mask]), ht[n][mask]) for i, (m, n) in enumerate(pairs))
//! ```

use distil_core::nn::linear;
use tch::nn::{self, Module};
use tch::Tensor;

use super::{LossContext, LossTerm, Rows};

/// Hidden-state MSE over the layer map's pairs.
#[derive(Debug)]
pub struct HiddenMseLoss {
    /// `(student, teacher)` hidden-state indices (0: the embeddings).
    pairs: Vec<(usize, usize)>,
    /// One per pair when the widths differ, under `p` as `{pair}.weight` / `{pair}.bias`.
    projections: Vec<nn::Linear>,
}

impl HiddenMseLoss {
    /// Creates the projections (HF's init: normal with `init_range`, zero bias) in `p`,
    /// which should sit in the student's store so they train, checkpoint and resume with it.
    pub fn new(
        p: nn::Path,
        pairs: Vec<(usize, usize)>,
        student_width: i64,
        teacher_width: i64,
        init_range: f64,
    ) -> Self {
        let projections = match student_width == teacher_width {
            true => Vec::new(),
            false => (0..pairs.len())
                .map(|i| linear(&p / i, student_width, teacher_width, init_range))
                .collect(),
        };
        Self { pairs, projections }
    }
}

impl LossTerm for HiddenMseLoss {
    fn name(&self) -> &'static str {
        "loss_hidden_mse"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::NonPad) == 0 {
            return ctx.zero_loss();
        }
        let mut total = ctx.zero_loss();
        for (i, &(student, teacher)) in self.pairs.iter().enumerate() {
            let mut hidden = ctx.student_hidden_state(student, Rows::NonPad);
            if let Some(projection) = self.projections.get(i) {
                hidden = projection.forward(&hidden);
            }
            let target = ctx.teacher_hidden_state(teacher, Rows::NonPad);
            total += hidden.mse_loss(&target, tch::Reduction::Mean);
        }
        total
    }
}
