//! Each GLUE task's official metric, computed as scikit-learn and scipy compute them (the
//! functions `run_glue.py` calls).

use std::collections::BTreeMap;

use super::reader::GlueLabel;
use super::task::{GlueSplit, GlueTask};
use crate::TaskError;

/// Share of equal entries.
pub fn accuracy(gold: &[usize], predicted: &[usize]) -> f64 {
    let same = gold.iter().zip(predicted).filter(|(g, p)| g == p).count();
    same as f64 / gold.len() as f64
}

/// F1 of class 1 against the rest (`sklearn.metrics.f1_score`, binary); 0 when there is
/// neither a predicted nor a gold positive, as scikit-learn's zero-division default gives.
pub fn binary_f1(gold: &[usize], predicted: &[usize]) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&g, &p) in gold.iter().zip(predicted) {
        match (g == 1, p == 1) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denominator = 2 * tp + fp + fn_;
    if denominator == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denominator as f64
    }
}

/// Matthews correlation in scikit-learn's multiclass form (equal to the binary formula for
/// two classes); 0 when either side is constant.
pub fn matthews_corrcoef(gold: &[usize], predicted: &[usize]) -> f64 {
    let classes = gold.iter().chain(predicted).max().map_or(0, |m| m + 1);
    let mut gold_counts = vec![0f64; classes];
    let mut predicted_counts = vec![0f64; classes];
    let mut correct = 0f64;
    for (&g, &p) in gold.iter().zip(predicted) {
        gold_counts[g] += 1.0;
        predicted_counts[p] += 1.0;
        if g == p {
            correct += 1.0;
        }
    }
    let n = gold.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_gold_predicted = correct * n - dot(&gold_counts, &predicted_counts);
    let cov_predicted = n * n - dot(&predicted_counts, &predicted_counts);
    let cov_gold = n * n - dot(&gold_counts, &gold_counts);
    if cov_predicted * cov_gold == 0.0 {
        0.0
    } else {
        cov_gold_predicted / (cov_gold * cov_predicted).sqrt()
    }
}

/// Pearson's r (`scipy.stats.pearsonr`); NaN when either side is constant, as scipy gives.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let denominator = (sxx * syy).sqrt();
    if denominator == 0.0 {
        f64::NAN
    } else {
        (sxy / denominator).clamp(-1.0, 1.0)
    }
}

/// Spearman's rho (`scipy.stats.spearmanr`): Pearson's r of the ranks, ties averaged.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks where tied values share the mean of their ranks.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

impl GlueTask {
    /// The task's official metrics for one labelled split, keyed as `run_glue.py` reports
    /// them (`mcc`; `acc`; `acc`, `f1`, `acc_and_f1`; `pearson`, `spearmanr`, `corr`;
    /// `mnli/acc` and `mnli-mm/acc`).
    pub fn metrics(
        self,
        split: GlueSplit,
        gold: &[GlueLabel],
        predicted: &[GlueLabel],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        if gold.len() != predicted.len() || gold.is_empty() {
            return Err(TaskError::Mismatch {
                what: "predictions for the gold labels",
                expected: format!("{} (at least one)", gold.len()),
                found: predicted.len().to_string(),
            });
        }
        let mut metrics = BTreeMap::new();
        if self.is_regression() {
            let gold = scores(gold)?;
            let predicted = scores(predicted)?;
            let (r, rho) = (pearson(&predicted, &gold), spearman(&predicted, &gold));
            metrics.insert("pearson".into(), r);
            metrics.insert("spearmanr".into(), rho);
            metrics.insert("corr".into(), (r + rho) / 2.0);
            return Ok(metrics);
        }
        let gold = classes(gold)?;
        let predicted = classes(predicted)?;
        match self {
            GlueTask::Cola => {
                metrics.insert("mcc".into(), matthews_corrcoef(&gold, &predicted));
            }
            GlueTask::Mrpc | GlueTask::Qqp => {
                let (acc, f1) = (accuracy(&gold, &predicted), binary_f1(&gold, &predicted));
                metrics.insert("acc".into(), acc);
                metrics.insert("f1".into(), f1);
                metrics.insert("acc_and_f1".into(), (acc + f1) / 2.0);
            }
            GlueTask::Mnli => {
                let key = format!("{}/acc", self.metric_prefix(split));
                metrics.insert(key, accuracy(&gold, &predicted));
            }
            _ => {
                metrics.insert("acc".into(), accuracy(&gold, &predicted));
            }
        }
        Ok(metrics)
    }
}

fn classes(labels: &[GlueLabel]) -> Result<Vec<usize>, TaskError> {
    labels
        .iter()
        .map(|label| match label {
            GlueLabel::Class(c) => Ok(*c),
            GlueLabel::Score(s) => Err(kind_mismatch("a class id", s)),
        })
        .collect()
}

fn scores(labels: &[GlueLabel]) -> Result<Vec<f64>, TaskError> {
    labels
        .iter()
        .map(|label| match label {
            GlueLabel::Score(s) => Ok(*s),
            GlueLabel::Class(c) => Err(kind_mismatch("a score", c)),
        })
        .collect()
}

fn kind_mismatch(expected: &str, found: &dyn std::fmt::Display) -> TaskError {
    TaskError::Mismatch {
        what: "label kind",
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn closed_form_values() {
        assert_eq!(matthews_corrcoef(&[0, 1, 0, 1], &[0, 1, 0, 1]), 1.0);
        assert_eq!(matthews_corrcoef(&[0, 1, 0, 1], &[1, 0, 1, 0]), -1.0);
        assert_eq!(matthews_corrcoef(&[0, 1, 0, 1], &[1, 1, 1, 1]), 0.0);
        assert_eq!(binary_f1(&[0, 0], &[0, 0]), 0.0);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
