//! The official SQuAD evaluation: answer normalisation, exact match and token F1, with
//! v2.0's HasAns/NoAns breakdown and best no-answer threshold.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::reader::{SquadExample, SquadVersion};

/// Python's `str.isspace` (Rust's `char::is_whitespace` plus the ASCII information
/// separators), so `split()` splits where the official script does.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's regex `\w`: letters, digits and `_`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The official `normalize_answer`: lower-case, drop ASCII punctuation, drop the articles
/// `a`, `an` and `the` as whole words, collapse whitespace.
pub fn normalize_answer(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    // `\b(a|an|the)\b` matches exactly the maximal word-character runs equal to an article.
    let mut without_articles = String::with_capacity(lowered.len());
    let mut rest = lowered.as_str();
    while let Some(c) = rest.chars().next() {
        let word = is_word_char(c);
        let run_end = rest
            .char_indices()
            .find(|&(_, d)| is_word_char(d) != word)
            .map_or(rest.len(), |(i, _)| i);
        let run = &rest[..run_end];
        if word && matches!(run, "a" | "an" | "the") {
            without_articles.push(' ');
        } else {
            without_articles.push_str(run);
        }
        rest = &rest[run_end..];
    }
    without_articles
        .split(is_python_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokens(normalized: &str) -> Vec<&str> {
    normalized.split(' ').filter(|t| !t.is_empty()).collect()
}

/// Exact match after normalisation.
pub fn exact_match(prediction: &str, gold: &str) -> bool {
    normalize_answer(prediction) == normalize_answer(gold)
}

/// Bag-of-tokens F1 of the normalised strings. When either side has no tokens, v2.0 scores
/// 1 if both are empty and 0 otherwise; v1.1 scores 0 whenever nothing overlaps.
pub fn f1_score(prediction: &str, gold: &str, version: SquadVersion) -> f64 {
    let (prediction, gold) = (normalize_answer(prediction), normalize_answer(gold));
    let (predicted, gold) = (tokens(&prediction), tokens(&gold));
    if version == SquadVersion::V2 && (predicted.is_empty() || gold.is_empty()) {
        return f64::from(u8::from(predicted == gold));
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for token in &gold {
        *counts.entry(token).or_default() += 1;
    }
    let mut same = 0usize;
    for token in &predicted {
        if let Some(count) = counts.get_mut(token).filter(|c| **c > 0) {
            *count -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / predicted.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Exact match and F1 (both 0-100) over a set of questions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreTotals {
    pub exact: f64,
    pub f1: f64,
    pub total: usize,
}

/// The official scores.
#[derive(Debug, Clone, PartialEq)]
pub struct SquadScores {
    pub version: SquadVersion,
    pub all: ScoreTotals,
    /// v2.0: questions with an answer, and those without.
    pub has_answer: Option<ScoreTotals>,
    pub no_answer: Option<ScoreTotals>,
    /// v2.0 with null odds: the best scores over no-answer thresholds, and the threshold.
    pub best_exact: Option<(f64, f64)>,
    pub best_f1: Option<(f64, f64)>,
    /// Questions without a prediction (scored 0, still counted in the totals).
    pub missing: usize,
}

impl SquadScores {
    /// The scores under the official scripts' keys (`exact_match`/`f1` for v1.1; `exact`,
    /// `f1`, `total`, `HasAns_*`, `NoAns_*`, `best_*` for v2.0).
    pub fn to_json(&self) -> Value {
        match self.version {
            SquadVersion::V1 => json!({"exact_match": self.all.exact, "f1": self.all.f1}),
            SquadVersion::V2 => {
                let mut map = serde_json::Map::new();
                map.insert("exact".into(), json!(self.all.exact));
                map.insert("f1".into(), json!(self.all.f1));
                map.insert("total".into(), json!(self.all.total));
                for (prefix, totals) in [("HasAns", self.has_answer), ("NoAns", self.no_answer)] {
                    if let Some(t) = totals.filter(|t| t.total > 0) {
                        map.insert(format!("{prefix}_exact"), json!(t.exact));
                        map.insert(format!("{prefix}_f1"), json!(t.f1));
                        map.insert(format!("{prefix}_total"), json!(t.total));
                    }
                }
                for (name, best) in [("exact", self.best_exact), ("f1", self.best_f1)] {
                    if let Some((score, threshold)) = best {
                        map.insert(format!("best_{name}"), json!(score));
                        map.insert(format!("best_{name}_thresh"), json!(threshold));
                    }
                }
                Value::Object(map)
            }
        }
    }
}

/// Scores `predictions` (question id to text) against every example's gold answers, taking
/// each question's best match. Under v2.0 gold answers that normalise to nothing are dropped
/// and a question left without one expects `""`.
pub fn evaluate(
    examples: &[SquadExample],
    predictions: &BTreeMap<String, String>,
    null_odds: Option<&BTreeMap<String, f64>>,
    version: SquadVersion,
) -> SquadScores {
    let mut exact = Vec::with_capacity(examples.len());
    let mut f1 = Vec::with_capacity(examples.len());
    let mut missing = 0;
    for example in examples {
        let Some(prediction) = predictions.get(&example.id) else {
            missing += 1;
            exact.push(0.0);
            f1.push(0.0);
            continue;
        };
        let mut golds: Vec<&str> = example.answers.iter().map(|a| a.text.as_str()).collect();
        if version == SquadVersion::V2 {
            golds.retain(|g| !normalize_answer(g).is_empty());
            if golds.is_empty() {
                golds.push("");
            }
        }
        let best = |score: &dyn Fn(&str) -> f64| golds.iter().map(|g| score(g)).fold(0.0, f64::max);
        exact.push(best(&|g| f64::from(u8::from(exact_match(prediction, g)))));
        f1.push(best(&|g| f1_score(prediction, g, version)));
    }
    let totals = |keep: &dyn Fn(&SquadExample) -> bool| {
        let chosen: Vec<usize> = (0..examples.len())
            .filter(|&i| keep(&examples[i]))
            .collect();
        let mean = |values: &[f64]| {
            100.0 * chosen.iter().map(|&i| values[i]).sum::<f64>() / chosen.len().max(1) as f64
        };
        ScoreTotals {
            exact: mean(&exact),
            f1: mean(&f1),
            total: chosen.len(),
        }
    };
    let all = totals(&|_| true);
    let (has_answer, no_answer, best_exact, best_f1) = match version {
        SquadVersion::V1 => (None, None, None, None),
        SquadVersion::V2 => {
            let best = |scores: &[f64]| {
                null_odds.map(|odds| best_threshold(examples, predictions, scores, odds))
            };
            (
                Some(totals(&|e| !e.answers.is_empty())),
                Some(totals(&|e| e.answers.is_empty())),
                best(&exact),
                best(&f1),
            )
        }
    };
    SquadScores {
        version,
        all,
        has_answer,
        no_answer,
        best_exact,
        best_f1,
        missing,
    }
}

/// The official `find_best_thresh`: predicting no answer for every question whose null odds
/// exceed a threshold, the best total score (0-100) over thresholds, and that threshold.
fn best_threshold(
    examples: &[SquadExample],
    predictions: &BTreeMap<String, String>,
    scores: &[f64],
    null_odds: &BTreeMap<String, f64>,
) -> (f64, f64) {
    let odds = |e: &SquadExample| null_odds.get(&e.id).copied().unwrap_or(0.0);
    let mut current = examples.iter().filter(|e| e.answers.is_empty()).count() as f64;
    let (mut best, mut threshold) = (current, 0.0);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by(|&a, &b| odds(&examples[a]).total_cmp(&odds(&examples[b])));
    for i in order {
        let example = &examples[i];
        let Some(prediction) = predictions.get(&example.id) else {
            continue;
        };
        current += if !example.answers.is_empty() {
            scores[i]
        } else if prediction.is_empty() {
            0.0
        } else {
            -1.0
        };
        if current > best {
            best = current;
            threshold = odds(example);
        }
    }
    (100.0 * best / examples.len().max(1) as f64, threshold)
}
