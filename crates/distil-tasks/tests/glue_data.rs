//! GLUE readers on the shipped files (official row counts and label balances), on QQP and
//! MNLI files written in their distributed layouts, bad rows, encoding and submissions.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use distil_data::load_tokenizer;
use distil_tasks::glue::{ClassificationBatch, GlueEncoder, GlueFeatureConfig};
use distil_tasks::{GlueExample, GlueLabel, GlueSplit, GlueTask, SegmentIds, TaskError};
use distil_testkit::{repo_path, vocab_dir};
use tch::Kind;

fn shipped(task: GlueTask) -> PathBuf {
    repo_path("data/glue").join(task.dir_name())
}

fn test_data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

fn tokenizer() -> tokenizers::Tokenizer {
    load_tokenizer(vocab_dir().to_str().unwrap()).unwrap()
}

/// Why reading the file `relative` (below `tests/data`) as a dev split of `task` fails.
fn read_error(task: GlueTask, relative: &str) -> TaskError {
    task.read_examples(GlueSplit::Dev, &test_data(relative))
        .unwrap_err()
}

fn class_counts(task: GlueTask, split: GlueSplit) -> Vec<usize> {
    let path = task.split_path(&shipped(task), split).unwrap();
    let examples = task.read_examples(split, &path).unwrap();
    let mut counts = vec![0; task.num_labels()];
    for e in &examples {
        match e.label {
            Some(GlueLabel::Class(c)) => counts[c] += 1,
            other => panic!("{task}: unexpected label {other:?}"),
        }
    }
    counts
}

#[test]
fn shipped_files_read_with_official_row_counts() {
    // (task, train, dev, test) rows from the GLUE distribution; QNLI ships without train.
    let expected = [
        (GlueTask::Cola, Some(8551), 1043, 1063),
        (GlueTask::Sst2, Some(67349), 872, 1821),
        (GlueTask::Mrpc, Some(3668), 408, 1725),
        (GlueTask::Stsb, Some(5749), 1500, 1379),
        (GlueTask::Qnli, None, 5463, 5463),
        (GlueTask::Rte, Some(2490), 277, 3000),
        (GlueTask::Wnli, Some(635), 71, 146),
    ];
    for (task, train, dev, test) in expected {
        let dir = shipped(task);
        let read = |split| {
            let path = task.split_path(&dir, split).unwrap();
            task.read_examples(split, &path).unwrap()
        };
        if let Some(train) = train {
            assert_eq!(read(GlueSplit::Train).len(), train, "{task} train");
        }
        let dev_rows = read(GlueSplit::Dev);
        assert_eq!(dev_rows.len(), dev, "{task} dev");
        assert!(dev_rows
            .iter()
            .all(|e| e.label.is_some() && e.index.is_none()));
        let single_sentence = matches!(task, GlueTask::Cola | GlueTask::Sst2);
        assert_eq!(dev_rows[0].text_b.is_none(), single_sentence, "{task}");
        let test_rows = read(GlueSplit::Test);
        assert_eq!(test_rows.len(), test, "{task} test");
        assert!(test_rows.iter().all(|e| e.label.is_none()));
        assert_eq!(test_rows[0].index.as_deref(), Some("0"), "{task}");
        assert_eq!(
            test_rows.last().unwrap().index,
            Some((test - 1).to_string())
        );
    }
}

#[test]
fn shipped_label_balances_match_published_figures() {
    assert_eq!(class_counts(GlueTask::Sst2, GlueSplit::Dev), vec![428, 444]);
    assert_eq!(class_counts(GlueTask::Mrpc, GlueSplit::Dev), vec![129, 279]);
    assert_eq!(class_counts(GlueTask::Cola, GlueSplit::Dev), vec![322, 721]);
    assert_eq!(class_counts(GlueTask::Rte, GlueSplit::Dev), vec![146, 131]);
    assert_eq!(class_counts(GlueTask::Wnli, GlueSplit::Dev), vec![40, 31]);
    assert_eq!(
        class_counts(GlueTask::Qnli, GlueSplit::Dev),
        vec![2702, 2761]
    );
}

#[test]
fn columns_are_the_documented_ones() {
    let mrpc = GlueTask::Mrpc;
    let train = mrpc
        .read_examples(GlueSplit::Train, &shipped(mrpc).join("train.tsv"))
        .unwrap();
    // The BOM before the header is dropped; the header is not a row; quotes are kept as is.
    assert_eq!(train[0].line, 2);
    assert_eq!(train[0].label, Some(GlueLabel::Class(1)));
    assert!(train[0]
        .text_a
        .starts_with("Amrozi accused his brother, whom he called \"the witness\""));
    assert!(train[0]
        .text_b
        .as_deref()
        .unwrap()
        .starts_with("Referring to him as only \"the witness\""));

    let cola = GlueTask::Cola;
    let dev = cola
        .read_examples(GlueSplit::Dev, &shipped(cola).join("dev.tsv"))
        .unwrap();
    assert_eq!(dev[0].line, 1, "CoLA dev has no header");
    assert_eq!(
        dev[0].text_a,
        "The sailors rode the breeze clear of the rocks."
    );

    let stsb = GlueTask::Stsb;
    let dev = stsb
        .read_examples(GlueSplit::Dev, &shipped(stsb).join("dev.tsv"))
        .unwrap();
    assert_eq!(dev[0].label, Some(GlueLabel::Score(5.0)));
    assert_eq!(dev[1].label, Some(GlueLabel::Score(4.75)));
    assert_eq!(
        dev[0].text_b.as_deref(),
        Some("A man wearing a hard hat is dancing.")
    );
}

#[test]
fn qqp_files_in_the_distributed_layout() {
    let qqp = GlueTask::Qqp;
    let dir = test_data("glue/QQP");
    let train = qqp
        .read_examples(GlueSplit::Train, &dir.join("train.tsv"))
        .unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(
        train[0].text_a,
        "How do I learn to play the \"blues\" on guitar?"
    );
    assert_eq!(
        train[0].text_b.as_deref(),
        Some("What is the best way to learn blues guitar?")
    );
    let labels: Vec<_> = train.iter().map(|e| e.label).collect();
    assert_eq!(
        labels,
        vec![
            Some(GlueLabel::Class(1)),
            Some(GlueLabel::Class(0)),
            Some(GlueLabel::Class(1))
        ]
    );
    let test = qqp
        .read_examples(GlueSplit::Test, &dir.join("test.tsv"))
        .unwrap();
    assert_eq!(test[1].text_a, "What is \"machine learning\"?");
    assert_eq!(test[1].text_b.as_deref(), Some("How do I cook rice?"));
    assert_eq!(test[1].index.as_deref(), Some("1"));
}

#[test]
fn mnli_files_in_the_distributed_layout() {
    let mnli = GlueTask::Mnli;
    let dir = test_data("glue/MNLI");
    let gold = vec![
        Some(GlueLabel::Class(1)),
        Some(GlueLabel::Class(0)),
        Some(GlueLabel::Class(2)),
    ];
    // Train has 12 columns, dev 16 (five annotator labels); gold_label is the last of both.
    for split in [GlueSplit::Train, GlueSplit::Dev, GlueSplit::DevMismatched] {
        let path = mnli.split_path(&dir, split).unwrap();
        let rows = mnli.read_examples(split, &path).unwrap();
        assert_eq!(
            rows.iter().map(|e| e.label).collect::<Vec<_>>(),
            gold,
            "{split:?}"
        );
        assert_eq!(rows[2].text_a, "She said \"maybe\" twice.");
        assert_eq!(
            rows[2].text_b.as_deref(),
            Some("She was unsure about the trip.")
        );
    }
    for split in mnli.test_splits() {
        let path = mnli.split_path(&dir, *split).unwrap();
        let rows = mnli.read_examples(*split, &path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].text_a, "The museum opens at nine.");
        assert!(rows.iter().all(|e| e.label.is_none()));
    }
}

#[test]
fn a_short_row_names_the_file_and_line() {
    let err = read_error(GlueTask::Rte, "bad/short_row_RTE.tsv");
    assert!(
        matches!(
            &err,
            TaskError::ShortRow {
                line: 3,
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("short_row_RTE.tsv:3"), "{message}");
}

#[test]
fn an_unknown_label_names_the_file_line_and_label() {
    let err = read_error(GlueTask::Rte, "bad/unknown_label_RTE.tsv");
    let message = err.to_string();
    assert!(
        matches!(err, TaskError::UnknownLabel { line: 3, .. }),
        "{message}"
    );
    assert!(message.contains("unknown_label_RTE.tsv:3"), "{message}");
    assert!(message.contains("`contradiction`"), "{message}");
    // The same file read as a task with other labels fails on its first row.
    let err = read_error(GlueTask::Wnli, "bad/unknown_label_RTE.tsv");
    assert!(
        matches!(err, TaskError::UnknownLabel { line: 2, .. }),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = GlueTask::Qqp
        .read_examples(GlueSplit::Train, Path::new("/no/such/QQP/train.tsv"))
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/QQP/train.tsv"), "{err}");
}

#[test]
fn pairs_truncate_longest_first_to_max_seq_length() {
    let tokenizer = tokenizer();
    let encoder = GlueEncoder::new(&tokenizer, &GlueFeatureConfig::default()).unwrap();
    let task = GlueTask::Rte;
    let mut examples = task
        .read_examples(GlueSplit::Dev, &shipped(task).join("dev.tsv"))
        .unwrap();
    // RTE hypotheses are short; add a pair whose sides both exceed half the budget.
    let long = |word: &str| vec![word; 90].join(" ");
    examples.push(GlueExample {
        line: 0,
        index: None,
        text_a: long("alpha"),
        text_b: Some(long("beta")),
        label: None,
    });
    let mut both_cut = 0;
    let features = encoder.encode(&examples).unwrap();
    let (cls, sep) = (101, 102);
    let mut truncated = 0;
    for (example, feature) in examples.iter().zip(&features) {
        let ids = &feature.text.input_ids;
        let types = &feature.text.token_type_ids;
        assert!(ids.len() <= 128);
        assert_eq!((ids[0], ids[ids.len() - 1]), (cls, sep));
        let first_len = types.iter().filter(|&&t| t == 0).count() - 2;
        let second_len = types.iter().filter(|&&t| t == 1).count() - 1;
        assert_eq!(ids[first_len + 1], sep);
        let full_a = tokenizer
            .encode(example.text_a.as_str(), false)
            .unwrap()
            .len();
        let full_b = tokenizer
            .encode(example.text_b.as_deref().unwrap(), false)
            .unwrap()
            .len();
        if full_a + full_b + 3 > 128 {
            truncated += 1;
            assert_eq!(ids.len(), 128);
            // Longest-first: the shorter side is kept whole unless both exceed half.
            // 125 tokens are left after [CLS] and two [SEP]s; when both sides exceed half of
            // that, the shorter keeps 62 and the longer 63.
            let short = full_a.min(full_b);
            let kept_short = if full_a <= full_b {
                first_len
            } else {
                second_len
            };
            assert_eq!(kept_short, short.min(125 / 2));
            both_cut += usize::from(short > 125 / 2);
            assert_eq!(first_len + second_len, 125);
        } else {
            assert_eq!((first_len, second_len), (full_a, full_b));
        }
    }
    assert!(truncated > 1, "RTE dev has pairs longer than 128 tokens");
    assert_eq!(both_cut, 1);
}

#[test]
fn batches_carry_segment_ids_for_bert_only() {
    let tokenizer = tokenizer();
    let encoder = GlueEncoder::new(&tokenizer, &GlueFeatureConfig::default()).unwrap();
    let task = GlueTask::Stsb;
    let examples = task
        .read_examples(GlueSplit::Dev, &shipped(task).join("dev.tsv"))
        .unwrap();
    let features = encoder.encode(&examples[..4]).unwrap();
    let refs: Vec<_> = features.iter().collect();
    let bert = ClassificationBatch::collate(&refs, encoder.pad_id(), SegmentIds::Keep);
    let longest = features.iter().map(|f| f.text.len()).max().unwrap() as i64;
    assert_eq!(bert.inputs.input_ids.size(), vec![4, longest]);
    let types = bert.inputs.token_type_ids.as_ref().unwrap();
    assert_eq!(types.sum(Kind::Int64).int64_value(&[]), {
        features
            .iter()
            .map(|f| f.text.token_type_ids.iter().sum::<i64>())
            .sum::<i64>()
    });
    let labels = bert.labels.as_ref().unwrap();
    assert_eq!(labels.kind(), Kind::Float);
    assert_eq!(
        Vec::<f32>::try_from(labels).unwrap(),
        vec![5.0, 4.75, 5.0, 2.4]
    );
    let distilbert = ClassificationBatch::collate(&refs, encoder.pad_id(), SegmentIds::Drop);
    assert!(distilbert.inputs.token_type_ids.is_none());
    assert!(distilbert.inputs.encoder_input().token_type_ids.is_none());
    assert_eq!(bert.inputs.input_ids, distilbert.inputs.input_ids);
}

#[test]
fn submission_files_use_the_glue_server_names() {
    let dir = tempfile::tempdir().unwrap();
    let task = GlueTask::Mnli;
    let split = GlueSplit::TestMismatched;
    let path = task.split_path(&test_data("glue/MNLI"), split).unwrap();
    let examples = task.read_examples(split, &path).unwrap();
    let logits = tch::Tensor::from_slice(&[0.1f32, 0.2, 3.0, 2.0, 0.0, 0.5]).view([2, 3]);
    let predictions = task.predictions_from_logits(&logits).unwrap();
    let written = task
        .write_submission(dir.path(), split, &examples, &predictions)
        .unwrap();
    assert_eq!(written.file_name().unwrap(), "MNLI-mm.tsv");
    let text = std::fs::read_to_string(written).unwrap();
    assert_eq!(text, "index\tprediction\n0\tneutral\n1\tcontradiction\n");

    let stsb = GlueTask::Stsb;
    let scores = [GlueLabel::Score(3.8765), GlueLabel::Score(0.5)];
    let written = stsb
        .write_submission(dir.path(), GlueSplit::Test, &examples, &scores)
        .unwrap();
    assert_eq!(written.file_name().unwrap(), "STS-B.tsv");
    assert_eq!(
        std::fs::read_to_string(written).unwrap(),
        "index\tprediction\n0\t3.877\n1\t0.500\n"
    );
    // A class prediction for a regression task is refused rather than written.
    let wrong = [GlueLabel::Class(1), GlueLabel::Class(0)];
    assert!(stsb
        .write_submission(dir.path(), GlueSplit::Test, &examples, &wrong)
        .is_err());
}
