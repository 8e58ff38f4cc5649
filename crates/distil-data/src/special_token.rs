//! Finding a special token by its role, whatever the model family spells it: BERT's WordPiece
//! vocabularies have `[MASK]`, RoBERTa's byte-level BPE `<mask>`.

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
    /// How each family spells this token: BERT's first, then RoBERTa's.
    pub fn spellings(self) -> [&'static str; 2] {
        match self {
            SpecialToken::Pad => ["[PAD]", "<pad>"],
            SpecialToken::Mask => ["[MASK]", "<mask>"],
            SpecialToken::Cls => ["[CLS]", "<s>"],
            SpecialToken::Sep => ["[SEP]", "</s>"],
            SpecialToken::Unk => ["[UNK]", "<unk>"],
        }
    }

    /// This token of `tokenizer` and its id: the first spelling the tokenizer has, preferring
    /// one it marks special (its added tokens), so a plain word never stands in for it.
    pub fn find(self, tokenizer: &Tokenizer) -> Option<(&'static str, u32)> {
        let added = tokenizer.get_added_tokens_decoder();
        let marked = self.spellings().into_iter().find_map(|spelling| {
            added
                .iter()
                .find(|(_, token)| token.special && token.content == spelling)
                .map(|(&id, _)| (spelling, id))
        });
        marked.or_else(|| {
            self.spellings()
                .into_iter()
                .find_map(|spelling| tokenizer.token_to_id(spelling).map(|id| (spelling, id)))
        })
    }
}

/// Names the token by its spellings, as an error message needs it.
impl fmt::Display for SpecialToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [bert, roberta] = self.spellings();
        write!(f, "`{bert}` (or `{roberta}`)")
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
    }
}
