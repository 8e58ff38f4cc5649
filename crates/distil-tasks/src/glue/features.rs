//! GLUE examples to model inputs: `[CLS] A [SEP] (B [SEP])` (RoBERTa's tokenizer: `<s> A </s>
//! (</s> B </s>)`), truncated to `max_seq_length` longest-first (the longer sentence loses
//! tokens first), and their batches.

use distil_data::SpecialToken;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};
use tokenizers::{EncodeInput, Tokenizer, TruncationParams, TruncationStrategy};

use super::reader::{GlueExample, GlueLabel};
use crate::batch::{special_token_id, EncodedText, EncoderBatch, SegmentIds};
use crate::TaskError;

/// How GLUE text becomes features (the `features` block of a GLUE run config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlueFeatureConfig {
    /// Tokens per input, special tokens included (`run_glue.py`: 128).
    #[serde(default = "default_max_seq_length")]
    pub max_seq_length: usize,
}

fn default_max_seq_length() -> usize {
    128
}

impl Default for GlueFeatureConfig {
    fn default() -> Self {
        Self {
            max_seq_length: default_max_seq_length(),
        }
    }
}

impl GlueFeatureConfig {
    pub fn validate(&self) -> Result<(), TaskError> {
        // A pair needs its three special tokens and one token of each sentence.
        if self.max_seq_length < 5 {
            return Err(TaskError::Config {
                key: "max_seq_length",
                reason: format!("{} is too short; at least 5", self.max_seq_length),
            });
        }
        Ok(())
    }
}

/// One encoded example and its gold label.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueFeature {
    pub text: EncodedText,
    pub label: Option<GlueLabel>,
}

impl AsRef<EncodedText> for GlueFeature {
    fn as_ref(&self) -> &EncodedText {
        &self.text
    }
}

/// Tokenizes GLUE examples with the tokenizer's pair template and longest-first truncation.
#[derive(Debug)]
pub struct GlueEncoder {
    tokenizer: Tokenizer,
    pad_id: i64,
}

impl GlueEncoder {
    pub fn new(tokenizer: &Tokenizer, config: &GlueFeatureConfig) -> Result<Self, TaskError> {
        config.validate()?;
        let mut tokenizer = tokenizer.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                ..TruncationParams::default()
            }))
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        let pad_id = special_token_id(&tokenizer, SpecialToken::Pad)?;
        Ok(Self { tokenizer, pad_id })
    }

    /// The id that pads batches.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    /// Encodes every example (in parallel), keeping their order.
    pub fn encode(&self, examples: &[GlueExample]) -> Result<Vec<GlueFeature>, TaskError> {
        let inputs: Vec<EncodeInput<'_>> = examples
            .iter()
            .map(|e| match &e.text_b {
                Some(b) => (e.text_a.as_str(), b.as_str()).into(),
                None => e.text_a.as_str().into(),
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        Ok(encodings
            .iter()
            .zip(examples)
            .map(|(encoding, example)| GlueFeature {
                text: EncodedText {
                    input_ids: encoding.get_ids().iter().map(|&id| i64::from(id)).collect(),
                    token_type_ids: encoding
                        .get_type_ids()
                        .iter()
                        .map(|&id| i64::from(id))
                        .collect(),
                },
                label: example.label,
            })
            .collect())
    }
}

/// A batch for a sequence-classification (or STS-B regression) head.
#[derive(Debug)]
pub struct ClassificationBatch {
    pub inputs: EncoderBatch,
    /// `[batch]`: `Int64` class ids, or `Float` scores for STS-B; `None` when any feature in
    /// the batch is unlabelled (test splits).
    pub labels: Option<Tensor>,
}

impl ClassificationBatch {
    pub fn collate(features: &[&GlueFeature], pad_id: i64, segments: SegmentIds) -> Self {
        let texts: Vec<&EncodedText> = features.iter().map(|f| &f.text).collect();
        let classes: Option<Vec<i64>> = features
            .iter()
            .map(|f| match f.label {
                Some(GlueLabel::Class(c)) => Some(c as i64),
                _ => None,
            })
            .collect();
        let scores: Option<Vec<f32>> = features
            .iter()
            .map(|f| match f.label {
                Some(GlueLabel::Score(s)) => Some(s as f32),
                _ => None,
            })
            .collect();
        Self {
            inputs: EncoderBatch::pad(&texts, pad_id, segments),
            labels: classes
                .map(|c| Tensor::from_slice(&c))
                .or_else(|| scores.map(|s| Tensor::from_slice(&s))),
        }
    }

    pub fn to_device(&self, device: Device) -> Self {
        Self {
            inputs: self.inputs.to_device(device),
            labels: self.labels.as_ref().map(|l| l.to_device(device)),
        }
    }
}
