//! KL divergence between two sets of attention-like distributions over the keys of each query,
//! averaged over the real (non-pad) queries of every head: what the attention and relation
//! terms share.
//!
//! PyTorch (`t_log`, `s_log`: `[batch, heads, seq, seq]` log-probabilities, `mask`: `[batch,
//! seq]`):
//! ```python
//! keys = mask[:, None, None, :].bool()
//! kl = torch.where(keys, t_log.exp() * (t_log - s_log), 0).sum(-1)   # [batch, heads, seq]
//! queries = mask[:, None, :].expand_as(kl).float()
//! (kl * queries).sum() / queries.sum()
//! ```

use tch::{Kind, Tensor};

/// Mean over real queries of `KL(teacher || student)` summed over the real keys.
pub fn row_kl(teacher_log: &Tensor, student_log: &Tensor, attention_mask: &Tensor) -> Tensor {
    let real = attention_mask.ne(0);
    let keys = real.unsqueeze(1).unsqueeze(1);
    let per_key = teacher_log.exp() * (teacher_log - student_log);
    let per_query = per_key
        .where_self(&keys, &per_key.zeros_like())
        .sum_dim_intlist(-1, false, Kind::Float);
    let queries = real.unsqueeze(1).expand_as(&per_query).to_kind(Kind::Float);
    (per_query * &queries).sum(Kind::Float) / queries.sum(Kind::Float)
}

/// Log of attention probabilities, with padded keys (probability 0) read as 1 and real keys
/// floored at the smallest normal fp32, so neither the value nor its gradient is infinite.
pub fn log_probabilities(probs: &Tensor, attention_mask: &Tensor) -> Tensor {
    let keys = attention_mask.ne(0).unsqueeze(1).unsqueeze(1);
    probs
        .where_self(&keys, &probs.ones_like())
        .clamp_min(f64::from(f32::MIN_POSITIVE))
        .log()
}
