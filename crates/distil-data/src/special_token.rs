//! Finding a special token by its role, whatever the model family spells it: BERT's WordPiece
//! vocabularies have `[MASK]`, RoBERTa's byte-level BPE `<mask>`, and GPT-2's has a single
//! `<|endoftext|>` that starts, ends and pads its sequences (and no mask token at all).

use std::fmt;

use tokenizers::Tokenizer;

/// The role of a special token in a model's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialToken {
    /// Fills batches to one length (`[PAD]`, `<pad>`).
    Pad,
    /// Stands for the tokens a masked LM predicts (`[MASK]`, `<mask>`).
    Mask,
    /// Starts a sequence (`[CLS]`, `<s>`).
    Cls,
    /// Ends a segment (`[SEP]`, `</s>`).
    Sep,
    /// Replaces what the vocabulary cannot spell (`[UNK]`, `<unk>`).
    Unk,
}

impl SpecialToken {
    /// How each family spells this token: BERT's first, then RoBERTa's, then GPT-2's (whose
    /// tokenizers have no pad token; the reference pads causal batches with `<|endoftext|>`).
    pub fn spellings(self) -> &'static [&'static str] {
        const END_OF_TEXT: &str = "<|endoftext|>";
        match self {
            SpecialToken::Pad => &["[PAD]", "<pad>", END_OF_TEXT],
            SpecialToken::Mask => &["[MASK]", "<mask>"],
            SpecialToken::Cls => &["[CLS]", "<s>", END_OF_TEXT],
            SpecialToken::Sep => &["[SEP]", "</s>", END_OF_TEXT],
            SpecialToken::Unk => &["[UNK]", "<unk>", END_OF_TEXT],
        }
    }

    /// This token of `tokenizer` and its id: the first spelling the tokenizer has, preferring
    /// one it marks special (its added tokens), so a plain word never stands in for it.
    pub fn find(self, tokenizer: &Tokenizer) -> Option<(&'static str, u32)> {
        let added = tokenizer.get_added_tokens_decoder();
        let marked = self.spellings().iter().find_map(|&spelling| {
            added
                .iter()
                .find(|(_, token)| token.special && token.content == spelling)
                .map(|(&id, _)| (spelling, id))
        });
        marked.or_else(|| {
            self.spellings()
                .iter()
                .find_map(|&spelling| tokenizer.token_to_id(spelling).map(|id| (spelling, id)))
        })
    }
}

/// Names the token by its spellings, as an error message needs it.
impl fmt::Display for SpecialToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, others) = self.spellings().split_first().unwrap_or((&"", &[]));
        write!(f, "`{first}`")?;
        if !others.is_empty() {
            let others: Vec<String> = others.iter().map(|s| format!("`{s}`")).collect();
            write!(f, " (or {})", others.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use distil_testkit::fixture;

    use super::*;

    fn tokenizer(name: &str) -> Tokenizer {
        crate::load_tokenizer(&fixture(name).display().to_string()).expect("fixture tokenizer")
    }

    #[test]
    fn each_family_finds_its_own_spelling() {
        let bert = tokenizer("bert-mlm");
        let roberta = tokenizer("roberta-mlm");
        for (role, bert_token, roberta_token) in [
            (SpecialToken::Pad, "[PAD]", ("<pad>", 1)),
            (SpecialToken::Mask, "[MASK]", ("<mask>", 4)),
            (SpecialToken::Cls, "[CLS]", ("<s>", 0)),
            (SpecialToken::Sep, "[SEP]", ("</s>", 2)),
            (SpecialToken::Unk, "[UNK]", ("<unk>", 3)),
        ] {
            let found = role.find(&bert).map(|(token, _)| token);
            assert_eq!(found, Some(bert_token), "{role}");
            assert_eq!(role.find(&roberta), Some(roberta_token), "{role}");
        }
        assert_eq!(SpecialToken::Mask.to_string(), "`[MASK]` (or `<mask>`)");
        assert_eq!(
            SpecialToken::Pad.to_string(),
            "`[PAD]` (or `<pad>`, `<|endoftext|>`)"
        );
    }

    #[test]
    fn gpt2_has_one_token_for_every_role_but_the_mask() {
        let gpt2 = tokenizer("gpt2-lm");
        for role in [
            SpecialToken::Pad,
            SpecialToken::Cls,
            SpecialToken::Sep,
            SpecialToken::Unk,
        ] {
            assert_eq!(role.find(&gpt2), Some(("<|endoftext|>", 0)), "{role}");
        }
        assert_eq!(SpecialToken::Mask.find(&gpt2), None);
    }
}
