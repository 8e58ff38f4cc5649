//! MiniLM v2's self-attention relation transfer (Wang et al. 2021, eq. 5 to 7): the queries,
//! keys and values of one teacher layer and of the student's last layer are each split into
//! the same number of relation heads; each gives scaled dot-product relations
//! `softmax(A A^T / sqrt(d_r))` between the tokens, and the student's query-query, key-key and
//! value-value relations learn the teacher's by KL divergence. The relation heads need not be
//! either model's attention heads, so any widths and head counts work.
//!
//! PyTorch, per projection `x` of `[batch, seq, width]`:
//! ```python
//! def relations(x, heads, mask):
//!     b, s, w = x.shape
//!     x = x.view(b, s, heads, w // heads).transpose(1, 2)
//!     scores = x @ x.transpose(-1, -2) / math.sqrt(w // heads)
//!     scores = scores.masked_fill(~mask[:, None, None, :].bool(), torch.finfo(scores.dtype).min)
//!     return scores.log_softmax(-1)
//! loss = sum(row_kl(relations(t, R, mask), relations(s, R, mask), mask)
//!            for s, t in [(sq, tq), (sk, tk), (sv, tv)])
//! ```

use tch::{Kind, Tensor};

use super::row_kl::row_kl;
use super::{EncoderNeeds, LossContext, LossTerm, ModelNeeds, Rows};
use distil_core::nn::AttentionMask;

/// Query, key and value relation KL between a teacher layer and the student's last layer.
#[derive(Debug, Clone, Copy)]
pub struct AttentionRelationLoss {
    pub relation_heads: i64,
    /// 0-based.
    pub student_layer: usize,
    /// 0-based.
    pub teacher_layer: usize,
}

impl LossTerm for AttentionRelationLoss {
    fn name(&self) -> &'static str {
        "loss_attention_relations"
    }

    fn needs(&self) -> ModelNeeds {
        let layer = |index| EncoderNeeds {
            attentions: false,
            projections_of_layer: Some(index),
        };
        ModelNeeds {
            student: layer(self.student_layer),
            teacher: layer(self.teacher_layer),
        }
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        if ctx.count(Rows::NonPad) == 0 {
            return ctx.zero_loss();
        }
        let mask = ctx.attention_mask().shallow_clone();
        // Built once for the six relation maps of the step.
        let keys = AttentionMask::new(&mask);
        let (student, teacher) = ctx.projection_pair();
        let pairs = [
            (&student.query, &teacher.query),
            (&student.key, &teacher.key),
            (&student.value, &teacher.value),
        ];
        let mut total = ctx.zero_loss();
        for (s, t) in pairs {
            let t = tch::no_grad(|| relations(t, self.relation_heads, &keys));
            total += row_kl(&t, &relations(s, self.relation_heads, &keys), &mask);
        }
        total
    }
}

/// Log relation distributions `[batch, heads, seq, seq]` (fp32) of `x` `[batch, seq, width]`,
/// padded keys excluded by `keys`.
fn relations(x: &Tensor, heads: i64, keys: &AttentionMask) -> Tensor {
    let (batch, seq, width) = x.size3().expect("projections are [batch, seq, width]");
    let head_dim = width / heads;
    let x = x
        .to_kind(Kind::Float)
        .view([batch, seq, heads, head_dim])
        .transpose(1, 2);
    let scores = x.matmul(&x.transpose(-1, -2)) / (head_dim as f64).sqrt();
    keys.fill_scores(&scores).log_softmax(-1, Kind::Float)
}
