//! Where a question and a context window sit among a model family's special tokens: BERT's
//! `[CLS] q [SEP] c [SEP]` with segment ids, RoBERTa's `<s> q </s></s> c </s>` without.

use distil_data::SpecialToken;
use tokenizers::Tokenizer;

use crate::batch::{special_token_id, EncodedText};
use crate::TaskError;

/// How one window's input is laid out: the start token, the question, `separators` end
/// tokens, the context, one end token. The start token is at index 0 in every layout, so it
/// is the null answer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLayout {
    /// End tokens between the question and the context: BERT's one `[SEP]`, RoBERTa's two
    /// `</s>`.
    pub separators: usize,
    /// Whether the context and its closing end token take segment id 1 (BERT); otherwise
    /// every token takes 0, as RoBERTa's tokenizer gives no token types.
    pub segment_ids: bool,
}

impl PairLayout {
    /// BERT's and DistilBERT's `[CLS] q [SEP] c [SEP]`, the context in segment 1.
    pub const BERT: Self = Self {
        separators: 1,
        segment_ids: true,
    };

    /// RoBERTa's `<s> q </s></s> c </s>`, one segment.
    pub const ROBERTA: Self = Self {
        separators: 2,
        segment_ids: false,
    };

    /// Special tokens per window.
    pub fn special_tokens(&self) -> usize {
        self.separators + 2
    }

    /// The index of the first context token after a question of `question_len` tokens.
    pub fn context_offset(&self, question_len: usize) -> usize {
        1 + question_len + self.separators
    }

    /// How the layout reads, for messages.
    pub fn describe(&self) -> String {
        let seps = vec!["SEP"; self.separators].join(" ");
        let types = if self.segment_ids {
            "segment ids 0/1"
        } else {
            "no segment ids"
        };
        format!("CLS q {seps} c SEP, {types}")
    }

    /// The input ids and segment ids of one window.
    pub fn assemble(&self, ids: LayoutIds, question: &[u32], context: &[u32]) -> EncodedText {
        let offset = self.context_offset(question.len());
        let mut input_ids = Vec::with_capacity(offset + context.len() + 1);
        input_ids.push(ids.cls);
        input_ids.extend(question.iter().map(|&id| i64::from(id)));
        input_ids.extend(std::iter::repeat_n(ids.sep, self.separators));
        input_ids.extend(context.iter().map(|&id| i64::from(id)));
        input_ids.push(ids.sep);
        let mut token_type_ids = vec![0i64; offset];
        token_type_ids.resize(input_ids.len(), i64::from(self.segment_ids));
        EncodedText {
            input_ids,
            token_type_ids,
        }
    }

    /// An error unless `tokenizer`'s own post-processor lays a pair out this way: a tokenizer
    /// of another family would give the model inputs it was never trained on. A tokenizer
    /// that adds no special tokens to a pair says nothing and passes.
    pub fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<(), TaskError> {
        let ids = LayoutIds::of(tokenizer)?;
        let pair = tokenizer
            .encode(("question", "context"), true)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        let plain = |text: &str| {
            tokenizer
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| TaskError::Tokenizer(e.to_string()))
        };
        let (question, context) = (plain("question")?, plain("context")?);
        if pair.len() == question.len() + context.len() {
            return Ok(());
        }
        let expected = self.assemble(ids, &question, &context);
        let found = EncodedText {
            input_ids: pair.get_ids().iter().map(|&id| i64::from(id)).collect(),
            token_type_ids: pair.get_type_ids().iter().map(|&t| i64::from(t)).collect(),
        };
        // Segment ids matter only to a layout that uses them; RoBERTa's are all 0 anyway.
        let same = expected.input_ids == found.input_ids
            && (!self.segment_ids || expected.token_type_ids == found.token_type_ids);
        if same {
            return Ok(());
        }
        let types: Vec<String> = found
            .token_type_ids
            .iter()
            .map(ToString::to_string)
            .collect();
        Err(TaskError::Layout {
            expected: self.describe(),
            found: format!(
                "`{}` (segment ids {})",
                pair.get_tokens().join(" "),
                types.join(" ")
            ),
        })
    }
}

/// The ids of the tokens a layout places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutIds {
    /// `[CLS]` or `<s>`.
    pub cls: i64,
    /// `[SEP]` or `</s>`.
    pub sep: i64,
}

impl LayoutIds {
    /// The start and end tokens of `tokenizer`, found by their role.
    pub fn of(tokenizer: &Tokenizer) -> Result<Self, TaskError> {
        Ok(Self {
            cls: special_token_id(tokenizer, SpecialToken::Cls)?,
            sep: special_token_id(tokenizer, SpecialToken::Sep)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: LayoutIds = LayoutIds { cls: 0, sep: 2 };

    #[test]
    fn bert_puts_one_separator_and_segment_one_on_the_context() {
        let text = PairLayout::BERT.assemble(IDS, &[7, 8], &[9]);
        assert_eq!(text.input_ids, vec![0, 7, 8, 2, 9, 2]);
        assert_eq!(text.token_type_ids, vec![0, 0, 0, 0, 1, 1]);
        assert_eq!(PairLayout::BERT.context_offset(2), 4);
        assert_eq!(PairLayout::BERT.special_tokens(), 3);
    }

    #[test]
    fn roberta_puts_two_separators_and_no_segments() {
        let text = PairLayout::ROBERTA.assemble(IDS, &[7, 8], &[9]);
        assert_eq!(text.input_ids, vec![0, 7, 8, 2, 2, 9, 2]);
        assert_eq!(text.token_type_ids, vec![0; 7]);
        assert_eq!(PairLayout::ROBERTA.context_offset(2), 5);
        assert_eq!(PairLayout::ROBERTA.special_tokens(), 4);
    }
}
