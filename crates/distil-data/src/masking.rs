//! Dynamic MLM masking of a collated batch, on CPU, fresh for every batch.
//!
//! The reference (`Distiller.prepare_batch_mlm`) draws `ceil(mask_prop x sum(lengths))`
//! positions without replacement over the whole padded batch, each with probability
//! proportional to `max(count, 1)^-smoothing` of its token (special tokens weigh 0), then
//! turns each target into `[MASK]`, keeps it, or replaces it with a uniform id of the whole
//! vocabulary (80/10/10). Labels hold the original id at targets and -100 elsewhere.

use rand::Rng;

use crate::batch::BatchRows;
use crate::config::{MaskingConfig, MaskingStrategy};
use crate::sequence::SpecialTokens;
use crate::DataError;

/// What happens to one prediction target.
enum Treatment {
    Mask,
    Keep,
    Random,
}

/// Masks batches with one configuration and one vocabulary's token counts.
#[derive(Debug, Clone)]
pub struct Masker {
    strategy: MaskingStrategy,
    mask_prop: f64,
    word_mask: f64,
    word_keep: f64,
    /// Selection weight per token id; 0 for special tokens.
    weights: Vec<f64>,
    mask_id: i64,
    pad_id: u32,
}

impl Masker {
    /// `counts` holds one count per vocabulary id (the shard directory's token counts).
    pub fn new(
        config: &MaskingConfig,
        counts: &[u64],
        specials: &SpecialTokens,
    ) -> Result<Self, DataError> {
        config.validate()?;
        let mut weights: Vec<f64> = counts
            .iter()
            .map(|&c| (c.max(1) as f64).powf(-config.smoothing))
            .collect();
        for &id in &specials.all {
            let slot = weights
                .get_mut(id as usize)
                .ok_or_else(|| DataError::Masking {
                    reason: format!(
                        "special token id {id} is outside the vocabulary of {}",
                        counts.len()
                    ),
                })?;
            *slot = 0.0;
        }
        Ok(Masker {
            strategy: config.strategy,
            mask_prop: config.mask_prop,
            word_mask: config.word_mask,
            word_keep: config.word_keep,
            weights,
            mask_id: i64::from(specials.mask.ok_or_else(|| {
                DataError::Masking {
                    reason: "the shards' tokenizer has no mask token (GPT-2's has none): they \
                         serve causal LMs, which predict the next token and mask nothing"
                        .to_string(),
                }
            })?),
            pad_id: specials.pad,
        })
    }

    /// The selection weight of each token id.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Pads `rows` to the longest and masks them. Every id must be below the vocabulary size
    /// (shards are checked when read).
    pub fn mask<R: Rng + ?Sized>(
        &self,
        rows: &[&[u32]],
        rng: &mut R,
    ) -> Result<BatchRows, DataError> {
        let BatchRows {
            batch,
            len,
            input_ids: mut ids,
            attention_mask,
            mut labels,
        } = BatchRows::padded(rows, self.pad_id);
        // Pads weigh 0 whatever their id, so they are never targets.
        let weight = |i: usize| {
            if attention_mask[i] == 1 {
                self.weights[ids[i] as usize]
            } else {
                0.0
            }
        };
        let mut targets: Vec<usize> = match self.strategy {
            MaskingStrategy::FrequencySmoothed => {
                let n_tokens: i64 = attention_mask.iter().sum();
                let amount = (self.mask_prop * n_tokens as f64).ceil() as usize;
                rand::seq::index::sample_weighted(rng, batch * len, weight, amount)
                    .map_err(|e| DataError::Masking {
                        reason: e.to_string(),
                    })?
                    .into_vec()
            }
            MaskingStrategy::Uniform => (0..batch * len)
                .filter(|&i| weight(i) > 0.0 && rng.random::<f64>() < self.mask_prop)
                .collect(),
        };
        targets.sort_unstable();
        let vocab = self.weights.len() as i64;
        for i in targets {
            labels[i] = ids[i];
            ids[i] = match self.treatment(rng.random::<f64>()) {
                Treatment::Mask => self.mask_id,
                Treatment::Keep => ids[i],
                Treatment::Random => rng.random_range(0..vocab),
            };
        }
        Ok(BatchRows {
            batch,
            len,
            input_ids: ids,
            attention_mask,
            labels,
        })
    }

    fn treatment(&self, u: f64) -> Treatment {
        if u < self.word_mask {
            Treatment::Mask
        } else if u < self.word_mask + self.word_keep {
            Treatment::Keep
        } else {
            Treatment::Random
        }
    }
}
