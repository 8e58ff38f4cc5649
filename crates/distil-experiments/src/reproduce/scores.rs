//! The arithmetic over fine-tuning scores that `results.json` records: medians over seeds,
//! macro scores over tasks, the student's share of the teacher (ours and the paper's) and the
//! ablations' deltas.

use std::collections::BTreeMap;

use super::ablation::Ablation;
use super::paper;
use super::results::{AblationScore, TaskScore, STUDENT, TEACHER};

/// The GLUE figures derived from every model's task medians.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueSummary {
    /// Model to the unweighted mean of its task medians.
    pub macro_scores: BTreeMap<String, f64>,
    /// Task to student median / teacher median x 100, plus `macro`.
    pub student_share_of_teacher: BTreeMap<String, f64>,
    /// The paper's share over the same tasks (DistilBERT / BERT-base), plus `macro`.
    pub paper_share_of_teacher: BTreeMap<String, f64>,
    /// The ablations that were fine-tuned, in Table 4's order.
    pub ablations: Vec<AblationScore>,
}

impl GlueSummary {
    /// `glue` maps model to task to score; `tasks` are the tasks the macro scores cover.
    pub fn new(glue: &BTreeMap<String, BTreeMap<String, TaskScore>>, tasks: &[String]) -> Self {
        let macro_scores: BTreeMap<String, f64> = glue
            .iter()
            .map(|(m, s)| (m.clone(), macro_score(s, tasks)))
            .collect();
        let macro_of = |m: &str| macro_scores.get(m).copied().unwrap_or(f64::NAN);
        let mut student_share = BTreeMap::new();
        let mut paper_share = BTreeMap::new();
        for task in tasks {
            let ours = |m: &str| {
                glue.get(m)
                    .and_then(|s| s.get(task))
                    .map_or(f64::NAN, |s| s.median)
            };
            student_share.insert(task.clone(), share(ours(STUDENT), ours(TEACHER)));
            if let Some((bert, distil)) = paper::glue_scores(task) {
                paper_share.insert(task.clone(), share(distil, bert));
            }
        }
        student_share.insert("macro".into(), share(macro_of(STUDENT), macro_of(TEACHER)));
        paper_share.insert(
            "macro".into(),
            share(
                paper::glue_macro(tasks, false),
                paper::glue_macro(tasks, true),
            ),
        );
        let ablations = Ablation::ALL
            .into_iter()
            .filter(|a| macro_scores.contains_key(a.name()))
            .map(|a| AblationScore {
                name: a,
                macro_score: macro_of(a.name()),
                delta: macro_of(a.name()) - macro_of(STUDENT),
                paper_delta: a.paper_delta(),
            })
            .collect();
        Self {
            macro_scores,
            student_share_of_teacher: student_share,
            paper_share_of_teacher: paper_share,
            ablations,
        }
    }
}

/// `part` as a percentage of `whole`.
pub fn share(part: f64, whole: f64) -> f64 {
    100.0 * part / whole
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The unweighted mean over `tasks` of a model's medians; NaN when a task is missing.
pub fn macro_score(scores: &BTreeMap<String, TaskScore>, tasks: &[String]) -> f64 {
    mean(
        tasks
            .iter()
            .map(|t| scores.get(t).map_or(f64::NAN, |s| s.median)),
    )
}

/// The arithmetic mean (NaN for no values, or when one is NaN).
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, n), v| (sum + v, n + 1));
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::results::NO_PRETRAINING;

    fn score(median: f64) -> TaskScore {
        TaskScore {
            metric: "acc".into(),
            seeds: BTreeMap::new(),
            median,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|t| t.to_string()).collect()
    }

    /// Model to task to median, from rows of (model, [(task, median)]).
    fn glue(rows: &[(&str, &[(&str, f64)])]) -> BTreeMap<String, BTreeMap<String, TaskScore>> {
        rows.iter()
            .map(|(model, tasks)| {
                let tasks = tasks.iter().map(|(t, m)| (t.to_string(), score(*m)));
                (model.to_string(), tasks.collect())
            })
            .collect()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} vs {expected}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn paper_macro_is_reproduced_from_its_tasks() {
        let tasks = strings(&paper::GLUE_COLUMNS);
        let as_scores = |values: [f64; 9]| -> BTreeMap<String, TaskScore> {
            tasks.iter().cloned().zip(values.map(score)).collect()
        };
        let bert = macro_score(&as_scores(paper::BERT_GLUE), &tasks);
        let distil = macro_score(&as_scores(paper::DISTILBERT_GLUE), &tasks);
        assert!((bert - paper::BERT_MACRO).abs() < 0.05, "{bert}");
        assert!((distil - paper::DISTILBERT_MACRO).abs() < 0.05, "{distil}");
    }

    #[test]
    fn shares_macros_and_deltas_of_a_two_task_run() {
        let tasks = strings(&["rte", "sts-b"]);
        let glue = glue(&[
            (TEACHER, &[("rte", 60.0), ("sts-b", 80.0)]),
            (STUDENT, &[("rte", 54.0), ("sts-b", 76.0)]),
            (NO_PRETRAINING, &[("rte", 50.0), ("sts-b", 10.0)]),
            ("no-cos", &[("rte", 52.0), ("sts-b", 70.0)]),
            ("random-init", &[("rte", 50.0), ("sts-b", 20.0)]),
        ]);
        let summary = GlueSummary::new(&glue, &tasks);
        assert_eq!(summary.macro_scores[TEACHER], 70.0);
        assert_eq!(summary.macro_scores[STUDENT], 65.0);
        assert_eq!(summary.macro_scores[NO_PRETRAINING], 30.0);
        // 54 / 60 and 76 / 80 of the teacher, and 65 / 70 of its macro.
        let ours = &summary.student_share_of_teacher;
        assert_close(ours["rte"], 90.0);
        assert_close(ours["sts-b"], 95.0);
        assert_close(ours["macro"], 100.0 * 65.0 / 70.0);
        assert_eq!(ours.len(), 3);
        // Table 1: RTE 59.9 / 69.3, STS-B 86.9 / 89.0; macro over these two tasks only.
        let paper = &summary.paper_share_of_teacher;
        assert_close(paper["rte"], 100.0 * 59.9 / 69.3);
        assert_close(paper["sts-b"], 100.0 * 86.9 / 89.0);
        assert_close(paper["macro"], 100.0 * (59.9 + 86.9) / (69.3 + 89.0));
        // Only the ablations that ran, in Table 4's order, against the student's 65.
        let rows: Vec<(Ablation, f64, f64, f64)> = summary
            .ablations
            .iter()
            .map(|a| (a.name, a.macro_score, a.delta, a.paper_delta))
            .collect();
        assert_eq!(
            rows,
            [
                (Ablation::NoCos, 61.0, -4.0, -1.46),
                (Ablation::RandomInit, 35.0, -30.0, -3.69)
            ]
        );
    }

    #[test]
    fn a_missing_score_makes_its_figures_nan() {
        let tasks = strings(&["rte", "cola"]);
        let glue = glue(&[
            (TEACHER, &[("rte", 60.0), ("cola", 40.0)]),
            (STUDENT, &[("rte", 30.0)]),
        ]);
        let summary = GlueSummary::new(&glue, &tasks);
        assert_close(summary.student_share_of_teacher["rte"], 50.0);
        assert!(summary.student_share_of_teacher["cola"].is_nan());
        assert!(summary.macro_scores[STUDENT].is_nan());
        assert!(summary.student_share_of_teacher["macro"].is_nan());
        assert!(summary.ablations.is_empty());
    }
}
