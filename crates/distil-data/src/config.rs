//! The `data:` section of a distillation config. Defaults are the reference recipe.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::DataError;

/// How masking targets are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskingStrategy {
    /// The DistilBERT reference: `ceil(mask_prop x sum(lengths))` targets per batch, drawn
    /// without replacement with weight `max(count, 1)^-smoothing` per token.
    FrequencySmoothed,
    /// BERT's: every non-special token is a target with probability `mask_prop`.
    Uniform,
}

/// `data.masking`: the MLM masking recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingConfig {
    pub strategy: MaskingStrategy,
    /// Share of tokens that become prediction targets.
    pub mask_prop: f64,
    /// Of the targets: replaced by `[MASK]`, kept, replaced by a uniform random id.
    pub word_mask: f64,
    pub word_keep: f64,
    pub word_rand: f64,
    /// Exponent of the frequency smoothing (`frequency_smoothed` only).
    pub smoothing: f64,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            strategy: MaskingStrategy::FrequencySmoothed,
            mask_prop: 0.15,
            word_mask: 0.8,
            word_keep: 0.1,
            word_rand: 0.1,
            smoothing: 0.7,
        }
    }
}

impl MaskingConfig {
    pub fn validate(&self) -> Result<(), DataError> {
        if !(self.mask_prop > 0.0 && self.mask_prop <= 1.0) {
            return Err(DataError::config(
                "data.masking.mask_prop",
                format!("must be in (0, 1], found {}", self.mask_prop),
            ));
        }
        for (key, value) in [
            ("data.masking.word_mask", self.word_mask),
            ("data.masking.word_keep", self.word_keep),
            ("data.masking.word_rand", self.word_rand),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(DataError::config(
                    key,
                    format!("must be in [0, 1], found {value}"),
                ));
            }
        }
        let sum = self.word_mask + self.word_keep + self.word_rand;
        if (sum - 1.0).abs() > 1e-6 {
            return Err(DataError::config(
                "data.masking.word_mask",
                format!("word_mask + word_keep + word_rand must be 1, found {sum}"),
            ));
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return Err(DataError::config(
                "data.masking.smoothing",
                format!("must be a finite number >= 0, found {}", self.smoothing),
            ));
        }
        Ok(())
    }
}

/// How big a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// A fixed number of sequences.
    Sequences(usize),
    /// As many sequences as fit when padded to the batch's longest.
    Tokens(usize),
}

/// `data`: where the shards are and how they are batched and masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The directory `distil prep` wrote.
    pub shards: PathBuf,
    /// Sequences per batch (the reference's per-GPU 5 when neither this nor `max_tokens` is set).
    pub batch_size: Option<usize>,
    /// Padded tokens per batch, instead of `batch_size`.
    pub max_tokens: Option<usize>,
    /// Group sequences into length buckets of width 4, as the reference does.
    pub group_by_size: bool,
    /// Rows held in the streaming shuffle buffer.
    pub shuffle_buffer: usize,
    /// Batches prepared ahead by the background thread.
    pub prefetch: usize,
    pub seed: u64,
    pub masking: MaskingConfig,
    /// This process's share of the rows under data-parallel training; set from the launcher's
    /// world, never from the YAML.
    #[serde(skip)]
    pub partition: Partition,
}

/// Rank `rank` of `world_size` data-parallel ranks, each reading a disjoint share of every
/// epoch's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub rank: usize,
    pub world_size: usize,
}

impl Default for Partition {
    fn default() -> Self {
        Partition {
            rank: 0,
            world_size: 1,
        }
    }
}

/// Seeds the partition draws apart from the shuffle and masking streams of the same seed.
const PARTITION_SEED_MIX: u64 = 0x7061_7274_6974_696f;

impl Partition {
    /// Whether this rank reads row `index` of `epoch`'s reading order. Rows are dealt in
    /// blocks of `world_size`, one to each rank, in an order rotated by a draw from (`seed`,
    /// `epoch`, block): every rank gets the same number of rows (within one) and the split
    /// changes every epoch.
    pub fn owns(&self, seed: u64, epoch: u64, index: u64) -> bool {
        let world = self.world_size as u64;
        if world == 1 {
            return true;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ PARTITION_SEED_MIX);
        rng.set_stream(epoch);
        // Two 32-bit words per draw: each block has its own.
        rng.set_word_pos(u128::from(index / world) * 2);
        let rotation = rng.random_range(0..world);
        (index % world + rotation) % world == self.rank as u64
    }
}

/// The reference's per-GPU batch size.
const REFERENCE_BATCH_SIZE: usize = 5;

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            shards: PathBuf::new(),
            batch_size: None,
            max_tokens: None,
            group_by_size: true,
            shuffle_buffer: 10_000,
            prefetch: 4,
            seed: 56,
            masking: MaskingConfig::default(),
            partition: Partition::default(),
        }
    }
}

impl DataConfig {
    pub fn validate(&self) -> Result<(), DataError> {
        if self.shards.as_os_str().is_empty() {
            return Err(DataError::config(
                "data.shards",
                "required: the directory written by `distil prep`",
            ));
        }
        match (self.batch_size, self.max_tokens) {
            (Some(_), Some(_)) => {
                return Err(DataError::config(
                    "data.max_tokens",
                    "give either data.batch_size or data.max_tokens, not both",
                ))
            }
            (Some(0), _) => return Err(DataError::config("data.batch_size", "must be >= 1")),
            (_, Some(0)) => return Err(DataError::config("data.max_tokens", "must be >= 1")),
            _ => {}
        }
        if self.shuffle_buffer == 0 {
            return Err(DataError::config(
                "data.shuffle_buffer",
                "must be >= 1 (1 keeps the shard order)",
            ));
        }
        if self.partition.world_size == 0 || self.partition.rank >= self.partition.world_size {
            return Err(DataError::config(
                "data.partition",
                format!(
                    "rank {} of {} ranks is out of range",
                    self.partition.rank, self.partition.world_size
                ),
            ));
        }
        if self.prefetch == 0 {
            return Err(DataError::config("data.prefetch", "must be >= 1"));
        }
        self.masking.validate()
    }

    pub fn batch_size(&self) -> BatchSize {
        match (self.batch_size, self.max_tokens) {
            (_, Some(tokens)) => BatchSize::Tokens(tokens),
            (Some(n), None) => BatchSize::Sequences(n),
            (None, None) => BatchSize::Sequences(REFERENCE_BATCH_SIZE),
        }
    }
}
