//! Data for distillation and fine-tuning: tokenizer loading, corpus preparation into parquet
//! token shards, dynamic MLM masking and length-grouped batching.

pub mod batching;
pub mod config;
pub mod error;
pub mod input;
pub mod loader;
pub mod manifest;
pub mod masking;
pub mod prep;
pub mod sequence;
pub mod shard;
pub mod special_token;
pub mod stream;
pub mod tokenizer;
pub mod vocab;

pub use batching::{Batcher, Row, RowRef};
pub use config::{BatchSize, DataConfig, MaskingConfig, MaskingStrategy, Partition};
pub use error::DataError;
pub use input::TextUnit;
pub use loader::{LoadedBatch, MlmLoader};
pub use manifest::{IdType, Manifest, ShardEntry};
pub use masking::{MaskedRows, Masker, MlmBatch, IGNORE_LABEL};
pub use prep::{prepare, NoProgress, PrepOptions, PrepProgress, DEFAULT_SHARD_TOKENS};
pub use sequence::{DropCounts, SequenceRules, SpecialTokens};
pub use special_token::SpecialToken;
pub use stream::{DataPosition, MlmStream, StreamItem};
pub use tokenizer::{load_tokenizer, TokenizerError};
pub use vocab::{train_vocab, TrainedVocab, VocabOptions};
