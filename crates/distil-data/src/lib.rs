//! Data for distillation and fine-tuning: tokenizer loading, corpus preparation into parquet
//! token shards, dynamic MLM masking and length-grouped batching.

pub mod tokenizer;

pub use tokenizer::{load_tokenizer, TokenizerError};
