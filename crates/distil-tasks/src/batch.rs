//! Encoded sequences and their padding into CPU tensors that any encoder head takes.

use distil_core::EncoderInput;
use distil_data::SpecialToken;
use tch::{Device, Tensor};
use tokenizers::Tokenizer;

use crate::TaskError;

/// One tokenized model input, special tokens included, not padded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    pub input_ids: Vec<i64>,
    /// 0 for the first segment ([CLS] A [SEP]), 1 for the second (B [SEP]).
    pub token_type_ids: Vec<i64>,
}

impl EncodedText {
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
}

/// Whether a batch carries segment ids: BERT uses them, DistilBERT has no segment
/// embeddings and takes none (pairs are told apart by [SEP] only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentIds {
    Keep,
    Drop,
}

/// Padded encoder inputs, `[batch, longest]`, `Int64`, on the CPU.
#[derive(Debug)]
pub struct EncoderBatch {
    pub input_ids: Tensor,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor,
    /// `None` under [`SegmentIds::Drop`].
    pub token_type_ids: Option<Tensor>,
}

impl EncoderBatch {
    /// Pads `texts` to the longest of them with `pad_id`. Padding to the batch's longest
    /// rather than to `max_seq_length` gives the same outputs on real tokens (they never
    /// attend to padding) and saves compute.
    pub fn pad(texts: &[&EncodedText], pad_id: i64, segments: SegmentIds) -> Self {
        let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
        let rows = texts.len();
        let mut ids = vec![pad_id; rows * longest];
        let mut mask = vec![0i64; rows * longest];
        let mut types = vec![0i64; rows * longest];
        for (row, text) in texts.iter().enumerate() {
            let at = row * longest;
            ids[at..at + text.len()].copy_from_slice(&text.input_ids);
            mask[at..at + text.len()].fill(1);
            types[at..at + text.len()].copy_from_slice(&text.token_type_ids);
        }
        let shape = [rows as i64, longest as i64];
        Self {
            input_ids: Tensor::from_slice(&ids).view(shape),
            attention_mask: Tensor::from_slice(&mask).view(shape),
            token_type_ids: match segments {
                SegmentIds::Keep => Some(Tensor::from_slice(&types).view(shape)),
                SegmentIds::Drop => None,
            },
        }
    }

    pub fn to_device(&self, device: Device) -> Self {
        Self {
            input_ids: self.input_ids.to_device(device),
            attention_mask: self.attention_mask.to_device(device),
            token_type_ids: self.token_type_ids.as_ref().map(|t| t.to_device(device)),
        }
    }

    /// The view an encoder takes (without attention outputs).
    pub fn encoder_input(&self) -> EncoderInput<'_> {
        let input = EncoderInput::new(&self.input_ids, &self.attention_mask);
        match &self.token_type_ids {
            Some(types) => input.with_token_types(types),
            None => input,
        }
    }
}

/// The id of a special token (`[PAD]` or `<pad>`, ...), or an error naming it.
pub fn special_token_id(tokenizer: &Tokenizer, role: SpecialToken) -> Result<i64, TaskError> {
    role.find(tokenizer)
        .map(|(_, id)| i64::from(id))
        .ok_or(TaskError::MissingSpecialToken(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_and_masks_padding() {
        let a = EncodedText {
            input_ids: vec![101, 7, 102],
            token_type_ids: vec![0, 0, 0],
        };
        let b = EncodedText {
            input_ids: vec![101, 8, 102, 9, 102],
            token_type_ids: vec![0, 0, 0, 1, 1],
        };
        let batch = EncoderBatch::pad(&[&a, &b], 0, SegmentIds::Keep);
        assert_eq!(batch.input_ids.size(), vec![2, 5]);
        let ids: Vec<i64> = Vec::try_from(batch.input_ids.flatten(0, -1)).unwrap();
        assert_eq!(ids, vec![101, 7, 102, 0, 0, 101, 8, 102, 9, 102]);
        let mask: Vec<i64> = Vec::try_from(batch.attention_mask.flatten(0, -1)).unwrap();
        assert_eq!(mask, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        let types: Vec<i64> = Vec::try_from(batch.token_type_ids.unwrap().flatten(0, -1)).unwrap();
        assert_eq!(types, vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert!(EncoderBatch::pad(&[&a], 0, SegmentIds::Drop)
            .token_type_ids
            .is_none());
    }
}
