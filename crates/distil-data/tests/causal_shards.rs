//! Shards for a causal LM: `prepare` with GPT-2's byte-level BPE wraps every sequence in
//! `<|endoftext|>` (the reference's `binarized_data.py` for `--tokenizer_type gpt2`) and records
//! that the tokenizer has no mask token; a stream over them gives unmasked batches whose labels
//! are the next tokens, and asking it to mask fails with one clear error.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use distil_core::Objective;
use distil_data::{BatchStream, DataConfig, IGNORE_LABEL};
use distil_testkit::fixture;

const END_OF_TEXT: u32 = 0;

#[test]
fn gpt2_shards_are_end_of_text_delimited_and_stream_next_token_targets() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    std::fs::write(&corpus, book_lines(200).join("\n\n")).unwrap();
    let out = dir.path().join("shards");
    let tokenizer_dir = fixture("gpt2-lm");
    let manifest = prep(&distil_data::PrepOptions {
        tokenizer: tokenizer_dir.display().to_string(),
        max_seq_len: 60,
        ..options(vec![corpus], &out)
    });
    let specials = &manifest.special_tokens;
    assert_eq!(
        (specials.cls, specials.sep, specials.pad, specials.mask),
        (END_OF_TEXT, END_OF_TEXT, END_OF_TEXT, None)
    );
    let rows = shard_rows(&out);
    assert!(rows.len() > 50);
    for row in &rows {
        assert_eq!(row.first(), Some(&END_OF_TEXT));
        assert_eq!(row.last(), Some(&END_OF_TEXT));
        assert!(row[1..row.len() - 1].iter().all(|&id| id != END_OF_TEXT));
    }

    let config = DataConfig {
        shards: out.clone(),
        batch_size: Some(8),
        shuffle_buffer: 50,
        ..DataConfig::default()
    };
    let mut stream = BatchStream::open(&config, None, Objective::CausalLm).unwrap();
    for _ in 0..5 {
        let batch = stream.next_batch().unwrap().rows;
        for b in 0..batch.batch {
            let at = |v: &[i64], t: usize| v[b * batch.len + t];
            let real = (0..batch.len)
                .filter(|&t| at(&batch.attention_mask, t) == 1)
                .count();
            let ids: Vec<u32> = (0..real).map(|t| at(&batch.input_ids, t) as u32).collect();
            assert!(rows.contains(&ids), "a batch row is not a shard row");
            for t in 0..batch.len {
                let want = match t + 1 < real {
                    true => at(&batch.input_ids, t + 1),
                    false => IGNORE_LABEL,
                };
                assert_eq!(at(&batch.labels, t), want, "row {b} position {t}");
            }
        }
    }

    let err = BatchStream::open(&config, None, Objective::MaskedLm)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no mask token"), "{err}");
}
