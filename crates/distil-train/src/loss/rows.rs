//! The token rows a loss reads: every non-pad position, or only the prediction targets. Losses gather
//! these rows before the vocabulary projection, so logits are only computed where needed.

use tch::{Device, Kind, Tensor};

/// Which token positions a loss term reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rows {
    /// Every position whose attention mask is 1 (including [CLS] and [SEP]).
    NonPad,
    /// Positions whose label is not -100: the masked-LM targets, or for a causal LM every
    /// position followed by a real token.
    Targets,
}

/// Flat row indices into `[batch * seq]` for each [`Rows`] choice, in increasing order.
#[derive(Debug)]
pub struct RowIndex {
    non_pad: Tensor,
    targets: Tensor,
    /// Where each target sits among the non-pad rows, so target logits can be taken from
    /// non-pad logits instead of projecting twice.
    targets_in_non_pad: Tensor,
}

impl RowIndex {
    /// Builds the indices from `attention_mask` and `labels` (`[batch, seq]`) and moves them to
    /// `device`. Pass the batch's CPU tensors: `nonzero` on a GPU tensor waits for the GPU.
    pub fn new(attention_mask: &Tensor, labels: &Tensor, device: Device) -> Self {
        let pad_free = attention_mask.flatten(0, -1).ne(0);
        let targets = labels.flatten(0, -1).ne(-100);
        let rows = |mask: &Tensor| mask.nonzero().squeeze_dim(1).to_device(device);
        let targets_among_non_pad = targets.masked_select(&pad_free);
        Self {
            non_pad: rows(&pad_free),
            targets: rows(&targets),
            targets_in_non_pad: rows(&targets_among_non_pad),
        }
    }

    pub fn get(&self, rows: Rows) -> &Tensor {
        match rows {
            Rows::NonPad => &self.non_pad,
            Rows::Targets => &self.targets,
        }
    }

    /// Number of rows, known without touching the device.
    pub fn count(&self, rows: Rows) -> i64 {
        self.get(rows).size()[0]
    }

    pub(crate) fn targets_in_non_pad(&self) -> &Tensor {
        &self.targets_in_non_pad
    }
}

/// Rows `index` of `x` viewed as `[batch * seq, last]`.
pub(crate) fn gather_rows(x: &Tensor, index: &Tensor) -> Tensor {
    let width = x.size().last().copied().unwrap_or(1);
    x.reshape([-1, width]).index_select(0, index)
}

/// Losses are computed in fp32 whatever precision the models ran in.
pub(crate) fn as_f32(x: Tensor) -> Tensor {
    if x.kind() == Kind::Float {
        x
    } else {
        x.to_kind(Kind::Float)
    }
}
