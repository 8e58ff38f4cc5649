//! SQuAD on the shipped v2.0 subset: every answerable question's gold span survives the
//! windowing, perfect logits decode to answers the evaluator scores 100, and bad files
//! fail cleanly.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{perfect_logits, shipped_squad};
use distil_data::load_tokenizer;
use distil_tasks::squad::{
    decode_answers, evaluate, normalize_answer, read_squad, BadAnswerPolicy, DecodeConfig,
    DocStrideMode, FeatureLogits, PairLayout, QaBatch, SquadDataset, SquadFeature,
    SquadFeatureConfig, SquadFeaturizer, SquadVersion,
};
use distil_tasks::{SegmentIds, TaskError};
use distil_testkit::vocab_dir;

fn featurizer(config: &SquadFeatureConfig) -> SquadFeaturizer {
    let tokenizer = load_tokenizer(vocab_dir().to_str().unwrap()).unwrap();
    SquadFeaturizer::new(&tokenizer, PairLayout::BERT, config).unwrap()
}

/// Question ids whose first gold answer no window recovers: the target span's text, cut from
/// the context through the tokens' offsets, does not normalise to the gold answer.
fn unrecoverable(
    dataset: &SquadDataset,
    features: &[SquadFeature],
) -> Vec<(String, String, String)> {
    let mut recovered = vec![None; dataset.examples.len()];
    for f in features.iter().filter(|f| f.start_position > 0) {
        let example = &dataset.examples[f.example];
        let text = f
            .span_text(&example.context, f.start_position, f.end_position)
            .unwrap();
        recovered[f.example].get_or_insert(text.to_string());
    }
    dataset
        .examples
        .iter()
        .zip(recovered)
        .filter(|(e, _)| !e.is_impossible)
        .filter_map(|(e, text)| {
            let gold = &e.answers[0].text;
            let text = text.unwrap_or_default();
            (normalize_answer(&text) != normalize_answer(gold))
                .then(|| (e.id.clone(), gold.clone(), text))
        })
        .collect()
}

/// The default windows (384/128/64), and tight ones that cut most contexts into many
/// windows, in both `doc_stride` meanings.
fn configs() -> Vec<SquadFeatureConfig> {
    let mut configs = vec![SquadFeatureConfig::default()];
    for mode in [DocStrideMode::Step, DocStrideMode::Overlap] {
        configs.push(SquadFeatureConfig {
            max_seq_length: 96,
            doc_stride: 24,
            doc_stride_mode: mode,
            max_query_length: 24,
        });
    }
    configs
}

/// The one answerable question whose first gold answer ends inside a word piece: "gold
/// rush" in "... the largest gold rushes the world ...", where `rushes` is a single token,
/// so the span can only be "gold rushes", which is this question's third gold answer.
const INSIDE_A_WORD_PIECE: (&str, &str, &str) =
    ("570d4329fed7b91900d45dd9", "gold rush", "gold rushes");

#[test]
fn every_answerable_question_is_recoverable_from_a_window() {
    let dataset = shipped_squad();
    let answerable: Vec<_> = dataset
        .examples
        .iter()
        .filter(|e| !e.is_impossible)
        .collect();
    assert_eq!((dataset.examples.len(), answerable.len()), (1407, 705));
    for config in configs() {
        let features = featurizer(&config).build(&dataset.examples).unwrap();
        let missed = unrecoverable(&dataset, &features);
        let share = 100.0 * (answerable.len() - missed.len()) as f64 / answerable.len() as f64;
        println!(
            "{config:?}: {} windows; first gold answer recovered for {}/{} answerable \
             questions ({share:.2}%)",
            features.len(),
            answerable.len() - missed.len(),
            answerable.len()
        );
        let (id, gold, recovered) = INSIDE_A_WORD_PIECE;
        assert_eq!(
            missed,
            vec![(id.to_string(), gold.to_string(), recovered.to_string())]
        );
        let example = dataset.examples.iter().find(|e| e.id == id).unwrap();
        assert!(example.answers.iter().any(|a| a.text == recovered));
    }
}

#[test]
fn windows_hold_question_and_context_with_one_max_context_window_per_token() {
    let dataset = shipped_squad();
    for config in configs() {
        let featurizer = featurizer(&config);
        let features = featurizer.build(&dataset.examples).unwrap();
        let mut by_example = vec![Vec::new(); dataset.examples.len()];
        for f in &features {
            by_example[f.example].push(f);
        }
        let mut windows_seen = 0;
        for (example, windows) in dataset.examples.iter().zip(&by_example) {
            assert!(!windows.is_empty(), "{}", example.id);
            // Each context token (by its byte span) is the max-context token of exactly one
            // window; consecutive windows advance or overlap as the mode says.
            let mut owners = std::collections::HashMap::new();
            let mut starts = Vec::new();
            for f in windows {
                let ids = &f.text.input_ids;
                assert!(ids.len() <= config.max_seq_length);
                assert_eq!((ids[0], *ids.last().unwrap()), (101, 102));
                let first_context = f.token_spans.iter().position(Option::is_some);
                let question_len = first_context.map_or(ids.len() - 3, |c| c - 2);
                assert!(question_len <= config.max_query_length);
                assert_eq!(ids[question_len + 1], 102);
                let types_one = f.text.token_type_ids.iter().filter(|&&t| t == 1).count();
                assert_eq!(types_one, ids.len() - question_len - 2);
                starts.push(f.token_spans.iter().flatten().next().copied());
                for (span, &max) in f.token_spans.iter().zip(&f.max_context) {
                    if let (Some(span), true) = (span, max) {
                        *owners.entry(*span).or_insert(0) += 1;
                    }
                }
                let contained: Vec<_> = f.token_spans.iter().flatten().collect();
                assert!(contained.windows(2).all(|w| w[0].1 <= w[1].0));
            }
            assert!(owners.values().all(|&n| n == 1), "{}", example.id);
            let all_tokens: std::collections::HashSet<_> = windows
                .iter()
                .flat_map(|f| f.token_spans.iter().flatten())
                .collect();
            assert_eq!(owners.len(), all_tokens.len(), "{}", example.id);
            assert!(starts.windows(2).all(|w| w[0] < w[1]));
            windows_seen += windows.len();
        }
        assert_eq!(windows_seen, features.len());
        if config.max_seq_length < 384 {
            assert!(
                features.len() > 2 * dataset.examples.len(),
                "tight windows are many"
            );
        }
    }
}

#[test]
fn overlap_and_step_modes_give_their_documented_window_spacing() {
    let dataset = shipped_squad();
    let example = dataset
        .examples
        .iter()
        .max_by_key(|e| e.context.len())
        .unwrap()
        .clone();
    for mode in [DocStrideMode::Step, DocStrideMode::Overlap] {
        let config = SquadFeatureConfig {
            max_seq_length: 96,
            doc_stride: 24,
            doc_stride_mode: mode,
            max_query_length: 24,
        };
        let features = featurizer(&config)
            .build(std::slice::from_ref(&example))
            .unwrap();
        let windows: Vec<Vec<(usize, usize)>> = features
            .iter()
            .map(|f| f.token_spans.iter().flatten().copied().collect())
            .collect();
        assert!(windows.len() > 3);
        for pair in windows.windows(2).take(windows.len() - 2) {
            let step = pair[0].iter().position(|s| *s == pair[1][0]).unwrap();
            let overlap = pair[0].len() - step;
            match mode {
                DocStrideMode::Step => assert_eq!(step, 24),
                DocStrideMode::Overlap => assert_eq!(overlap, 24),
            }
        }
    }
}

#[test]
fn perfect_logits_decode_to_answers_that_score_100() {
    let dataset = shipped_squad();
    let dir = tempfile::tempdir().unwrap();
    for config in configs() {
        let features = featurizer(&config).build(&dataset.examples).unwrap();
        let logits = perfect_logits(&features);
        let decode = DecodeConfig::default();
        let v2 = decode_answers(
            &dataset.examples,
            &features,
            &logits,
            SquadVersion::V2,
            &decode,
        )
        .unwrap();
        let scores = evaluate(
            &dataset.examples,
            &v2.answers,
            Some(&v2.null_odds),
            SquadVersion::V2,
        );
        println!("{config:?}: {}", scores.to_json());
        assert_eq!(
            (scores.all.exact, scores.all.f1, scores.missing),
            (100.0, 100.0, 0)
        );
        assert_eq!(scores.has_answer.unwrap().total, 705);
        assert_eq!(scores.no_answer.unwrap().total, 702);
        assert_eq!(v2.answers.len(), 1407);

        // As SQuAD v1.1: the answerable questions only, no null answer.
        let answerable: Vec<_> = dataset
            .examples
            .iter()
            .filter(|e| !e.is_impossible)
            .cloned()
            .collect();
        let features = featurizer(&config).build(&answerable).unwrap();
        let v1 = decode_answers(
            &answerable,
            &features,
            &perfect_logits(&features),
            SquadVersion::V1,
            &decode,
        )
        .unwrap();
        assert!(v1.null_odds.is_empty());
        let scores = evaluate(&answerable, &v1.answers, None, SquadVersion::V1);
        assert_eq!((scores.all.exact, scores.all.f1), (100.0, 100.0));

        // predictions.json is the official qid -> text object.
        let path = v1.write(dir.path()).unwrap();
        let written: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(written, v1.answers);
    }
}

#[test]
fn answers_are_cut_from_the_original_context_through_offsets() {
    let dataset = shipped_squad();
    let features = featurizer(&SquadFeatureConfig::default())
        .build(&dataset.examples)
        .unwrap();
    let logits = perfect_logits(&features);
    let predictions = decode_answers(
        &dataset.examples,
        &features,
        &logits,
        SquadVersion::V2,
        &DecodeConfig::default(),
    )
    .unwrap();
    // Case and accents survive although the uncased tokenizer lower-cases and strips them.
    assert_eq!(predictions.answers["56ddde6b9a695914005b9628"], "France");
    let accented = dataset
        .examples
        .iter()
        .filter(|e| !e.is_impossible && !e.answers[0].text.is_ascii())
        .count();
    assert!(accented > 0);
    for e in dataset.examples.iter().filter(|e| !e.is_impossible) {
        let answer = &predictions.answers[&e.id];
        assert!(e.context.contains(answer.as_str()), "{}", e.id);
        assert!(e
            .answers
            .iter()
            .any(|a| a.text == *answer || normalize_answer(&a.text) == normalize_answer(answer)));
    }
    let nbest = &predictions.nbest["56ddde6b9a695914005b9628"];
    assert!(nbest.len() <= 20 + 1);
    let total: f64 = nbest.iter().map(|a| a.probability).sum();
    assert!((total - 1.0).abs() < 1e-9);
}

#[test]
fn qa_batches_carry_targets_and_optional_segment_ids() {
    let dataset = shipped_squad();
    let featurizer = featurizer(&SquadFeatureConfig::default());
    let features = featurizer.build(&dataset.examples[..6]).unwrap();
    let refs: Vec<_> = features.iter().collect();
    let batch = QaBatch::collate(&refs, featurizer.pad_id(), SegmentIds::Keep);
    let longest = features.iter().map(|f| f.text.len()).max().unwrap() as i64;
    assert_eq!(
        batch.inputs.input_ids.size(),
        vec![features.len() as i64, longest]
    );
    let starts: Vec<i64> = Vec::try_from(&batch.start_positions).unwrap();
    assert_eq!(
        starts,
        features
            .iter()
            .map(|f| f.start_position as i64)
            .collect::<Vec<_>>()
    );
    assert!(batch.inputs.token_type_ids.is_some());
    let student = QaBatch::collate(&refs, featurizer.pad_id(), SegmentIds::Drop);
    assert!(student.inputs.token_type_ids.is_none());
    // Logits of a padded batch split back into one entry per window.
    let start = tch::Tensor::zeros([features.len() as i64, longest], tch::kind::FLOAT_CPU);
    let per_window = FeatureLogits::from_batch(&start, &start).unwrap();
    assert_eq!(per_window.len(), features.len());
    assert_eq!(per_window[0].start.len(), longest as usize);
}

fn write_squad(dir: &Path, context: &str, answer: &str, start: usize) -> PathBuf {
    let value = serde_json::json!({"version": "1.1", "data": [{"title": "t", "paragraphs": [
    {"context": context, "qas": [
        {"id": "good", "question": "q?", "answers": [{"text": "café", "answer_start": 5}]},
        {"id": "bad-answer", "question": "q?", "answers": [{"text": answer, "answer_start": start}]}
    ]}]}]});
    let path = dir.join("squad.json");
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

#[test]
fn an_answer_outside_its_context_is_an_error_or_a_counted_skip() {
    let dir = tempfile::tempdir().unwrap();
    let context = "Le 1 café au lait";
    // Past the end of the context.
    let path = write_squad(dir.path(), context, "lait noir", 13);
    let err = read_squad(&path, BadAnswerPolicy::Error).unwrap_err();
    assert!(matches!(&err, TaskError::AnswerOutsideContext { qid, .. } if qid == "bad-answer"));
    let message = err.to_string();
    assert!(
        message.contains("bad-answer") && message.contains("squad.json"),
        "{message}"
    );
    // Inside, but the text is not there: offsets count characters, and "au" starts at
    // character 10 (byte 11, after the two-byte "é").
    let path = write_squad(dir.path(), context, "au", 11);
    assert!(read_squad(&path, BadAnswerPolicy::Error).is_err());
    let path = write_squad(dir.path(), context, "au", 10);
    assert_eq!(
        read_squad(&path, BadAnswerPolicy::Error)
            .unwrap()
            .examples
            .len(),
        2
    );

    let path = write_squad(dir.path(), context, "lait noir", 13);
    let dataset = read_squad(&path, BadAnswerPolicy::Skip).unwrap();
    assert_eq!(dataset.examples.len(), 1);
    assert_eq!(dataset.examples[0].id, "good");
    assert_eq!(dataset.skipped.len(), 1);
    assert_eq!(dataset.skipped[0].id, "bad-answer");
}

#[test]
fn a_malformed_squad_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        r#"{"version": "1.1", "data": [{"paragraphs": [{"qas": []}]}]}"#,
    )
    .unwrap();
    let message = read_squad(&path, BadAnswerPolicy::Error)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("broken.json") && message.contains("context"),
        "{message}"
    );
}

/// The fixture's hash: h = (h * 1000003 + x + 1) mod (2^31 - 1).
fn digest(values: impl IntoIterator<Item = u64>) -> u64 {
    const MOD: u128 = (1 << 31) - 1;
    values
        .into_iter()
        .fold(0u128, |h, x| (h * 1_000_003 + u128::from(x) + 1) % MOD) as u64
}

#[test]
fn windows_match_the_reference_pipelines() {
    // scripts/make_squad_window_fixtures.py: transformers' legacy
    // squad_convert_examples_to_features (step) and run_qa.py's tokenizer call (overlap).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/squad_window_fixtures.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dataset = shipped_squad();
    let ids: Vec<&str> = fixture["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    let examples = &dataset.examples[..ids.len()];
    assert_eq!(
        examples.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ids
    );
    for (mode, key) in [
        (DocStrideMode::Step, "step"),
        (DocStrideMode::Overlap, "overlap"),
    ] {
        let config = SquadFeatureConfig {
            max_seq_length: 96,
            doc_stride: 24,
            doc_stride_mode: mode,
            max_query_length: 24,
        };
        let features = featurizer(&config).build(examples).unwrap();
        let ours: Vec<Vec<u64>> = features
            .iter()
            .map(|f| {
                let max_context = (0..f.max_context.len()).filter(|&i| f.max_context[i]);
                vec![
                    f.example as u64,
                    f.text.len() as u64,
                    digest(f.text.input_ids.iter().map(|&id| id as u64)),
                    match mode {
                        DocStrideMode::Step => digest(max_context.map(|i| i as u64)),
                        DocStrideMode::Overlap => 0,
                    },
                    f.start_position as u64,
                    f.end_position as u64,
                ]
            })
            .collect();
        let reference: Vec<Vec<u64>> = serde_json::from_value(fixture[key].clone()).unwrap();
        assert_eq!(ours.len(), reference.len(), "{key}: window count");
        for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
            assert_eq!(a, b, "{key}: window {i} of question {}", ids[a[0] as usize]);
        }
    }
}
