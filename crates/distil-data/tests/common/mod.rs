//! Helpers shared by the data tests: the shipped tokenizer, small corpora, parquet inputs.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use distil_data::{prepare, BatchRows, Manifest, NoProgress, PrepOptions, IGNORE_LABEL};
use distil_testkit::{repo_path, vocab_dir};
use parquet::arrow::ArrowWriter;

pub fn tokenizer() -> tokenizers::Tokenizer {
    distil_data::load_tokenizer(vocab_dir().to_str().unwrap()).unwrap()
}

/// A shipped book: Pride and Prejudice.
pub fn book_path() -> PathBuf {
    repo_path("data/text/books/gutenberg/pg1342-austen-pride-and-prejudice.txt")
}

/// The first `n` non-blank lines of [`book_path`].
pub fn book_lines(n: usize) -> Vec<String> {
    std::fs::read_to_string(book_path())
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .map(String::from)
        .collect()
}

/// Writes a parquet file with a `text` column (and an unrelated `id` column).
pub fn write_text_parquet(path: &Path, texts: &[String]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt32, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let ids: ArrayRef = Arc::new(UInt32Array::from_iter_values(0..texts.len() as u32));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(texts));
    let batch = RecordBatch::try_new(schema.clone(), vec![ids, text]).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

pub fn options(inputs: Vec<PathBuf>, out: &Path) -> PrepOptions {
    PrepOptions {
        inputs,
        unit: Default::default(),
        tokenizer: vocab_dir().to_str().unwrap().to_string(),
        out: out.to_path_buf(),
        max_seq_len: 512,
        shard_tokens: 1_000_000,
        seed: 7,
    }
}

pub fn prep(options: &PrepOptions) -> Manifest {
    prepare(options, &NoProgress).unwrap()
}

/// Every row of every shard, in file order.
pub fn shard_rows(dir: &Path) -> Vec<Vec<u32>> {
    let manifest = Manifest::load(dir).unwrap();
    let mut rows = Vec::new();
    for entry in &manifest.shards {
        distil_data::shard::verify_shard(dir, entry).unwrap();
        for row in distil_data::shard::ShardRows::open(dir, &manifest, entry, 0).unwrap() {
            rows.push(row.unwrap());
        }
    }
    rows
}

/// The unmasked rows of a batch (labels hold the original id at targets).
pub fn originals(rows: &BatchRows) -> Vec<Vec<u32>> {
    (0..rows.batch)
        .map(|b| {
            (0..rows.len)
                .map(|t| b * rows.len + t)
                .filter(|&i| rows.attention_mask[i] == 1)
                .map(|i| if rows.labels[i] == IGNORE_LABEL { rows.input_ids[i] } else { rows.labels[i] } as u32)
                .collect()
        })
        .collect()
}
