//! Multi-head scaled dot-product attention between the projections: libtorch's fused
//! `scaled_dot_product_attention` by default, and an eager matmul/softmax path when the caller
//! wants the attention probabilities (SDPA does not return them).

use tch::{Kind, Tensor};

use super::layers::dropout;
use crate::AttentionProjections;

/// Which keys every query may attend to, built once per forward from the 0/1 padding mask.
#[derive(Debug)]
pub struct AttentionMask {
    /// `true` where the key is a real token, `[batch, 1, 1, seq]`; `None` when every key is
    /// real, so that attention runs unmasked (faster fused kernels, as `transformers` does).
    keep: Option<Tensor>,
}

impl AttentionMask {
    /// From a `[batch, seq]` mask of any integer, float or bool kind (non-zero = real token).
    /// On the CPU a mask without padding is dropped; on a GPU it is kept, since checking
    /// would wait for the device.
    pub fn new(attention_mask: &Tensor) -> Self {
        let real = attention_mask.ne(0);
        if attention_mask.device() == tch::Device::Cpu && real.all().int64_value(&[]) == 1 {
            return Self { keep: None };
        }
        Self {
            keep: Some(real.unsqueeze(1).unsqueeze(1)),
        }
    }

    /// A decoder's mask from a `[batch, seq]` padding mask: each query sees the real keys at
    /// its own and earlier positions, `[batch, 1, seq, seq]`, as `transformers`'
    /// `create_causal_mask` builds it. Always kept: even without padding the future is masked.
    pub fn causal(attention_mask: &Tensor) -> Self {
        let seq = attention_mask.size()[1];
        let past = Tensor::ones([seq, seq], (Kind::Bool, attention_mask.device())).tril(0);
        let real_keys = attention_mask.ne(0).unsqueeze(1).unsqueeze(1);
        Self {
            keep: Some(real_keys.logical_and(&past)),
        }
    }

    /// Sets the scores of padded keys to the dtype's most negative finite value, as
    /// `transformers` does: a fixed -10000 is not "minus infinity" in fp32 and overflows
    /// nothing in fp16 only by luck.
    pub fn fill_scores(&self, scores: &Tensor) -> Tensor {
        match &self.keep {
            Some(keep) => scores.masked_fill(&keep.logical_not(), dtype_min(scores.kind())),
            None => scores.shallow_clone(),
        }
    }
}

/// The most negative finite value of a floating kind (`torch.finfo(kind).min`).
pub fn dtype_min(kind: Kind) -> f64 {
    match kind {
        Kind::Half => -65504.0,
        Kind::BFloat16 => -3.389_531_389_251_535_5e38,
        Kind::Double => f64::MIN,
        _ => f32::MIN as f64,
    }
}

/// Splits `[batch, seq, hidden]` projections into heads, attends, and merges the heads back.
#[derive(Debug, Clone, Copy)]
pub struct MultiHeadAttention {
    pub n_heads: i64,
    /// Dropout on the attention probabilities (training only).
    pub dropout: f64,
}

impl MultiHeadAttention {
    /// Returns the context `[batch, seq, hidden]` and, when `output_attentions` is set, the
    /// probabilities `[batch, heads, seq, seq]` (computed on the eager path).
    pub fn forward(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        let (batch, seq, hidden) = query
            .size3()
            .expect("attention input is [batch, seq, hidden]");
        let head_dim = hidden / self.n_heads;
        let split = |x: &Tensor| x.view([batch, -1, self.n_heads, head_dim]).transpose(1, 2);
        let (q, k, v) = (split(query), split(key), split(value));
        let scale = 1.0 / (head_dim as f64).sqrt();
        let (context, probs) = if output_attentions {
            let scores = q.matmul(&k.transpose(-1, -2)) * scale;
            let probs = mask.fill_scores(&scores).softmax(-1, scores.kind());
            let context = dropout(&probs, self.dropout, train).matmul(&v);
            (context, Some(probs))
        } else {
            let p = if train { self.dropout } else { 0.0 };
            let context = Tensor::scaled_dot_product_attention(
                &q,
                &k,
                &v,
                mask.keep.as_ref(),
                p,
                false,
                scale,
                false,
            );
            (context, None)
        };
        let context = context
            .transpose(1, 2)
            .contiguous()
            .view([batch, seq, hidden]);
        (context, probs)
    }

    /// [`Self::forward`] on a layer's query, key and value projections.
    pub fn attend(
        &self,
        projections: &AttentionProjections,
        mask: &AttentionMask,
        train: bool,
        output_attentions: bool,
    ) -> (Tensor, Option<Tensor>) {
        let AttentionProjections { query, key, value } = projections;
        self.forward(query, key, value, mask, train, output_attentions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn inputs(kind: Kind) -> (Tensor, Tensor, Tensor, AttentionMask) {
        tch::manual_seed(3);
        let opts = (Kind::Float, Device::Cpu);
        let q = (Tensor::randn([2, 5, 8], opts) * 3.0).to_kind(kind);
        let k = (Tensor::randn([2, 5, 8], opts) * 3.0).to_kind(kind);
        let v = Tensor::randn([2, 5, 8], opts).to_kind(kind);
        let mask = Tensor::from_slice2(&[[1i64, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
        (q, k, v, AttentionMask::new(&mask))
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
            .abs()
            .max()
            .double_value(&[])
    }

    /// The eager path against a direct computation: softmax over the real keys only.
    #[test]
    fn eager_probabilities_ignore_padded_keys() {
        let (q, k, v, mask) = inputs(Kind::Float);
        let mha = MultiHeadAttention {
            n_heads: 2,
            dropout: 0.1,
        };
        let (context, probs) = mha.forward(&q, &k, &v, &mask, false, true);
        let probs = probs.unwrap();
        assert_eq!(probs.size(), [2, 2, 5, 5]);
        let padded = probs.get(1).narrow(-1, 3, 2).abs().max().double_value(&[]);
        assert_eq!(padded, 0.0);
        let sums = probs.sum_dim_intlist(-1, false, Kind::Double);
        assert!(max_diff(&sums, &sums.ones_like()) < 1e-6);
        // Row 1, head 0 by hand over its 3 real keys.
        let (q1, k1, v1) = (
            q.get(1).narrow(-1, 0, 4),
            k.get(1).narrow(-1, 0, 4),
            v.get(1),
        );
        let scores = q1.matmul(&k1.narrow(0, 0, 3).tr()) / 2.0;
        let by_hand = scores
            .softmax(-1, Kind::Float)
            .matmul(&v1.narrow(0, 0, 3).narrow(-1, 0, 4));
        assert!(max_diff(&context.get(1).narrow(-1, 0, 4), &by_hand) < 1e-5);
    }

    #[test]
    fn sdpa_equals_eager_in_fp32_bf16_and_fp16() {
        let (q, k, v, mask) = inputs(Kind::Float);
        let mha = MultiHeadAttention {
            n_heads: 2,
            dropout: 0.0,
        };
        let (eager, _) = mha.forward(&q, &k, &v, &mask, false, true);
        for (kind, tol) in [
            (Kind::Float, 1e-5),
            (Kind::BFloat16, 5e-2),
            (Kind::Half, 5e-3),
        ] {
            let (q, k, v) = (q.to_kind(kind), k.to_kind(kind), v.to_kind(kind));
            for output_attentions in [false, true] {
                let (out, _) = mha.forward(&q, &k, &v, &mask, false, output_attentions);
                assert_eq!(out.kind(), kind);
                let diff = max_diff(&out, &eager);
                assert!(diff < tol, "{kind:?} eager={output_attentions}: {diff}");
            }
        }
    }

    /// Without padding the mask is dropped, and both paths still equal plain softmax attention.
    #[test]
    fn a_mask_without_padding_is_dropped_on_the_cpu() {
        let (q, k, v, _) = inputs(Kind::Float);
        let mask = AttentionMask::new(&Tensor::ones([2, 5], (Kind::Int64, Device::Cpu)));
        assert!(mask.keep.is_none());
        let mha = MultiHeadAttention {
            n_heads: 1,
            dropout: 0.0,
        };
        let by_hand = (q.matmul(&k.transpose(-1, -2)) / 8f64.sqrt())
            .softmax(-1, Kind::Float)
            .matmul(&v);
        for output_attentions in [false, true] {
            let (out, _) = mha.forward(&q, &k, &v, &mask, false, output_attentions);
            assert!(max_diff(&out, &by_hand) < 1e-5, "eager={output_attentions}");
        }
    }

    /// The causal mask hides later keys as well as padded ones, on both paths.
    #[test]
    fn causal_mask_hides_the_future_and_the_padding() {
        let (q, k, v, _) = inputs(Kind::Float);
        let mask = Tensor::from_slice2(&[[1i64, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
        let causal = AttentionMask::causal(&mask);
        let mha = MultiHeadAttention {
            n_heads: 2,
            dropout: 0.0,
        };
        let (eager, probs) = mha.forward(&q, &k, &v, &causal, false, true);
        let probs = probs.unwrap();
        let future = probs.triu(1).abs().max().double_value(&[]);
        assert_eq!(future, 0.0);
        let padded = probs.get(1).narrow(-1, 3, 2).abs().max().double_value(&[]);
        assert_eq!(padded, 0.0);
        let (sdpa, _) = mha.forward(&q, &k, &v, &causal, false, false);
        assert!(max_diff(&sdpa, &eager) < 1e-5);
        // Query 0 sees key 0 only: its context is that value.
        let first = v.get(0).narrow(0, 0, 1).narrow(-1, 0, 4);
        assert!(max_diff(&eager.get(0).narrow(0, 0, 1).narrow(-1, 0, 4), &first) < 1e-6);
    }

    #[test]
    fn dtype_minimum_is_finite() {
        for kind in [Kind::Float, Kind::BFloat16, Kind::Half, Kind::Double] {
            let t = Tensor::from_slice(&[dtype_min(kind)]).to_kind(kind);
            let v = t.to_kind(Kind::Double).double_value(&[0]);
            assert!(v.is_finite() && v < -6e4, "{kind:?}: {v}");
        }
    }
}
