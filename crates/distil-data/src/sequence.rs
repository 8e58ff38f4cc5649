//! Turning one encoded line into training sequences exactly as the reference does: wrap in
//! `[CLS] ... [SEP]`, split long ones into chunks that each get `[CLS]`/`[SEP]`, then drop
//! sequences of 11 tokens or fewer and those that are at least half `[UNK]`.

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::special_token::SpecialToken;
use crate::DataError;

/// Sequences of this many tokens or fewer (special tokens included) are dropped.
pub const MIN_KEPT_LEN: usize = 12;

/// Ids of the tokens with a role in batching and masking, plus every special id of the
/// tokenizer. GPT-2's `<|endoftext|>` is its `cls`, `sep`, `pad` and `unk` alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialTokens {
    pub cls: u32,
    pub sep: u32,
    pub pad: u32,
    /// `None` for a tokenizer without one (GPT-2's): its shards serve causal LMs only.
    pub mask: Option<u32>,
    pub unk: u32,
    /// Every id the tokenizer marks special; these are never masking targets.
    pub all: Vec<u32>,
}

impl SpecialTokens {
    /// Reads the special tokens (BERT's `[CLS]`, `[SEP]`, `[PAD]`, `[MASK]`, `[UNK]`,
    /// RoBERTa's `<s>`, `</s>`, `<pad>`, `<mask>`, `<unk>`, or GPT-2's `<|endoftext|>`) of a
    /// tokenizer; `source` names it in the error when one but the mask is missing.
    pub fn of_tokenizer(
        tokenizer: &Tokenizer,
        source: &std::path::Path,
    ) -> Result<Self, DataError> {
        let id = |role: SpecialToken| {
            role.find(tokenizer)
                .map(|(_, id)| id)
                .ok_or_else(|| DataError::TokenizerUnsuitable {
                    path: source.to_path_buf(),
                    reason: format!("it has no {role} token"),
                })
        };
        let (cls, sep, pad, unk) = (
            id(SpecialToken::Cls)?,
            id(SpecialToken::Sep)?,
            id(SpecialToken::Pad)?,
            id(SpecialToken::Unk)?,
        );
        let mask = SpecialToken::Mask.find(tokenizer).map(|(_, id)| id);
        let mut all: Vec<u32> = tokenizer
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, token)| token.special)
            .map(|(id, _)| id)
            .chain([cls, sep, pad, unk])
            .chain(mask)
            .collect();
        all.sort_unstable();
        all.dedup();
        Ok(SpecialTokens {
            cls,
            sep,
            pad,
            mask,
            unk,
            all,
        })
    }
}

/// How many sequences each rule removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropCounts {
    /// Sequences (or chunks) of 11 tokens or fewer.
    pub short: u64,
    /// Sequences with at least 50% `[UNK]`.
    pub unknown: u64,
}

impl DropCounts {
    pub fn add(&mut self, other: DropCounts) {
        self.short += other.short;
        self.unknown += other.unknown;
    }
}

/// The reference's chunking and cleaning rules for one tokenizer and maximum length.
#[derive(Debug, Clone, Copy)]
pub struct SequenceRules {
    pub cls: u32,
    pub sep: u32,
    pub unk: u32,
    pub max_len: usize,
}

impl SequenceRules {
    /// Appends the kept sequences made from one line's ids (without special tokens) to `out`,
    /// counting the dropped ones in `drops`.
    pub fn split(&self, line_ids: &[u32], out: &mut Vec<Vec<u32>>, drops: &mut DropCounts) {
        let mut wrapped = Vec::with_capacity(line_ids.len() + 2);
        wrapped.push(self.cls);
        wrapped.extend_from_slice(line_ids);
        wrapped.push(self.sep);
        if wrapped.len() <= self.max_len {
            self.keep_if_clean(wrapped, out, drops);
            return;
        }
        // The reference cuts the wrapped sequence into pieces of max_len - 2 and adds [CLS]
        // to a piece that does not start with it and [SEP] to one that does not end with it.
        for piece in wrapped.chunks(self.max_len - 2) {
            let mut seq = Vec::with_capacity(piece.len() + 2);
            if piece.first() != Some(&self.cls) {
                seq.push(self.cls);
            }
            seq.extend_from_slice(piece);
            if piece.last() != Some(&self.sep) {
                seq.push(self.sep);
            }
            self.keep_if_clean(seq, out, drops);
        }
    }

    fn keep_if_clean(&self, seq: Vec<u32>, out: &mut Vec<Vec<u32>>, drops: &mut DropCounts) {
        if seq.len() < MIN_KEPT_LEN {
            drops.short += 1;
        } else if 2 * seq.iter().filter(|&&id| id == self.unk).count() >= seq.len() {
            drops.unknown += 1;
        } else {
            out.push(seq);
        }
    }
}
