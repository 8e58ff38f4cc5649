//! `prepare`: inputs of every format give the tokenizer's ids, long sequences are chunked as
//! the reference does, short and [UNK]-heavy ones are dropped and counted, bad input is a
//! clear error or a counted skip.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::*;
use distil_data::{prepare, DataError, DropCounts, Manifest, NoProgress, SequenceRules, TextUnit};

/// The tokenizer's own encoding with [CLS]/[SEP], for lines the filters keep.
fn expected_rows(lines: &[String]) -> Vec<Vec<u32>> {
    let tokenizer = tokenizer();
    let mut rows: Vec<Vec<u32>> = lines
        .iter()
        .map(|l| {
            tokenizer
                .encode(l.as_str(), true)
                .unwrap()
                .get_ids()
                .to_vec()
        })
        .filter(|ids| ids.len() > 11 && ids.len() <= 512)
        .collect();
    rows.sort();
    rows
}

#[test]
fn txt_jsonl_and_parquet_give_the_tokenizer_ids() {
    let lines = book_lines(300);
    let expected = expected_rows(&lines);
    assert!(expected.len() > 100, "test corpus too small");
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("corpus.txt");
    std::fs::write(&txt, lines.join("\n\n")).unwrap();
    let jsonl = dir.path().join("corpus.jsonl");
    let records: Vec<String> = lines
        .iter()
        .map(|l| serde_json::json!({ "id": 1, "text": l }).to_string())
        .collect();
    std::fs::write(&jsonl, records.join("\n")).unwrap();
    let parquet = dir.path().join("corpus.parquet");
    write_text_parquet(&parquet, &lines);

    for input in [txt, jsonl, parquet] {
        let out = dir.path().join(format!(
            "out-{}",
            input.extension().unwrap().to_str().unwrap()
        ));
        let manifest = prep(&options(vec![input.clone()], &out));
        let mut rows = shard_rows(&out);
        rows.sort();
        assert_eq!(rows, expected, "{}", input.display());
        assert_eq!(manifest.rows as usize, expected.len());
        assert_eq!(manifest.vocab_size, 30522);
        assert_eq!(manifest.id_type, distil_data::IdType::Uint16);
        // Token counts are the dense histogram of the shards.
        let counts = manifest.token_counts(&out).unwrap();
        let mut histogram = vec![0u64; 30522];
        rows.iter()
            .flatten()
            .for_each(|&id| histogram[id as usize] += 1);
        assert_eq!(counts, histogram);
    }
}

#[test]
fn a_directory_is_expanded_and_shards_are_shuffled_by_seed() {
    let lines = book_lines(400);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(corpus.join("sub")).unwrap();
    std::fs::write(corpus.join("a.txt"), lines[..200].join("\n")).unwrap();
    std::fs::write(corpus.join("sub/b.txt"), lines[200..].join("\n")).unwrap();
    std::fs::write(
        corpus.join("notes.md"),
        "not corpus text, ignored in a directory",
    )
    .unwrap();
    let mut opts = options(vec![corpus], &dir.path().join("a"));
    opts.shard_tokens = 2000;
    let manifest = prep(&opts);
    assert!(manifest.shards.len() > 2);
    let mut rows = shard_rows(&opts.out);
    let first_run = rows.clone();
    rows.sort();
    assert_eq!(rows, expected_rows(&lines));
    // Same seed, same shards; another seed, another order of the same rows.
    opts.out = dir.path().join("b");
    let again = prep(&opts);
    assert_eq!(again.shards, manifest.shards);
    opts.out = dir.path().join("c");
    opts.seed = 8;
    prep(&opts);
    let other = shard_rows(&opts.out);
    assert_ne!(other, first_run);
}

#[test]
fn long_sequences_are_chunked_like_the_reference() {
    let rules = SequenceRules {
        cls: 101,
        sep: 102,
        unk: 100,
        max_len: 16,
    };
    let ids: Vec<u32> = (1000..1040).collect();
    let mut out = Vec::new();
    let mut drops = DropCounts::default();
    rules.split(&ids, &mut out, &mut drops);
    // [CLS] + 40 ids + [SEP] cut into pieces of 14, each completed with [CLS]/[SEP].
    let chunk = |a: u32, b: u32| -> Vec<u32> { (a..b).collect() };
    let expected = vec![
        [vec![101], chunk(1000, 1013), vec![102]].concat(),
        [vec![101], chunk(1013, 1027), vec![102]].concat(),
        [vec![101], chunk(1027, 1040), vec![102]].concat(),
    ];
    assert_eq!(out, expected);
    assert_eq!(drops, DropCounts::default());
    // A last piece of 11 tokens or fewer is dropped and counted.
    out.clear();
    rules.split(&chunk(1000, 1016), &mut out, &mut drops);
    assert_eq!(
        out,
        vec![[vec![101], chunk(1000, 1013), vec![102]].concat()]
    );
    assert_eq!(drops.short, 1);

    // Through prep: every row fits, starts with [CLS] and ends with [SEP].
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("long.txt");
    std::fs::write(&txt, book_lines(400).join(" ")).unwrap();
    let mut opts = options(vec![txt], &dir.path().join("out"));
    opts.max_seq_len = 64;
    let manifest = prep(&opts);
    let rows = shard_rows(&opts.out);
    assert!(rows.len() > 50);
    for row in &rows {
        assert!(row.len() <= 64 && row.len() >= 12);
        assert_eq!((row[0], row[row.len() - 1]), (101, 102));
    }
    assert_eq!(manifest.max_seq_len, 64);
}

#[test]
fn short_and_unknown_heavy_sequences_are_dropped_and_counted() {
    let tokenizer = tokenizer();
    let n_tokens = |s: &str| tokenizer.encode(s, true).unwrap().get_ids().len();
    let eleven = "one two three four five six seven eight nine";
    let twelve = "one two three four five six seven eight nine ten";
    assert_eq!((n_tokens(eleven), n_tokens(twelve)), (11, 12));
    // 7 [UNK] of 14 tokens is half: dropped; 6 of 14 is kept.
    let half_unk =
        "a b c d e \u{1F600} \u{1F600} \u{1F600} \u{1F600} \u{1F600} \u{1F600} \u{1F600}";
    let less_unk = "a b c d e f \u{1F600} \u{1F600} \u{1F600} \u{1F600} \u{1F600} \u{1F600}";
    let unk = |s: &str| {
        tokenizer
            .encode(s, true)
            .unwrap()
            .get_ids()
            .iter()
            .filter(|&&i| i == 100)
            .count()
    };
    assert_eq!((n_tokens(half_unk), unk(half_unk)), (14, 7));
    assert_eq!((n_tokens(less_unk), unk(less_unk)), (14, 6));

    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("c.txt");
    std::fs::write(
        &txt,
        [eleven, twelve, half_unk, less_unk, "", "short"].join("\n"),
    )
    .unwrap();
    let manifest = prep(&options(vec![txt], &dir.path().join("out")));
    assert_eq!(
        manifest.dropped,
        DropCounts {
            short: 2,
            unknown: 1
        }
    );
    assert_eq!(manifest.rows, 2);
    assert_eq!(manifest.input.blank_lines, 1);
}

#[test]
fn a_non_utf8_line_is_skipped_and_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("bad.txt");
    let lines = book_lines(20);
    let mut file = std::fs::File::create(&txt).unwrap();
    writeln!(file, "{}", lines[0]).unwrap();
    file.write_all(b"caf\xe9 is latin-1, not utf-8, and this line is long enough\n")
        .unwrap();
    writeln!(file, "{}", lines[1..].join("\n")).unwrap();
    drop(file);
    let jsonl = dir.path().join("bad.jsonl");
    std::fs::write(
        &jsonl,
        format!("{{\"text\": \"{}\"}}\n{{\"title\": 1}}\n", lines[2]),
    )
    .unwrap();
    let manifest = prep(&options(
        vec![txt.clone(), jsonl.clone()],
        &dir.path().join("out"),
    ));
    assert_eq!(manifest.input.skipped_lines, 2);
    let skipped = &manifest.input.skipped;
    assert_eq!((&skipped[0].path, skipped[0].line), (&txt, 2));
    assert!(skipped[0].reason.contains("UTF-8"));
    assert_eq!((&skipped[1].path, skipped[1].line), (&jsonl, 2));
    assert!(skipped[1].reason.contains("text"));
    // 20 good text lines and one good JSON line.
    assert_eq!(manifest.input.lines, 21);
}

#[test]
fn empty_files_are_counted_and_an_empty_corpus_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let err = prepare(
        &options(vec![empty.clone()], &dir.path().join("o1")),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::NoSequences { inputs: 1 }), "{err}");
    assert!(Manifest::load(&dir.path().join("o1")).is_err());

    let full = dir.path().join("full.txt");
    std::fs::write(&full, book_lines(50).join("\n")).unwrap();
    let manifest = prep(&options(vec![empty.clone(), full], &dir.path().join("o2")));
    assert_eq!(manifest.input.empty_files, vec![empty]);
}

#[test]
fn a_parquet_file_without_text_column_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.txt");
    std::fs::write(&good, book_lines(50).join("\n")).unwrap();
    let bad = dir.path().join("bad.parquet");
    {
        use std::sync::Arc;
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("content", arrow::datatypes::DataType::Utf8, false),
        ]));
        let col: arrow::array::ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["x"]));
        let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), vec![col]).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&bad).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    let out = dir.path().join("out");
    let err = prepare(&options(vec![good, bad.clone()], &out), &NoProgress).unwrap_err();
    assert!(matches!(err, DataError::NoTextColumn { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("bad.parquet") && message.contains("content"),
        "{message}"
    );
    // Checked before anything was written.
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn an_unwritable_output_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("c.txt");
    std::fs::write(&txt, book_lines(50).join("\n")).unwrap();
    // A path below a regular file cannot be created, even by root.
    let out = txt.join("shards");
    let err = prepare(&options(vec![txt], &out), &NoProgress).unwrap_err();
    assert!(matches!(err, DataError::Write { .. }), "{err}");
    assert!(err.to_string().contains("shards"), "{err}");
}

#[test]
fn a_missing_input_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let err = prepare(
        &options(vec![missing], &dir.path().join("out")),
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.txt"), "{err}");
}

#[test]
fn the_paragraph_unit_joins_wrapped_lines_up_to_a_blank_line_within_one_document() {
    let text: String = std::fs::read_to_string(book_path())
        .unwrap()
        .lines()
        .take(3000)
        .map(|l| format!("{l}\n"))
        .collect();
    // Paragraphs by their definition: blank-line separated blocks, lines joined by a space.
    let paragraphs: Vec<String> = text
        .split("\n")
        .map(str::trim)
        .collect::<Vec<_>>()
        .split(|l| l.is_empty())
        .filter(|block| !block.is_empty())
        .map(|block| block.join(" "))
        .collect();
    let expected = expected_rows(&paragraphs);
    assert!(expected.len() > 100, "test corpus too small");
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("book.txt");
    std::fs::write(&txt, &text).unwrap();
    let mut options = options(vec![txt], &dir.path().join("out"));
    options.unit = TextUnit::Paragraph;
    let manifest = prep(&options);
    let mut rows = shard_rows(&options.out);
    rows.sort();
    assert_eq!(rows, expected);
    assert_eq!(manifest.text_unit, TextUnit::Paragraph);

    // Two JSON records, each one wrapped paragraph without a trailing blank line: two rows,
    // never one spanning both.
    let first = "It is a truth universally acknowledged, that a single man\nin possession of a good fortune, must be in want of a wife.";
    let second = "However little known the feelings or views of such a man may be\non his first entering a neighbourhood, this truth is well fixed.";
    let jsonl = dir.path().join("records.jsonl");
    let records = [first, second]
        .map(|t| serde_json::json!({ "text": t }).to_string())
        .join("\n");
    std::fs::write(&jsonl, records).unwrap();
    options.inputs = vec![jsonl];
    options.out = dir.path().join("out-jsonl");
    prep(&options);
    let mut rows = shard_rows(&options.out);
    rows.sort();
    let joined = [first, second].map(|t| t.replace('\n', " ")).to_vec();
    assert_eq!(rows, expected_rows(&joined));
}
