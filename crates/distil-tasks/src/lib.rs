//! Downstream tasks: GLUE (nine tasks) and SQuAD v1.1/v2.0 readers, features, fine-tuning
//! and task-time distillation, and each task's official metric; the sliding-window perplexity
//! of a causal language model; zero-shot STS and linear probes of a frozen encoder.
//!
//! The data side works on CPU tensors: features are padded into [`EncoderBatch`]es
//! ([`ClassificationBatch`], [`squad::QaBatch`]) that any head takes, and the heads' logits
//! come back as predictions scored by the official metrics.

pub mod batch;
pub mod error;
pub mod finetune;
pub mod glue;
pub mod output;
pub mod perplexity;
pub mod representation;
pub mod squad;
pub mod tsv;

pub use batch::{special_token_id, EncodedText, EncoderBatch, SegmentIds};
pub use error::TaskError;
pub use glue::{ClassificationBatch, GlueExample, GlueLabel, GlueSplit, GlueTask};
pub use perplexity::{perplexity, Perplexity, SlidingWindow};
