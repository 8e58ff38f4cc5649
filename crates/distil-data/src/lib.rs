//! Data for distillation and fine-tuning: tokenizer loading, corpus preparation into parquet
//! token shards, dynamic MLM masking or next-token targets, and length-grouped batching.

pub mod batch;
pub mod batching;
pub mod config;
pub mod error;
pub mod input;
pub mod loader;
pub mod manifest;
pub mod masking;
pub mod next_token;
pub mod prep;
pub mod sequence;
pub mod shard;
pub mod special_token;
pub mod stream;
pub mod targets;
pub mod tokenizer;
pub mod vocab;

pub use batch::{BatchRows, LmBatch, IGNORE_LABEL};
pub use batching::{Batcher, Row, RowRef};
pub use config::{BatchSize, DataConfig, MaskingConfig, MaskingStrategy, Partition};
pub use error::DataError;
pub use input::TextUnit;
pub use loader::{BatchLoader, LoadedBatch};
pub use manifest::{IdType, Manifest, ShardEntry};
pub use masking::Masker;
pub use next_token::next_token_rows;
pub use prep::{prepare, NoProgress, PrepOptions, PrepProgress, DEFAULT_SHARD_TOKENS};
pub use sequence::{DropCounts, SequenceRules, SpecialTokens};
pub use special_token::SpecialToken;
pub use stream::{BatchStream, DataPosition, StreamItem};
pub use targets::BatchTargets;
pub use tokenizer::{load_tokenizer, TokenizerError};
pub use vocab::{train_vocab, TrainedVocab, VocabOptions};
