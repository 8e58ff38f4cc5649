//! `train_vocab`: a WordPiece vocabulary trained on a corpus is a working BERT tokenizer
//! folder (special tokens first, `[CLS] ... [SEP]` template, uncased), the same on every run,
//! and `prepare` shards a corpus with it.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use distil_data::vocab::SPECIAL_TOKENS;
use distil_data::{load_tokenizer, train_vocab, DataError, TextUnit, VocabOptions};

fn vocab_options(dir: &std::path::Path, vocab_size: usize) -> VocabOptions {
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, book_lines(2000).join("\n")).unwrap();
    VocabOptions {
        inputs: vec![corpus],
        unit: TextUnit::Line,
        vocab_size,
        min_frequency: 2,
        lowercase: true,
        out: dir.join("vocab"),
    }
}

#[test]
fn a_trained_vocabulary_is_a_bert_tokenizer_folder() {
    let dir = tempfile::tempdir().unwrap();
    let options = vocab_options(dir.path(), 600);
    let trained = train_vocab(&options).unwrap();
    assert_eq!(trained.vocab_size, 600);
    assert_eq!(trained.sequences, 2000);
    let vocab = std::fs::read_to_string(options.out.join("vocab.txt")).unwrap();
    let tokens: Vec<&str> = vocab.lines().collect();
    assert_eq!(tokens.len(), 600);
    assert_eq!(tokens[..5], SPECIAL_TOKENS);
    for name in ["tokenizer_config.json", "special_tokens_map.json"] {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(options.out.join(name)).unwrap()).unwrap();
        assert_eq!(json["mask_token"], "[MASK]", "{name}");
    }

    let tokenizer = load_tokenizer(options.out.to_str().unwrap()).unwrap();
    let encoding = tokenizer
        .encode(("Mr. Bennet SAID", "she was"), true)
        .unwrap();
    let ids = encoding.get_ids();
    assert_eq!(ids[0], 2, "[CLS] first");
    assert_eq!(*ids.last().unwrap(), 3, "[SEP] last");
    assert_eq!(ids.iter().filter(|&&id| id == 3).count(), 2, "{ids:?}");
    assert_eq!(
        encoding.get_type_ids().iter().filter(|&&t| t == 1).count(),
        3,
        "segment B is `she was [SEP]`"
    );
    // Every id is a vocab.txt line, and decoding gives the lowercased text back.
    for (&id, token) in ids.iter().zip(encoding.get_tokens()) {
        assert_eq!(tokens[id as usize], token);
    }
    assert_eq!(
        tokenizer.decode(ids, true).unwrap(),
        "mr. bennet said she was"
    );
}

#[test]
fn the_vocabulary_fits_its_corpus_and_shards_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = vocab_options(dir.path(), 400);
    train_vocab(&options).unwrap();
    // Ids after the special tokens follow byte order, whatever order training found them in.
    let vocab = std::fs::read_to_string(options.out.join("vocab.txt")).unwrap();
    let pieces: Vec<&str> = vocab.lines().skip(5).collect();
    assert!(pieces.windows(2).all(|w| w[0] < w[1]));
    // Every word of its own corpus encodes without [UNK], in few pieces.
    let tokenizer = load_tokenizer(options.out.to_str().unwrap()).unwrap();
    let lines = book_lines(2000);
    let (mut words, mut pieces_used) = (0, 0);
    for line in &lines {
        let ids = tokenizer
            .encode(line.as_str(), false)
            .unwrap()
            .get_ids()
            .to_vec();
        assert!(!ids.contains(&1), "[UNK] in {line:?}");
        words += line.split_whitespace().count();
        pieces_used += ids.len();
    }
    let per_word = pieces_used as f64 / words as f64;
    assert!(per_word < 2.5, "{per_word} pieces per word");

    let mut prep_options = common::options(options.inputs.clone(), &dir.path().join("shards"));
    prep_options.tokenizer = options.out.display().to_string();
    let manifest = prep(&prep_options);
    assert_eq!(manifest.vocab_size, 400);
    assert_eq!(
        (manifest.special_tokens.cls, manifest.special_tokens.mask),
        (2, Some(4))
    );
    let rows = shard_rows(&prep_options.out);
    assert!(rows.iter().flatten().all(|&id| id < 400));
}

#[test]
fn a_vocabulary_no_larger_than_the_special_tokens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = vocab_options(dir.path(), 5);
    match train_vocab(&options) {
        Err(DataError::Config { key, .. }) => assert_eq!(key, "vocab_size"),
        other => panic!("expected a vocab_size error, got {other:?}"),
    }
    assert!(!options.out.exists(), "nothing is written");
}
