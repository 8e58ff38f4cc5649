//! One vector per input from an encoder's last hidden state.

use std::fmt;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::TaskError;

/// How a `[batch, seq, hidden]` last hidden state becomes `[batch, hidden]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// sentence-transformers' mean pooling: the average over the tokens whose attention mask
    /// is 1, special tokens included (what all-MiniLM-L6-v2 was trained with).
    #[default]
    Mean,
    /// The first token's state (`[CLS]`, `<s>`), without BERT's pooler.
    Cls,
}

impl Pooling {
    /// The serde name: `mean` or `cls`.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
        }
    }

    /// Pools `hidden` (`[batch, seq, hidden]`) over `attention_mask` (`[batch, seq]`, 1 for
    /// real tokens), in `hidden`'s kind. Mean pooling as sentence-transformers computes it:
    ///
    /// ```python
    /// mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    /// (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
    /// ```
    pub fn pool(self, hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor, TaskError> {
        let (hidden_size, mask_size) = (hidden.size(), attention_mask.size());
        if hidden_size.len() != 3 || mask_size[..] != hidden_size[..2] {
            return Err(TaskError::Mismatch {
                what: "pooling shapes",
                expected: "hidden [batch, seq, hidden] and mask [batch, seq]".to_string(),
                found: format!("hidden {hidden_size:?} and mask {mask_size:?}"),
            });
        }
        Ok(match self {
            Pooling::Cls => hidden.f_select(1, 0)?,
            Pooling::Mean => {
                let mask = attention_mask.f_unsqueeze(-1)?.f_to_kind(hidden.kind())?;
                let summed = hidden.f_mul(&mask)?.f_sum_dim_intlist(1, false, None)?;
                let tokens = mask.f_sum_dim_intlist(1, false, None)?.f_clamp_min(1e-9)?;
                summed.f_div(&tokens)?
            }
        })
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
    }

    /// Two sequences of three tokens, hidden 2: the second has one padding position whose
    /// large state must not count.
    fn batch() -> (Tensor, Tensor) {
        let hidden = Tensor::from_slice(&[
            1.0f32, 2.0, 3.0, 4.0, 5.0, 9.0, //
            -1.0, 0.5, 3.0, 1.5, 100.0, 100.0,
        ])
        .view([2, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0]).view([2, 3]);
        (hidden, mask)
    }

    #[test]
    fn mean_averages_real_tokens_only() {
        let (hidden, mask) = batch();
        let pooled = Pooling::Mean.pool(&hidden, &mask).unwrap();
        assert_eq!(pooled.size(), vec![2, 2]);
        assert_eq!(pooled.kind(), Kind::Float);
        assert_eq!(values(&pooled), vec![3.0, 5.0, 1.0, 1.0]);
    }

    #[test]
    fn cls_takes_the_first_token() {
        let (hidden, mask) = batch();
        let pooled = Pooling::Cls.pool(&hidden, &mask).unwrap();
        assert_eq!(values(&pooled), vec![1.0, 2.0, -1.0, 0.5]);
    }

    /// An all-padding row divides by the clamp, not by zero: its mean is 0, not NaN.
    #[test]
    fn an_empty_row_pools_to_zero() {
        let (hidden, _) = batch();
        let mask = Tensor::zeros([2, 3], (Kind::Int64, tch::Device::Cpu));
        assert_eq!(
            values(&Pooling::Mean.pool(&hidden, &mask).unwrap()),
            vec![0.0; 4]
        );
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let (hidden, mask) = batch();
        for (h, m) in [
            (hidden.select(1, 0), mask.shallow_clone()),
            (hidden.shallow_clone(), mask.narrow(1, 0, 2)),
        ] {
            let err = Pooling::Mean.pool(&h, &m).unwrap_err();
            assert!(err.to_string().contains("pooling shapes"), "{err}");
        }
    }

    #[test]
    fn names_round_trip_through_serde() {
        for pooling in [Pooling::Mean, Pooling::Cls] {
            let json = serde_json::to_string(&pooling).unwrap();
            assert_eq!(json, format!("\"{pooling}\""));
            assert_eq!(serde_json::from_str::<Pooling>(&json).unwrap(), pooling);
        }
    }
}
