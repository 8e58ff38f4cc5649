//! Training a WordPiece vocabulary on a corpus with BERT's normalisation, pre-tokenisation and
//! `[CLS] A [SEP] B [SEP]` template, saved as a Hugging Face tokenizer folder (`tokenizer.json`,
//! `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`) that `distil prep` and
//! `transformers`' `BertTokenizerFast` both load. A miniature model cannot learn 30,522
//! embeddings from a few million tokens; a vocabulary sized to the corpus it can.

use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use serde_json::json;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Model, Tokenizer, TokenizerBuilder};

use crate::input::{discover_inputs, read_inputs, TextUnit};
use crate::DataError;

/// BERT's special tokens, given the first ids in this order (`bert-base-uncased` has them at
/// other ids; every user looks them up by name).
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// What to train a vocabulary on, and how big.
#[derive(Debug, Clone)]
pub struct VocabOptions {
    pub inputs: Vec<PathBuf>,
    pub unit: TextUnit,
    /// Tokens in the vocabulary, special tokens included.
    pub vocab_size: usize,
    /// A merge must be seen at least this often.
    pub min_frequency: u64,
    /// Lowercase and strip accents, as `bert-base-uncased` does.
    pub lowercase: bool,
    /// The tokenizer folder to write.
    pub out: PathBuf,
}

/// A vocabulary must hold more than the special tokens.
pub fn check_vocab_size(vocab_size: usize) -> Result<(), String> {
    if vocab_size <= SPECIAL_TOKENS.len() {
        return Err(format!(
            "must exceed the {} special tokens, found {vocab_size}",
            SPECIAL_TOKENS.len()
        ));
    }
    Ok(())
}

/// What training produced.
#[derive(Debug, Clone)]
pub struct TrainedVocab {
    pub dir: PathBuf,
    /// The vocabulary's real size: smaller than asked when the corpus has too few pieces.
    pub vocab_size: usize,
    pub sequences: u64,
}

/// Trains a WordPiece vocabulary on `options.inputs` (the formats `distil prep` reads) and
/// writes the tokenizer folder; every file is written atomically.
pub fn train_vocab(options: &VocabOptions) -> Result<TrainedVocab, DataError> {
    check_vocab_size(options.vocab_size).map_err(|e| DataError::config("vocab_size", e))?;
    let inputs = discover_inputs(&options.inputs)?;
    let mut sequences = Vec::new();
    // The corpus is held in memory while the trainer counts words (18 MB for the shipped one).
    read_inputs(&inputs, options.unit, 1 << 20, |block| {
        sequences.extend(block.lines);
        true
    })?;
    if sequences.is_empty() {
        return Err(DataError::NoSequences {
            inputs: inputs.len(),
        });
    }
    let train_err = |e: tokenizers::Error| DataError::VocabTraining {
        reason: e.to_string(),
    };
    let mut tokenizer = TokenizerBuilder::new()
        .with_model(WordPiece::default())
        .with_normalizer(Some(BertNormalizer::new(
            true,
            true,
            Some(options.lowercase),
            options.lowercase,
        )))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(None::<BertProcessing>)
        .with_decoder(Some(WordPieceDecoder::default()))
        .build()
        .map_err(train_err)?;
    let mut trainer = WordPieceTrainer::builder()
        .vocab_size(options.vocab_size)
        .min_frequency(options.min_frequency)
        .special_tokens(
            SPECIAL_TOKENS
                .iter()
                .map(|t| AddedToken::from(*t, true))
                .collect(),
        )
        .show_progress(false)
        .build();
    tokenizer
        .train(&mut trainer, sequences.iter())
        .map_err(train_err)?;
    let pieces = canonical_order(tokenizer.get_model());
    tokenizer.with_model(renumbered(tokenizer.get_model(), &pieces).map_err(train_err)?);
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .ok_or_else(|| DataError::VocabTraining {
                reason: format!("the trained vocabulary lacks {token}"),
            })
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    tokenizer.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".to_string(), sep),
        ("[CLS]".to_string(), cls),
    )));
    let tokenizer: Tokenizer = tokenizer.into();
    save_tokenizer_dir(&tokenizer, &pieces, options)?;
    Ok(TrainedVocab {
        dir: options.out.clone(),
        vocab_size: pieces.len(),
        sequences: sequences.len() as u64,
    })
}

/// The trained pieces in their new id order: special tokens first, the rest in byte order.
/// The trainer numbers continuation pieces (`##e`) in hash-map order, which changes from run
/// to run; WordPiece's greedy longest-match encoding does not depend on ids, only on the set.
fn canonical_order(model: &WordPiece) -> Vec<String> {
    let mut pieces: Vec<String> = model
        .get_vocab()
        .into_keys()
        .filter(|t| !SPECIAL_TOKENS.contains(&t.as_str()))
        .collect();
    pieces.sort();
    SPECIAL_TOKENS
        .iter()
        .map(|t| t.to_string())
        .chain(pieces)
        .collect()
}

/// `model` with piece `i` of `pieces` as id `i`.
fn renumbered(model: &WordPiece, pieces: &[String]) -> tokenizers::Result<WordPiece> {
    let vocab: ahash::AHashMap<String, u32> = pieces
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect();
    WordPiece::builder()
        .vocab(vocab)
        .unk_token(model.unk_token.clone())
        .continuing_subword_prefix(model.continuing_subword_prefix.clone())
        .max_input_chars_per_word(model.max_input_chars_per_word)
        .build()
}

/// Writes the four files of a `BertTokenizerFast` folder; `pieces` are the tokens by id.
fn save_tokenizer_dir(
    tokenizer: &Tokenizer,
    pieces: &[String],
    options: &VocabOptions,
) -> Result<(), DataError> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|source| DataError::Write {
        path: out.clone(),
        source,
    })?;
    let json = tokenizer
        .to_string(true)
        .map_err(|e| DataError::VocabTraining {
            reason: e.to_string(),
        })?;
    write_atomically(&out.join("tokenizer.json"), json.as_bytes())?;
    // vocab.txt lists the tokens by id, one per line (the slow BertTokenizer's format).
    let vocab: String = pieces.iter().map(|t| format!("{t}\n")).collect();
    write_atomically(&out.join("vocab.txt"), vocab.as_bytes())?;
    let specials = json!({
        "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
        "sep_token": "[SEP]", "mask_token": "[MASK]",
    });
    let mut config = specials.clone();
    config["tokenizer_class"] = json!("BertTokenizer");
    config["do_lower_case"] = json!(options.lowercase);
    write_json(&out.join("tokenizer_config.json"), &config)?;
    write_json(&out.join("special_tokens_map.json"), &specials)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), DataError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| DataError::VocabTraining {
        reason: e.to_string(),
    })?;
    Ok(write_atomically(path, text.as_bytes())?)
}
