//! The official SQuAD normalisation, exact match and F1 on hand-checked cases, and the v2.0
//! breakdown and best threshold on a small set.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use distil_tasks::squad::{
    evaluate, exact_match, f1_score, normalize_answer, SquadAnswer, SquadExample, SquadVersion,
};

#[test]
fn normalisation_follows_the_official_four_steps() {
    // Lower-case, drop ASCII punctuation, drop whole-word articles, collapse whitespace.
    assert_eq!(normalize_answer("The Normans"), "normans");
    assert_eq!(
        normalize_answer("  A  cat, an apple;\tthe end. "),
        "cat apple end"
    );
    // Articles only as whole words: "theory", "anatomy", "bathe" keep their letters.
    assert_eq!(
        normalize_answer("Theory of an anatomy, bathe"),
        "theory of anatomy bathe"
    );
    // Punctuation is removed before articles: "the-end" becomes "theend", "a.b" "ab".
    assert_eq!(normalize_answer("the-end a.b"), "theend ab");
    // Removing punctuation can expose an article: "(the)" -> "the" -> "".
    assert_eq!(normalize_answer("(the) Beatles"), "beatles");
    // Non-ASCII punctuation stays (Python's string.punctuation is ASCII only); Unicode
    // letters are lower-cased; a non-breaking space separates words.
    assert_eq!(
        normalize_answer("«Ñandú» — Straße\u{a0}The End"),
        "«ñandú» — straße end"
    );
    // Accented letters are word characters: "à" is not the article "a".
    assert_eq!(normalize_answer("à la carte"), "à la carte");
    assert_eq!(normalize_answer("The"), "");
}

#[test]
fn exact_match_compares_normalised_strings() {
    assert!(exact_match("the Eiffel Tower!", "Eiffel tower"));
    assert!(exact_match("1,000", "1000"));
    assert!(!exact_match("1.000", "1 000"));
    assert!(!exact_match("Normandy, France", "France"));
}

#[test]
fn f1_counts_shared_tokens_as_a_multiset() {
    let v1 = SquadVersion::V1;
    // pred {in, 10th, century} vs gold {10th, and, 11th, centuries}: 1 shared.
    let f1 = f1_score("in the 10th century", "10th and 11th centuries", v1);
    assert!((f1 - 2.0 * (1.0 / 3.0) * (1.0 / 4.0) / (1.0 / 3.0 + 1.0 / 4.0)).abs() < 1e-12);
    // Repeated tokens count only as often as they appear in both: pred "new new york"
    // vs gold "new york": same = 2, P = 2/3, R = 1, F1 = 0.8.
    assert!((f1_score("new new york", "New York", v1) - 0.8).abs() < 1e-12);
    assert_eq!(f1_score("Paris", "London", v1), 0.0);
    assert_eq!(f1_score("The Beatles", "beatles!", v1), 1.0);
    // Empty against empty: 0 under v1.1 (no overlap), 1 under v2.0.
    assert_eq!(f1_score("", "the", v1), 0.0);
    assert_eq!(f1_score("", "", SquadVersion::V2), 1.0);
    assert_eq!(f1_score("a", "Paris", SquadVersion::V2), 0.0);
}

fn example(id: &str, answers: &[&str]) -> SquadExample {
    SquadExample {
        id: id.into(),
        question: "?".into(),
        context: Arc::from("context"),
        paragraph: 0,
        answers: answers
            .iter()
            .map(|t| SquadAnswer {
                text: t.to_string(),
                char_start: 0,
            })
            .collect(),
        is_impossible: answers.is_empty(),
    }
}

fn predictions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .collect()
}

#[test]
fn each_question_takes_its_best_gold_answer() {
    let examples = vec![
        example("q1", &["Denver Broncos", "the Broncos", "Broncos"]),
        example("q2", &["Santa Clara, California", "Levi's Stadium"]),
        example("q3", &["gold"]),
    ];
    let preds = predictions(&[("q1", "Broncos"), ("q2", "Levi's Stadium in Santa Clara")]);
    let scores = evaluate(&examples, &preds, None, SquadVersion::V1);
    // q1 exact (third gold); q2 best F1 against "Levi's Stadium": P = 2/5 ("levis",
    // "stadium" of levis/stadium/in/santa/clara), R = 1 -> 4/7; against "Santa Clara,
    // California": same 2, P = 2/5, R = 2/3 -> 0.5. q3 missing: 0, still counted.
    assert_eq!(scores.missing, 1);
    assert_eq!(scores.all.total, 3);
    assert!((scores.all.exact - 100.0 / 3.0).abs() < 1e-9);
    assert!((scores.all.f1 - 100.0 * (1.0 + 4.0 / 7.0) / 3.0).abs() < 1e-9);
    assert_eq!(
        scores.to_json(),
        serde_json::json!({"exact_match": scores.all.exact, "f1": scores.all.f1})
    );
}

#[test]
fn version_two_breaks_down_has_answer_and_no_answer() {
    let examples = vec![
        example("a1", &["Paris"]),
        example("a2", &["blue whale"]),
        example("n1", &[]),
        example("n2", &[]),
    ];
    let preds = predictions(&[("a1", "Paris"), ("a2", ""), ("n1", ""), ("n2", "whale")]);
    let odds: BTreeMap<String, f64> = [("a1", -3.0), ("a2", 1.0), ("n1", 2.0), ("n2", -1.0)]
        .iter()
        .map(|(q, o)| (q.to_string(), *o))
        .collect();
    let scores = evaluate(&examples, &preds, Some(&odds), SquadVersion::V2);
    assert_eq!(scores.all.exact, 50.0);
    let has = scores.has_answer.unwrap();
    let no = scores.no_answer.unwrap();
    assert_eq!((has.exact, has.total), (50.0, 2));
    assert_eq!((no.exact, no.f1, no.total), (50.0, 50.0, 2));
    // Best threshold, official `find_best_thresh`: start at 2 (all no-answer right); by
    // rising odds: a1 (-3) +1 -> 3, n2 (-1) answered wrongly -1 -> 2, a2 (1) +0, n1 (2) +0.
    // Best 3 of 4 at threshold -3.
    assert_eq!(scores.best_exact, Some((75.0, -3.0)));
    let json = scores.to_json();
    assert_eq!(json["HasAns_total"], 2);
    assert_eq!(json["NoAns_exact"], 50.0);
    assert_eq!(json["best_exact_thresh"], -3.0);
}

#[test]
fn version_two_drops_gold_answers_that_normalise_to_nothing() {
    // A gold "The" normalises to "" and is dropped under v2.0, leaving "Beatles"; v1.1 keeps
    // it, so an empty prediction matches it exactly.
    let examples = vec![example("q", &["The", "Beatles"])];
    let empty = predictions(&[("q", "")]);
    assert_eq!(
        evaluate(&examples, &empty, None, SquadVersion::V1)
            .all
            .exact,
        100.0
    );
    assert_eq!(
        evaluate(&examples, &empty, None, SquadVersion::V2)
            .all
            .exact,
        0.0
    );
}
