//! SQuAD windows for RoBERTa (`<s> q </s></s> c </s>`, no segment ids, pad id 1, byte-level
//! BPE offsets) against what `run_qa.py` builds with `RobertaTokenizerFast`
//! (`scripts/make_roberta_squad_fixtures.py`), answers cut back out of the original context,
//! and the tokenizers a RoBERTa layout refuses.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{perfect_logits, shipped_squad};
use distil_data::load_tokenizer;
use distil_tasks::squad::{
    decode_answers, evaluate, DecodeConfig, DocStrideMode, PairLayout, QaBatch, SquadDataset,
    SquadExample, SquadFeature, SquadFeatureConfig, SquadFeaturizer, SquadVersion,
};
use distil_tasks::{SegmentIds, TaskError};
use distil_testkit::{fixture_arg, vocab_dir};
use serde_json::Value;
use tokenizers::Tokenizer;

fn roberta_tokenizer() -> Tokenizer {
    load_tokenizer(&fixture_arg("roberta-mlm")).unwrap()
}

fn roberta_featurizer(config: &SquadFeatureConfig) -> SquadFeaturizer {
    SquadFeaturizer::new(&roberta_tokenizer(), PairLayout::ROBERTA, config).unwrap()
}

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/squad_roberta_features.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn usize_of(value: &Value) -> usize {
    value.as_u64().unwrap() as usize
}

/// The fixture's questions, in its order.
fn fixture_examples(fixture: &Value, dataset: &SquadDataset) -> Vec<SquadExample> {
    fixture["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap();
            dataset
                .examples
                .iter()
                .find(|e| e.id == id)
                .unwrap()
                .clone()
        })
        .collect()
}

/// A token's byte span in `context` as the character offsets Python reports.
fn char_span(context: &str, (start, end): (usize, usize)) -> (usize, usize) {
    let chars = |byte: usize| context[..byte].chars().count();
    (chars(start), chars(end))
}

#[test]
fn windows_equal_run_qa_features_from_roberta_tokenizer_fast() {
    let fixture = fixture();
    let dataset = shipped_squad();
    let examples = fixture_examples(&fixture, &dataset);
    let max_seq_length = usize_of(&fixture["max_seq_length"]);
    let featurizer = roberta_featurizer(&SquadFeatureConfig {
        max_seq_length,
        doc_stride: usize_of(&fixture["doc_stride"]),
        doc_stride_mode: DocStrideMode::Overlap,
        max_query_length: usize_of(&fixture["max_query_length"]),
    });
    assert_eq!(featurizer.pad_id(), 1);
    let features = featurizer.build(&examples).unwrap();
    let windows = fixture["windows"].as_array().unwrap();
    assert_eq!(features.len(), windows.len(), "window count");

    // run_qa.py pads every window to max_seq_length; a batch pads to its longest window,
    // which is a full one here.
    let refs: Vec<&SquadFeature> = features.iter().collect();
    let batch = QaBatch::collate(&refs, featurizer.pad_id(), SegmentIds::Drop);
    assert_eq!(
        batch.inputs.input_ids.size(),
        vec![windows.len() as i64, max_seq_length as i64]
    );
    let ids = Vec::<Vec<i64>>::try_from(&batch.inputs.input_ids).unwrap();
    let masks = Vec::<Vec<i64>>::try_from(&batch.inputs.attention_mask).unwrap();
    // RobertaTokenizerFast returns no token_type_ids, and the batch carries none.
    assert_eq!(fixture["returns_token_type_ids"], false);
    assert!(batch.inputs.token_type_ids.is_none());

    let mut answered = 0;
    for (i, (feature, window)) in features.iter().zip(windows).enumerate() {
        let at = format!("window {i} (question {})", window["question"]);
        assert_eq!(feature.example, usize_of(&window["question"]), "{at}");
        let want_ids: Vec<i64> = serde_json::from_value(window["input_ids"].clone()).unwrap();
        let want_mask: Vec<i64> = serde_json::from_value(window["attention_mask"].clone()).unwrap();
        assert_eq!(ids[i], want_ids, "{at}: input_ids");
        assert_eq!(masks[i], want_mask, "{at}: attention_mask");
        assert!(feature.text.token_type_ids.iter().all(|&t| t == 0), "{at}");

        let context = &examples[feature.example].context;
        let mut offsets: Vec<Option<(usize, usize)>> = feature
            .token_spans
            .iter()
            .map(|span| span.map(|s| char_span(context, s)))
            .collect();
        offsets.resize(max_seq_length, None);
        let want_offsets: Vec<Option<(usize, usize)>> =
            serde_json::from_value(window["offsets"].clone()).unwrap();
        assert_eq!(offsets, want_offsets, "{at}: offsets");

        let targets = (feature.start_position, feature.end_position);
        let want = (
            usize_of(&window["start_position"]),
            usize_of(&window["end_position"]),
        );
        assert_eq!(targets, want, "{at}: start and end positions");
        let text = (targets.0 > 0)
            .then(|| feature.span_text(context, targets.0, targets.1).unwrap())
            .map(str::to_string);
        assert_eq!(text.as_deref(), window["answer"].as_str(), "{at}: answer");
        if let Some(text) = text {
            // Cut from the original context: `é` and `–` whole, no byte-level `Ġ`.
            assert_eq!(text, examples[feature.example].answers[0].text, "{at}");
            answered += 1;
        }
    }
    // Each answerable question has a window that holds its answer, two of them two.
    assert_eq!(answered, 6);
}

/// run_qa.py's rule over whole contexts, every answerable question of the subset: among them
/// six answers that start with a character split over byte-level tokens (`£`, `−`), where
/// the target is the last piece.
#[test]
fn training_targets_equal_run_qa_for_every_answerable_question() {
    let whole = &fixture()["whole_context"];
    let dataset = shipped_squad();
    let answerable: Vec<SquadExample> = dataset
        .examples
        .iter()
        .filter(|e| !e.is_impossible)
        .cloned()
        .collect();
    let features = roberta_featurizer(&SquadFeatureConfig {
        max_seq_length: usize_of(&whole["max_seq_length"]),
        max_query_length: usize_of(&whole["max_query_length"]),
        ..SquadFeatureConfig::default()
    })
    .build(&answerable)
    .unwrap();
    assert_eq!(features.len(), answerable.len(), "one window per question");
    let want: Vec<(String, usize, usize)> =
        serde_json::from_value(whole["targets"].clone()).unwrap();
    let ours: Vec<(String, usize, usize)> = features
        .iter()
        .map(|f| {
            let id = answerable[f.example].id.clone();
            (id, f.start_position, f.end_position)
        })
        .collect();
    assert_eq!(ours.len(), want.len());
    for (a, b) in ours.iter().zip(&want) {
        assert_eq!(a, b);
    }
}

#[test]
fn windows_open_with_s_and_close_each_segment_with_end_tokens() {
    let fixture = fixture();
    let dataset = shipped_squad();
    let examples = fixture_examples(&fixture, &dataset);
    let features = roberta_featurizer(&SquadFeatureConfig {
        max_seq_length: 62,
        doc_stride: 18,
        doc_stride_mode: DocStrideMode::Overlap,
        max_query_length: 32,
    })
    .build(&examples)
    .unwrap();
    let tokenizer = roberta_tokenizer();
    let id = |token: &str| i64::from(tokenizer.token_to_id(token).unwrap());
    let (s, end) = (id("<s>"), id("</s>"));
    for f in &features {
        let ids = &f.text.input_ids;
        let first_context = f.token_spans.iter().position(Option::is_some).unwrap();
        assert_eq!(ids[0], s);
        assert_eq!(&ids[first_context - 2..first_context], &[end, end]);
        assert_eq!(*ids.last().unwrap(), end);
        assert_eq!(ids.iter().filter(|&&t| t == end).count(), 3);
        // The question, as its own encoding, sits between `<s>` and `</s></s>`.
        let question = tokenizer
            .encode(examples[f.example].question.as_str(), false)
            .unwrap();
        let question: Vec<i64> = question.get_ids().iter().map(|&i| i64::from(i)).collect();
        assert_eq!(&ids[1..first_context - 2], question.as_slice());
    }
}

/// The answerable question whose first gold answer ends inside a token: "gold rush" of
/// "rushes", which this BPE splits `Ġr` `us` `he` `s`. Its span runs to the end of `he`, as
/// run_qa.py's targets do.
const INSIDE_A_TOKEN: (&str, &str, &str) = ("570d4329fed7b91900d45dd9", "gold rush", "gold rushe");

/// Each window's target span cut from the context, where it is not the first gold answer.
fn misses<'e>(
    examples: &'e [SquadExample],
    features: &[SquadFeature],
) -> Vec<(&'e str, &'e str, String)> {
    features
        .iter()
        .filter(|f| f.start_position > 0)
        .map(|f| {
            let e = &examples[f.example];
            let cut = f
                .span_text(&e.context, f.start_position, f.end_position)
                .unwrap();
            (e.id.as_str(), e.answers[0].text.as_str(), cut.to_string())
        })
        .filter(|(_, gold, cut)| gold != cut)
        .collect()
}

#[test]
fn answer_spans_cut_the_gold_text_from_the_original_context() {
    let dataset = shipped_squad();
    let answerable = dataset.examples.iter().filter(|e| !e.is_impossible).count();
    let (id, gold, cut) = INSIDE_A_TOKEN;
    for (config, held) in [
        (SquadFeatureConfig::default(), answerable),
        (
            SquadFeatureConfig {
                max_seq_length: 62,
                doc_stride: 18,
                doc_stride_mode: DocStrideMode::Overlap,
                max_query_length: 24,
            },
            // Eight answers are longer than the context part of their windows.
            697,
        ),
    ] {
        let features = roberta_featurizer(&config)
            .build(&dataset.examples)
            .unwrap();
        let mut in_a_window = vec![false; dataset.examples.len()];
        for f in features.iter().filter(|f| f.start_position > 0) {
            in_a_window[f.example] = true;
        }
        assert_eq!(
            in_a_window.iter().filter(|&&x| x).count(),
            held,
            "{config:?}"
        );
        // Byte-level offsets cut whole characters at token boundaries (`é` split in two
        // tokens comes back whole, a word's `Ġ` is not part of its span), so every target
        // span is its gold answer character for character.
        let missed = misses(&dataset.examples, &features);
        assert!(!missed.is_empty(), "{config:?}");
        assert!(
            missed.iter().all(|m| *m == (id, gold, cut.to_string())),
            "{config:?}: {missed:?}"
        );
    }
}

#[test]
fn perfect_logits_decode_to_the_gold_answers() {
    let dataset = shipped_squad();
    let features = roberta_featurizer(&SquadFeatureConfig::default())
        .build(&dataset.examples)
        .unwrap();
    // This BPE spells an answer in up to ~70 pieces: no length limit, so that perfect
    // logits pick the target span whatever its length.
    let decode = DecodeConfig {
        max_answer_length: 1000,
        ..DecodeConfig::default()
    };
    let predictions = decode_answers(
        &dataset.examples,
        &features,
        &perfect_logits(&features),
        SquadVersion::V2,
        &decode,
    )
    .unwrap();
    let (id, _, cut) = INSIDE_A_TOKEN;
    for e in &dataset.examples {
        let want = match (e.is_impossible, e.id == id) {
            (true, _) => "",
            (false, true) => cut,
            (false, false) => e.answers[0].text.as_str(),
        };
        assert_eq!(predictions.answers[&e.id], want, "{}", e.id);
    }
    assert_eq!(
        predictions.answers["56de49a8cffd8e1900b4b7a8"],
        "Enrique Pérez de Guzmán"
    );
    let scores = evaluate(
        &dataset.examples,
        &predictions.answers,
        Some(&predictions.null_odds),
        SquadVersion::V2,
    );
    assert_eq!(scores.all.exact, 100.0 * 1406.0 / 1407.0);
}

#[test]
fn a_tokenizer_of_another_family_is_refused() {
    let config = SquadFeatureConfig::default();
    let bert = load_tokenizer(vocab_dir().to_str().unwrap()).unwrap();
    let err = SquadFeaturizer::new(&bert, PairLayout::ROBERTA, &config).unwrap_err();
    assert!(matches!(err, TaskError::Layout { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("CLS q SEP SEP c SEP"), "{message}");

    let err = SquadFeaturizer::new(&roberta_tokenizer(), PairLayout::BERT, &config).unwrap_err();
    assert!(matches!(err, TaskError::Layout { .. }), "{err}");
    // Each family's own tokenizer passes.
    SquadFeaturizer::new(&bert, PairLayout::BERT, &config).unwrap();
    SquadFeaturizer::new(&roberta_tokenizer(), PairLayout::ROBERTA, &config).unwrap();
}

#[test]
fn roberta_windows_leave_room_for_their_fourth_special_token() {
    // 62 - 58 - 4 leaves RoBERTa no context token; BERT's three special tokens leave one.
    let config = SquadFeatureConfig {
        max_seq_length: 62,
        max_query_length: 58,
        doc_stride: 1,
        doc_stride_mode: DocStrideMode::Step,
    };
    let err = SquadFeaturizer::new(&roberta_tokenizer(), PairLayout::ROBERTA, &config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 special tokens"), "{err}");
    let bert = load_tokenizer(vocab_dir().to_str().unwrap()).unwrap();
    SquadFeaturizer::new(&bert, PairLayout::BERT, &config).unwrap();
}
