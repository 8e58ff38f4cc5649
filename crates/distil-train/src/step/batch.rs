//! A masked-LM batch moved to the models' device, with the loss rows built from its CPU
//! tensors (`nonzero` on a GPU tensor would wait for the GPU).

use distil_data::LmBatch;
use tch::{Device, Tensor};

use crate::loss::RowIndex;

/// One micro-batch as the step reads it.
pub struct DeviceBatch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    pub labels: Tensor,
    pub rows: RowIndex,
    /// Non-pad tokens.
    pub n_tokens: i64,
}

impl DeviceBatch {
    pub fn new(batch: &LmBatch, device: Device) -> Self {
        Self {
            input_ids: batch.input_ids.to_device(device),
            attention_mask: batch.attention_mask.to_device(device),
            labels: batch.labels.to_device(device),
            rows: RowIndex::new(&batch.attention_mask, &batch.labels, device),
            n_tokens: batch.n_tokens,
        }
    }
}
