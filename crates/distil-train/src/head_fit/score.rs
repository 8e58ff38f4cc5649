//! Scoring an MLM head on held-out masked tokens, beside the unigram baseline: predicting
//! every target from the training shards' token frequencies, which any head that learnt
//! something from the encoder beats.

use distil_core::{EncoderInput, LanguageModel};
use distil_data::{LmBatch, IGNORE_LABEL};
use serde::Serialize;
use tch::{Device, Kind, Reduction, Tensor};

/// Masked-token accuracy and mean cross-entropy (nats) over held-out targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadScore {
    pub targets: i64,
    pub accuracy: f64,
    pub loss: f64,
}

/// Sums over batches, turned into a [`HeadScore`] at the end.
#[derive(Debug, Default)]
struct ScoreSums {
    targets: i64,
    correct: i64,
    loss: f64,
}

impl ScoreSums {
    /// Adds `[N, V]` log-probabilities (or logits) of `targets` `[N]`.
    fn add(&mut self, logits: &Tensor, targets: &Tensor) {
        let n = targets.size()[0];
        let loss = logits.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(
            targets,
            None,
            Reduction::Sum,
            IGNORE_LABEL,
            0.0,
        );
        let correct = logits.argmax(-1, false).eq_tensor(targets).sum(Kind::Int64);
        self.targets += n;
        self.correct += correct.int64_value(&[]);
        self.loss += loss.double_value(&[]);
    }

    fn score(&self) -> HeadScore {
        let n = self.targets.max(1) as f64;
        HeadScore {
            targets: self.targets,
            accuracy: self.correct as f64 / n,
            loss: self.loss / n,
        }
    }
}

/// Token frequencies of the training shards, add-one smoothed; special tokens get no mass.
pub struct UnigramBaseline {
    /// `[V]` fp32 log-probabilities.
    log_probs: Tensor,
}

impl UnigramBaseline {
    /// `counts` has one count per vocabulary id; `specials` are never predicted.
    pub fn new(counts: &[u64], specials: &[u32]) -> Self {
        let mut smoothed: Vec<f64> = counts.iter().map(|&c| c as f64 + 1.0).collect();
        for &id in specials {
            if let Some(c) = smoothed.get_mut(id as usize) {
                *c = 0.0;
            }
        }
        let total: f64 = smoothed.iter().sum();
        let log_probs: Vec<f32> = smoothed
            .iter()
            .map(|&c| {
                if c > 0.0 {
                    (c / total).ln() as f32
                } else {
                    f32::NEG_INFINITY
                }
            })
            .collect();
        Self {
            log_probs: Tensor::from_slice(&log_probs),
        }
    }

    /// `[V]` log-probabilities, finite except at special tokens.
    pub fn log_probs(&self) -> &Tensor {
        &self.log_probs
    }

    /// A starting bias for a fresh head: the log-frequencies (special tokens at the lowest
    /// finite value), centred, so the untrained head already predicts the unigram.
    pub fn initial_bias(&self) -> Tensor {
        let finite = self.log_probs.isfinite();
        let floor = self.log_probs.masked_select(&finite).min();
        let filled = self.log_probs.where_self(&finite, &floor);
        &filled - filled.mean(Kind::Float)
    }
}

/// The head's and the unigram's scores on `batches`.
pub fn score_head(
    model: &dyn LanguageModel,
    batches: &[LmBatch],
    baseline: &UnigramBaseline,
    device: Device,
) -> (HeadScore, HeadScore) {
    let (mut head, mut unigram) = (ScoreSums::default(), ScoreSums::default());
    let unigram_log_probs = baseline.log_probs().to_device(device).unsqueeze(0);
    tch::no_grad(|| {
        for batch in batches {
            let (hidden, targets) = masked_hidden(model, batch, device);
            head.add(&model.vocab_logits(&hidden, false), &targets);
            let n = targets.size()[0];
            let unigram_logits = unigram_log_probs.expand([n, -1], false);
            unigram.add(&unigram_logits, &targets);
        }
    });
    (head.score(), unigram.score())
}

/// The encoder's (eval-mode) hidden states at a batch's MLM targets, `[N, D]`, and the
/// targets' ids `[N]`.
pub(super) fn masked_hidden(
    model: &dyn LanguageModel,
    batch: &LmBatch,
    device: Device,
) -> (Tensor, Tensor) {
    let input_ids = batch.input_ids.to_device(device);
    let attention_mask = batch.attention_mask.to_device(device);
    let labels = batch.labels.view([-1]).to_device(device);
    let rows = labels.ne(IGNORE_LABEL).nonzero().squeeze_dim(1);
    let encoded =
        tch::no_grad(|| model.encode(&EncoderInput::new(&input_ids, &attention_mask), false));
    let hidden = encoded.last_hidden_state();
    let dim = hidden.size()[2];
    (
        hidden.reshape([-1, dim]).index_select(0, &rows),
        labels.index_select(0, &rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unigram_scores_in_closed_form() {
        // Ids 0..4: 0 is special; counts 7, 2, 0 smooth to 8, 3, 1 (total 12).
        let baseline = UnigramBaseline::new(&[5, 7, 2, 0], &[0]);
        let mut sums = ScoreSums::default();
        let targets = Tensor::from_slice(&[1i64, 1, 2, 3]);
        let logits = baseline.log_probs().unsqueeze(0).expand([4, -1], false);
        sums.add(&logits, &targets);
        let score = sums.score();
        assert_eq!(score.targets, 4);
        assert!((score.accuracy - 0.5).abs() < 1e-12);
        let expected =
            -(2.0 * (8.0f64 / 12.0).ln() + (3.0f64 / 12.0).ln() + (1.0f64 / 12.0).ln()) / 4.0;
        assert!(
            (score.loss - expected).abs() < 1e-5,
            "{} vs {expected}",
            score.loss
        );
        // The initial bias keeps the ranking and sums to 0.
        let bias = baseline.initial_bias();
        let values: Vec<f32> = Vec::<f32>::try_from(&bias).unwrap();
        assert!(values[1] > values[2] && values[2] > values[3]);
        assert!(values.iter().sum::<f32>().abs() < 1e-4);
        assert!(values.iter().all(|v| v.is_finite()));
    }
}
