//! SQuAD examples to model inputs: the question and one window of the context, laid out
//! as the model family takes a pair ([`PairLayout`]: BERT's `[CLS] q [SEP] c [SEP]`,
//! RoBERTa's `<s> q </s></s> c </s>`), with the context cut into overlapping windows, the
//! training targets, and each token's max-context flag.

use std::collections::HashMap;

use distil_data::SpecialToken;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};
use tokenizers::{Encoding, Tokenizer};

use super::layout::{LayoutIds, PairLayout};
use super::reader::SquadExample;
use crate::batch::{special_token_id, EncodedText, EncoderBatch, SegmentIds};
use crate::TaskError;

/// What `doc_stride` means. The two conventions found in the wild are not interchangeable
/// when reproducing numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStrideMode {
    /// `doc_stride` is the step between window starts (windows start at `k * doc_stride`
    /// context tokens), as in Google's BERT, the legacy `run_squad.py` and the reference's
    /// `run_squad_w_distillation.py`.
    #[default]
    Step,
    /// `doc_stride` is the number of context tokens consecutive windows share, as in
    /// `run_qa.py` (the tokenizers' `stride`).
    Overlap,
}

/// How SQuAD examples become features (the `features` block of a SQuAD run config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SquadFeatureConfig {
    /// Tokens per window, special tokens included.
    #[serde(default = "default_max_seq_length")]
    pub max_seq_length: usize,
    /// Step between windows or their overlap, in context tokens; see `doc_stride_mode`.
    #[serde(default = "default_doc_stride")]
    pub doc_stride: usize,
    /// `step` (default, the reference recipe's meaning) or `overlap` (`run_qa.py`'s).
    #[serde(default)]
    pub doc_stride_mode: DocStrideMode,
    /// Question tokens kept; longer questions are cut.
    #[serde(default = "default_max_query_length")]
    pub max_query_length: usize,
}

fn default_max_seq_length() -> usize {
    384
}

fn default_doc_stride() -> usize {
    128
}

fn default_max_query_length() -> usize {
    64
}

impl Default for SquadFeatureConfig {
    fn default() -> Self {
        Self {
            max_seq_length: default_max_seq_length(),
            doc_stride: default_doc_stride(),
            doc_stride_mode: DocStrideMode::default(),
            max_query_length: default_max_query_length(),
        }
    }
}

impl SquadFeatureConfig {
    /// Checks the settings against the layout with the fewest special tokens (BERT's three),
    /// before the model is known; [`SquadFeaturizer::new`] checks them against the model's.
    pub fn validate(&self) -> Result<(), TaskError> {
        self.validate_for(PairLayout::BERT)
    }

    /// Checks the settings for windows laid out as `layout`.
    pub fn validate_for(&self, layout: PairLayout) -> Result<(), TaskError> {
        // The special tokens and a full-length question must leave room for context.
        let specials = layout.special_tokens();
        let room = self
            .max_seq_length
            .checked_sub(self.max_query_length + specials)
            .filter(|room| *room > 0)
            .ok_or_else(|| TaskError::Config {
                key: "max_seq_length",
                reason: format!(
                    "{} leaves no room for context after a {}-token question and {specials} \
                     special tokens",
                    self.max_seq_length, self.max_query_length
                ),
            })?;
        if self.doc_stride == 0 {
            return Err(TaskError::Config {
                key: "doc_stride",
                reason: "must be at least 1".into(),
            });
        }
        if self.doc_stride_mode == DocStrideMode::Overlap && self.doc_stride >= room {
            return Err(TaskError::Config {
                key: "doc_stride",
                reason: format!(
                    "an overlap of {} tokens is not shorter than the {room} context tokens a \
                     window holds with a {}-token question",
                    self.doc_stride, self.max_query_length
                ),
            });
        }
        Ok(())
    }

    /// Window starts and lengths over `doc_len` context tokens, `room` per window.
    fn windows(&self, doc_len: usize, room: usize) -> Vec<(usize, usize)> {
        let step = match self.doc_stride_mode {
            DocStrideMode::Step => self.doc_stride,
            DocStrideMode::Overlap => room - self.doc_stride,
        };
        let mut windows = Vec::new();
        let mut start = 0;
        loop {
            let length = (doc_len - start).min(room);
            windows.push((start, length));
            if start + length >= doc_len {
                return windows;
            }
            // Never step past a window's end: no context token is left out.
            start += step.min(length);
        }
    }
}

/// One window of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct SquadFeature {
    /// Index of the example in the slice the features were built from.
    pub example: usize,
    pub text: EncodedText,
    /// Each token's byte range in the example's context; `None` outside the context
    /// (special tokens, question).
    pub token_spans: Vec<Option<(usize, usize)>>,
    /// Whether this window gives the token its largest context on both sides; only such
    /// tokens may start an answer.
    pub max_context: Vec<bool>,
    /// Training targets: the first gold answer's first and last token, or 0 (the start token,
    /// `[CLS]` or `<s>`) for an impossible question or an answer not wholly inside this window.
    pub start_position: usize,
    pub end_position: usize,
}

impl AsRef<EncodedText> for SquadFeature {
    fn as_ref(&self) -> &EncodedText {
        &self.text
    }
}

impl SquadFeature {
    /// The context text from `start`'s first byte to `end`'s last, when both are context
    /// tokens in order.
    pub fn span_text<'c>(&self, context: &'c str, start: usize, end: usize) -> Option<&'c str> {
        let (from, _) = (*self.token_spans.get(start)?)?;
        let (_, to) = (*self.token_spans.get(end)?)?;
        (from <= to).then(|| context.get(from..to)).flatten()
    }
}

/// Builds SQuAD features with a model family's tokenizer and layout.
#[derive(Debug)]
pub struct SquadFeaturizer {
    tokenizer: Tokenizer,
    config: SquadFeatureConfig,
    layout: PairLayout,
    ids: LayoutIds,
    pad: i64,
}

impl SquadFeaturizer {
    /// A featurizer that lays windows out as `layout` (the model's family) with `tokenizer`,
    /// which must lay pairs out the same way and map its tokens back to the text through
    /// offsets.
    pub fn new(
        tokenizer: &Tokenizer,
        layout: PairLayout,
        config: &SquadFeatureConfig,
    ) -> Result<Self, TaskError> {
        config.validate_for(layout)?;
        let mut tokenizer = tokenizer.clone();
        tokenizer
            .with_truncation(None)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        layout.check_tokenizer(&tokenizer)?;
        let probe = tokenizer
            .encode(OFFSETS_PROBE, false)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        check_offsets(OFFSETS_PROBE, probe.get_offsets())?;
        Ok(Self {
            ids: LayoutIds::of(&tokenizer)?,
            pad: special_token_id(&tokenizer, SpecialToken::Pad)?,
            tokenizer,
            config: config.clone(),
            layout,
        })
    }

    /// The id that pads batches.
    pub fn pad_id(&self) -> i64 {
        self.pad
    }

    /// Every window of every example, in example order. Each paragraph is tokenized once.
    pub fn build(&self, examples: &[SquadExample]) -> Result<Vec<SquadFeature>, TaskError> {
        let mut paragraphs: HashMap<usize, &str> = HashMap::new();
        for example in examples {
            paragraphs
                .entry(example.paragraph)
                .or_insert(&example.context);
        }
        let paragraph_ids: Vec<usize> = paragraphs.keys().copied().collect();
        let contexts: Vec<&str> = paragraph_ids.iter().map(|id| paragraphs[id]).collect();
        let context_encodings = self.encode_all(contexts)?;
        let by_paragraph: HashMap<usize, &Encoding> =
            paragraph_ids.into_iter().zip(&context_encodings).collect();
        // As run_qa.py: leading spaces would become a byte-level `Ġ` on the first word.
        let questions =
            self.encode_all(examples.iter().map(|e| e.question.trim_start()).collect())?;

        let mut features = Vec::new();
        for (index, (example, question)) in examples.iter().zip(&questions).enumerate() {
            let context = by_paragraph[&example.paragraph];
            self.add_windows(index, example, question, context, &mut features);
        }
        Ok(features)
    }

    fn encode_all(&self, texts: Vec<&str>) -> Result<Vec<Encoding>, TaskError> {
        self.tokenizer
            .encode_batch(texts, false)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))
    }

    fn add_windows(
        &self,
        index: usize,
        example: &SquadExample,
        question: &Encoding,
        context: &Encoding,
        features: &mut Vec<SquadFeature>,
    ) {
        let question_ids = &question.get_ids()[..question.len().min(self.config.max_query_length)];
        let doc_ids = context.get_ids();
        let doc_spans = context.get_offsets();
        let room = self.config.max_seq_length - question_ids.len() - self.layout.special_tokens();
        let windows = self.config.windows(doc_ids.len(), room);
        let answer = answer_tokens(example, doc_spans);
        let doc_offset = self.layout.context_offset(question_ids.len());

        for (window_index, &(start, length)) in windows.iter().enumerate() {
            let text =
                self.layout
                    .assemble(self.ids, question_ids, &doc_ids[start..start + length]);

            let mut token_spans = vec![None; doc_offset];
            let mut max_context = vec![false; doc_offset];
            for (position, span) in doc_spans.iter().enumerate().skip(start).take(length) {
                token_spans.push(Some(*span));
                max_context.push(is_max_context(&windows, window_index, position));
            }
            token_spans.push(None);
            max_context.push(false);

            let (start_position, end_position) = match answer {
                Some((first, last)) if start <= first && last < start + length => {
                    (first - start + doc_offset, last - start + doc_offset)
                }
                _ => (0, 0),
            };
            features.push(SquadFeature {
                example: index,
                text,
                token_spans,
                max_context,
                start_position,
                end_position,
            });
        }
    }
}

/// A short text whose tokens' offsets show whether a tokenizer maps tokens back to the text:
/// words with and without a leading space, punctuation, and a multi-byte character.
const OFFSETS_PROBE: &str = "Who won? The Broncos won, in 2016 at Santa Clara — café.";

/// An error unless `offsets` locate the tokens of `text`: in bounds, on character
/// boundaries, in order, and some of them non-empty. SQuAD answers are cut from the context
/// through them; a tokenizer that reports none would give empty answers.
fn check_offsets(text: &str, offsets: &[(usize, usize)]) -> Result<(), TaskError> {
    let mut previous = 0;
    for &(start, end) in offsets {
        if start > end || end > text.len() || text.get(start..end).is_none() {
            return Err(TaskError::Offsets(format!(
                "span {start}..{end} is not a piece of the {}-byte text {text:?}",
                text.len()
            )));
        }
        if start < previous {
            return Err(TaskError::Offsets(format!(
                "span {start}..{end} starts before the previous token's start {previous}"
            )));
        }
        previous = start;
    }
    if !text.trim().is_empty() && offsets.iter().all(|(start, end)| start == end) {
        return Err(TaskError::Offsets(format!(
            "no token of {text:?} has a non-empty span"
        )));
    }
    Ok(())
}

/// The first gold answer's first and last context token: the first token ending after the
/// answer starts and the last token starting before it ends. When the answer starts or ends
/// with a character that byte-level BPE splits over several tokens (each with the character's
/// span), the target is the last of those at the start and the first at the end, as in
/// run_qa.py. `None` for an impossible question, or when no token covers the answer (it is
/// all whitespace or control characters, which the tokenizer drops).
fn answer_tokens(example: &SquadExample, doc_spans: &[(usize, usize)]) -> Option<(usize, usize)> {
    if example.is_impossible {
        return None;
    }
    let answer = example.answers.first()?;
    let context = &example.context;
    let byte_of = |char_index: usize| {
        context
            .char_indices()
            .nth(char_index)
            .map_or(context.len(), |(byte, _)| byte)
    };
    let from = byte_of(answer.char_start);
    let to = from + answer.text.len();
    let first = doc_spans.iter().position(|&(_, end)| end > from)?;
    let last = doc_spans.iter().rposition(|&(start, _)| start < to)?;
    if first > last {
        return None;
    }
    let same_span = |a: usize, b: usize| doc_spans[a] == doc_spans[b];
    let inner_first = (first..=last)
        .take_while(|&i| same_span(i, first))
        .last()
        .unwrap_or(first);
    let inner_last = (first..=last)
        .rev()
        .take_while(|&i| same_span(i, last))
        .last()
        .unwrap_or(last);
    // An answer of one split character keeps all its pieces.
    Some(if inner_first <= inner_last {
        (inner_first, inner_last)
    } else {
        (first, last)
    })
}

/// Whether window `current` gives context token `position` more context than any other
/// window: the score is the shorter side's context plus a hundredth of the window length,
/// and the first window wins a tie (as in Google's BERT).
fn is_max_context(windows: &[(usize, usize)], current: usize, position: usize) -> bool {
    let mut best: Option<(f64, usize)> = None;
    for (index, &(start, length)) in windows.iter().enumerate() {
        if position < start || position >= start + length {
            continue;
        }
        let left = position - start;
        let right = start + length - 1 - position;
        let score = left.min(right) as f64 + 0.01 * length as f64;
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, index));
        }
    }
    best.is_some_and(|(_, index)| index == current)
}

/// A batch for a question-answering head.
#[derive(Debug)]
pub struct QaBatch {
    pub inputs: EncoderBatch,
    /// `[batch]`, `Int64`: target token indices (0, the start token, for no answer).
    pub start_positions: Tensor,
    pub end_positions: Tensor,
}

impl QaBatch {
    pub fn collate(features: &[&SquadFeature], pad_id: i64, segments: SegmentIds) -> Self {
        let texts: Vec<&EncodedText> = features.iter().map(|f| &f.text).collect();
        let starts: Vec<i64> = features.iter().map(|f| f.start_position as i64).collect();
        let ends: Vec<i64> = features.iter().map(|f| f.end_position as i64).collect();
        Self {
            inputs: EncoderBatch::pad(&texts, pad_id, segments),
            start_positions: Tensor::from_slice(&starts),
            end_positions: Tensor::from_slice(&ends),
        }
    }

    pub fn to_device(&self, device: Device) -> Self {
        Self {
            inputs: self.inputs.to_device(device),
            start_positions: self.start_positions.to_device(device),
            end_positions: self.end_positions.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::squad::SquadAnswer;

    fn config(doc_stride: usize, mode: DocStrideMode) -> SquadFeatureConfig {
        SquadFeatureConfig {
            doc_stride,
            doc_stride_mode: mode,
            ..SquadFeatureConfig::default()
        }
    }

    #[test]
    fn step_mode_starts_windows_every_doc_stride_tokens() {
        let windows = config(128, DocStrideMode::Step).windows(700, 300);
        assert_eq!(
            windows,
            vec![(0, 300), (128, 300), (256, 300), (384, 300), (512, 188)]
        );
    }

    #[test]
    fn overlap_mode_shares_doc_stride_tokens_between_windows() {
        let windows = config(128, DocStrideMode::Overlap).windows(700, 300);
        assert_eq!(windows, vec![(0, 300), (172, 300), (344, 300), (516, 184)]);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].0 + pair[0].1 - pair[1].0, 128);
        }
    }

    #[test]
    fn a_short_context_is_one_window_and_steps_never_skip_tokens() {
        assert_eq!(
            config(128, DocStrideMode::Step).windows(50, 300),
            vec![(0, 50)]
        );
        assert_eq!(
            config(128, DocStrideMode::Step).windows(0, 300),
            vec![(0, 0)]
        );
        assert_eq!(
            config(10, DocStrideMode::Step).windows(9, 4),
            vec![(0, 4), (4, 4), (8, 1)]
        );
    }

    #[test]
    fn max_context_prefers_the_more_central_window() {
        let windows = [(0, 10), (5, 10)];
        // Token 6: 6 left/3 right in window 0 (score 3.1), 1/8 in window 1 (1.1).
        assert!(is_max_context(&windows, 0, 6));
        assert!(!is_max_context(&windows, 1, 6));
        // Token 9: 9/0 in window 0 (0.1), 4/5 in window 1 (4.1).
        assert!(is_max_context(&windows, 1, 9));
    }

    fn example(context: &str, answer: &str, char_start: usize) -> SquadExample {
        SquadExample {
            id: "q".into(),
            question: "?".into(),
            context: context.into(),
            paragraph: 0,
            answers: vec![SquadAnswer {
                text: answer.into(),
                char_start,
            }],
            is_impossible: false,
        }
    }

    #[test]
    fn split_characters_give_the_inner_pieces_as_targets() {
        // "a £5 é": byte-level tokens `a`, `Ġ`, `Â`, `£` (both pieces of `£` span bytes
        // 2..4), `5`, `Ġ`, `Ã`, `©` (`é`, bytes 6..8).
        let context = "a £5 é";
        let spans = [
            (0, 1),
            (2, 2),
            (2, 4),
            (2, 4),
            (4, 5),
            (6, 6),
            (6, 8),
            (6, 8),
        ];
        assert_eq!(
            answer_tokens(&example(context, "£5 é", 2), &spans),
            Some((3, 6))
        );
        assert_eq!(
            answer_tokens(&example(context, "5", 3), &spans),
            Some((4, 4))
        );
        // One split character alone keeps both its pieces.
        assert_eq!(
            answer_tokens(&example(context, "é", 5), &spans),
            Some((6, 7))
        );
        // WordPiece spans never repeat: the outer tokens, as before.
        let pieces = [(0, 1), (2, 4), (4, 5)];
        assert_eq!(
            answer_tokens(&example(context, "£5", 2), &pieces),
            Some((1, 2))
        );
    }

    #[test]
    fn offsets_must_locate_tokens_in_the_text() {
        let text = "Who won? café";
        assert!(check_offsets(text, &[(0, 3), (4, 7), (7, 8), (9, 14), (14, 14)]).is_ok());
        for (offsets, says) in [
            (vec![(0, 0), (0, 0)], "non-empty"),
            (vec![(0, 3), (9, 40)], "not a piece"),
            // Byte 13 is inside `é`.
            (vec![(9, 13)], "not a piece"),
            (vec![(4, 7), (0, 3)], "before"),
        ] {
            let message = check_offsets(text, &offsets).unwrap_err().to_string();
            assert!(message.contains(says), "{offsets:?}: {message}");
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        let overlap_too_long = SquadFeatureConfig {
            doc_stride: 317,
            doc_stride_mode: DocStrideMode::Overlap,
            ..SquadFeatureConfig::default()
        };
        assert!(overlap_too_long.validate().is_err());
        let no_room = SquadFeatureConfig {
            max_seq_length: 67,
            ..SquadFeatureConfig::default()
        };
        assert!(no_room.validate().is_err());
        assert!(SquadFeatureConfig::default().validate().is_ok());
        // RoBERTa's fourth special token takes the last context slot.
        let one_slot = SquadFeatureConfig {
            max_seq_length: 68,
            doc_stride: 1,
            doc_stride_mode: DocStrideMode::Step,
            ..SquadFeatureConfig::default()
        };
        assert!(one_slot.validate_for(PairLayout::BERT).is_ok());
        assert!(one_slot.validate_for(PairLayout::ROBERTA).is_err());
    }
}
