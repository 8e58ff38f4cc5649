//! From a QA head's start/end logits to answer text: n-best spans over every window of a
//! question, mapped back to the original context through character offsets, and the null
//! answer for SQuAD v2.0 (the reference's `compute_predictions_logits`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::features::SquadFeature;
use super::reader::{SquadExample, SquadVersion};
use crate::output::write_json;
use crate::TaskError;

/// How answers are chosen (the `decode` block of a SQuAD run config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeConfig {
    /// Start and end candidates kept per window, and answers kept per question.
    #[serde(default = "default_n_best_size")]
    pub n_best_size: usize,
    /// Longest answer, in tokens.
    #[serde(default = "default_max_answer_length")]
    pub max_answer_length: usize,
    /// SQuAD v2.0: predict no answer when the null score beats the best span by more than
    /// this.
    #[serde(default)]
    pub null_score_diff_threshold: f64,
}

fn default_n_best_size() -> usize {
    20
}

fn default_max_answer_length() -> usize {
    30
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            n_best_size: default_n_best_size(),
            max_answer_length: default_max_answer_length(),
            null_score_diff_threshold: 0.0,
        }
    }
}

impl DecodeConfig {
    pub fn validate(&self) -> Result<(), TaskError> {
        for (key, value) in [
            ("n_best_size", self.n_best_size),
            ("max_answer_length", self.max_answer_length),
        ] {
            if value == 0 {
                return Err(TaskError::Config {
                    key,
                    reason: "must be at least 1".into(),
                });
            }
        }
        if !self.null_score_diff_threshold.is_finite() {
            return Err(TaskError::Config {
                key: "null_score_diff_threshold",
                reason: "must be a finite number".into(),
            });
        }
        Ok(())
    }
}

/// One window's logits over its positions (at least the feature's length; padding beyond it
/// is ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureLogits {
    pub start: Vec<f32>,
    pub end: Vec<f32>,
}

impl FeatureLogits {
    /// Splits a batch's `[batch, seq]` start and end logits into one entry per window.
    pub fn from_batch(start: &Tensor, end: &Tensor) -> Result<Vec<Self>, TaskError> {
        let rows = |t: &Tensor| -> Result<Vec<Vec<f32>>, TaskError> {
            let t = t.to_device(Device::Cpu).to_kind(Kind::Float);
            Ok(Vec::<Vec<f32>>::try_from(t)?)
        };
        if start.size() != end.size() || start.dim() != 2 {
            return Err(TaskError::Mismatch {
                what: "start and end logits",
                expected: "two [batch, seq] tensors of one shape".into(),
                found: format!("{:?} and {:?}", start.size(), end.size()),
            });
        }
        Ok(rows(start)?
            .into_iter()
            .zip(rows(end)?)
            .map(|(start, end)| Self { start, end })
            .collect())
    }
}

/// One of a question's best answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NbestAnswer {
    pub text: String,
    pub probability: f64,
    pub start_logit: f64,
    pub end_logit: f64,
}

/// Decoded answers of every question.
#[derive(Debug, Clone, Default)]
pub struct SquadPredictions {
    /// Question id to answer text (`""` for no answer): the official `predictions.json`.
    pub answers: BTreeMap<String, String>,
    /// SQuAD v2.0: question id to the null score minus the best span's score (the official
    /// evaluator's `na_prob` input for the best-threshold search).
    pub null_odds: BTreeMap<String, f64>,
    /// Question id to its n-best answers, best first.
    pub nbest: BTreeMap<String, Vec<NbestAnswer>>,
}

impl SquadPredictions {
    /// Writes into `dir` the official `predictions.json` (question id to text),
    /// `nbest_predictions.json`, and under v2.0 `null_odds.json` (the official evaluator's
    /// `--na-prob-file`). Returns the path of `predictions.json`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, TaskError> {
        let predictions = dir.join("predictions.json");
        write_json(&predictions, &self.answers)?;
        write_json(&dir.join("nbest_predictions.json"), &self.nbest)?;
        if !self.null_odds.is_empty() {
            write_json(&dir.join("null_odds.json"), &self.null_odds)?;
        }
        Ok(predictions)
    }
}

/// A span candidate: window, start and end token, and their logits.
struct Candidate {
    feature: usize,
    start: usize,
    end: usize,
    start_logit: f64,
    end_logit: f64,
}

impl Candidate {
    fn score(&self) -> f64 {
        self.start_logit + self.end_logit
    }
}

/// Picks every example's answer from its windows' logits. `logits[i]` belongs to
/// `features[i]`; every example must have at least one window.
pub fn decode_answers(
    examples: &[SquadExample],
    features: &[SquadFeature],
    logits: &[FeatureLogits],
    version: SquadVersion,
    config: &DecodeConfig,
) -> Result<SquadPredictions, TaskError> {
    config.validate()?;
    if features.len() != logits.len() {
        return Err(TaskError::Mismatch {
            what: "logits per window",
            expected: features.len().to_string(),
            found: logits.len().to_string(),
        });
    }
    let mut windows: Vec<Vec<usize>> = vec![Vec::new(); examples.len()];
    for (index, feature) in features.iter().enumerate() {
        let length = feature.text.len();
        if logits[index].start.len() < length || logits[index].end.len() < length {
            return Err(TaskError::Mismatch {
                what: "logits per token of a window",
                expected: format!("at least {length}"),
                found: logits[index]
                    .start
                    .len()
                    .min(logits[index].end.len())
                    .to_string(),
            });
        }
        windows
            .get_mut(feature.example)
            .ok_or_else(|| TaskError::Mismatch {
                what: "window's example index",
                expected: format!("below {}", examples.len()),
                found: feature.example.to_string(),
            })?
            .push(index);
    }

    let mut predictions = SquadPredictions::default();
    for (example, windows) in examples.iter().zip(&windows) {
        let mut candidates = Vec::new();
        // The null answer's score is the lowest [CLS] score over the windows.
        let mut null: Option<Candidate> = None;
        for &index in windows {
            let (feature, logits) = (&features[index], &logits[index]);
            span_candidates(index, feature, logits, config, &mut candidates);
            let null_score = f64::from(logits.start[0]) + f64::from(logits.end[0]);
            if null.as_ref().is_none_or(|n| null_score < n.score()) {
                null = Some(Candidate {
                    feature: index,
                    start: 0,
                    end: 0,
                    start_logit: f64::from(logits.start[0]),
                    end_logit: f64::from(logits.end[0]),
                });
            }
        }
        let null = match version {
            SquadVersion::V2 => null,
            SquadVersion::V1 => None,
        };
        let null_score = null.as_ref().map(Candidate::score);
        candidates.extend(null);
        // A stable sort keeps window, start and end order among equal scores.
        candidates.sort_by(|a, b| b.score().total_cmp(&a.score()));

        let nbest = best_answers(example, features, candidates, version, config);
        let best_span = nbest.iter().find(|a| !a.text.is_empty());
        let answer = match (null_score, best_span) {
            (Some(null_score), Some(best)) => {
                let diff = null_score - best.start_logit - best.end_logit;
                predictions.null_odds.insert(example.id.clone(), diff);
                if diff > config.null_score_diff_threshold {
                    String::new()
                } else {
                    best.text.clone()
                }
            }
            _ => nbest.first().map(|a| a.text.clone()).unwrap_or_default(),
        };
        predictions.answers.insert(example.id.clone(), answer);
        predictions.nbest.insert(example.id.clone(), nbest);
    }
    Ok(predictions)
}

/// Spans of one window from its top start and end tokens that can be answers: both inside
/// the context, the start in its max-context window, the end not before the start, at most
/// `max_answer_length` tokens. Tokens are ranked over the window's own positions; the
/// reference also ranks the padding up to `max_seq_length`, whose logits depend on how a
/// batch was padded.
fn span_candidates(
    index: usize,
    feature: &SquadFeature,
    logits: &FeatureLogits,
    config: &DecodeConfig,
    candidates: &mut Vec<Candidate>,
) {
    let length = feature.text.len();
    let starts = top_indices(&logits.start[..length], config.n_best_size);
    let ends = top_indices(&logits.end[..length], config.n_best_size);
    for &start in &starts {
        if feature.token_spans[start].is_none() || !feature.max_context[start] {
            continue;
        }
        for &end in &ends {
            if feature.token_spans[end].is_none()
                || end < start
                || end - start + 1 > config.max_answer_length
            {
                continue;
            }
            candidates.push(Candidate {
                feature: index,
                start,
                end,
                start_logit: f64::from(logits.start[start]),
                end_logit: f64::from(logits.end[end]),
            });
        }
    }
}

/// Indices of the `n` largest values, largest first; ties keep index order.
fn top_indices(values: &[f32], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(n);
    order
}

/// The n-best distinct answer texts from candidates sorted best first, with their softmax
/// probabilities. Under v2.0 the null answer `""` is always among them, and a placeholder
/// `empty` stands in when no span survived, as the reference does.
fn best_answers(
    example: &SquadExample,
    features: &[SquadFeature],
    candidates: Vec<Candidate>,
    version: SquadVersion,
    config: &DecodeConfig,
) -> Vec<NbestAnswer> {
    let mut seen = HashSet::new();
    let mut nbest: Vec<NbestAnswer> = Vec::new();
    let mut null_entry = None;
    for candidate in candidates {
        let text = if candidate.start == 0 {
            String::new()
        } else {
            let feature = &features[candidate.feature];
            match feature.span_text(&example.context, candidate.start, candidate.end) {
                Some(text) => text.to_string(),
                None => continue,
            }
        };
        let entry = NbestAnswer {
            text,
            probability: 0.0,
            start_logit: candidate.start_logit,
            end_logit: candidate.end_logit,
        };
        if candidate.start == 0 {
            null_entry = Some(entry.clone());
        }
        if nbest.len() >= config.n_best_size {
            continue;
        }
        if seen.insert(entry.text.clone()) {
            nbest.push(entry);
        }
    }
    if version == SquadVersion::V2 && !seen.contains("") {
        nbest.extend(null_entry);
    }
    let placeholder = || NbestAnswer {
        text: "empty".into(),
        probability: 0.0,
        start_logit: 0.0,
        end_logit: 0.0,
    };
    if version == SquadVersion::V2 && nbest.len() == 1 {
        nbest.insert(0, placeholder());
    }
    if nbest.is_empty() {
        nbest.push(placeholder());
    }
    let scores: Vec<f64> = nbest.iter().map(|a| a.start_logit + a.end_logit).collect();
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    for (answer, e) in nbest.iter_mut().zip(exps) {
        answer.probability = e / total;
    }
    nbest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_indices_are_largest_first_with_ties_in_index_order() {
        assert_eq!(top_indices(&[0.5, 2.0, 0.5, 3.0], 3), vec![3, 1, 0]);
        assert_eq!(top_indices(&[1.0], 5), vec![0]);
    }
}
