//! A padded batch of token rows with its prediction targets: masked-LM batches (see
//! [`crate::masking`]) and causal-LM ones (see [`crate::next_token`]) take this same shape.

use tch::Tensor;

/// The label of a position that is not a prediction target (PyTorch's ignore index).
pub const IGNORE_LABEL: i64 = -100;

/// One padded batch on CPU with its targets, ready for the teacher and the student.
#[derive(Debug)]
pub struct LmBatch {
    /// `[B, L]` i64, masked for a masked LM, as read for a causal one.
    pub input_ids: Tensor,
    /// `[B, L]` i64: 1 for tokens, 0 for padding.
    pub attention_mask: Tensor,
    /// `[B, L]` i64: the id the logits at each position must predict (the original id at a
    /// masked-LM target, the next id for a causal LM), -100 where nothing is predicted.
    pub labels: Tensor,
    /// Non-pad tokens in the batch.
    pub n_tokens: i64,
}

/// A padded batch as flat row-major vectors (the contents of an [`LmBatch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRows {
    pub batch: usize,
    pub len: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub labels: Vec<i64>,
}

impl BatchRows {
    /// `rows` padded with `pad_id` to the longest, right-aligned as the reference collates
    /// them, without targets yet (every label -100).
    pub fn padded(rows: &[&[u32]], pad_id: u32) -> Self {
        let batch = rows.len();
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut input_ids = vec![i64::from(pad_id); batch * len];
        let mut attention_mask = vec![0i64; batch * len];
        for (b, row) in rows.iter().enumerate() {
            for (t, &id) in row.iter().enumerate() {
                input_ids[b * len + t] = i64::from(id);
                attention_mask[b * len + t] = 1;
            }
        }
        Self {
            batch,
            len,
            input_ids,
            attention_mask,
            labels: vec![IGNORE_LABEL; batch * len],
        }
    }

    pub fn into_batch(self) -> LmBatch {
        let shape = [self.batch as i64, self.len as i64];
        let n_tokens = self.attention_mask.iter().sum();
        LmBatch {
            input_ids: Tensor::from_slice(&self.input_ids).view(shape),
            attention_mask: Tensor::from_slice(&self.attention_mask).view(shape),
            labels: Tensor::from_slice(&self.labels).view(shape),
            n_tokens,
        }
    }
}
