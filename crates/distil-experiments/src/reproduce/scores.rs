//! The arithmetic over fine-tuning scores that `results.json` records: medians over seeds,
//! macro scores over tasks and seeds, seed spreads, the student's share of the teacher (ours
//! and the paper's), what distillation adds over its initialisation and the ablations' deltas.

use std::collections::{BTreeMap, BTreeSet};

use super::ablation::Ablation;
use super::paper;
use super::results::{AblationScore, MacroGap, TaskScore, NO_DISTILLATION, STUDENT, TEACHER};

/// The GLUE figures derived from every model's task medians.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueSummary {
    /// Model to the unweighted mean of its task medians.
    pub macro_scores: BTreeMap<String, f64>,
    /// Model to seed to the mean over tasks of that seed's scores; a seed that misses a task
    /// is left out rather than averaged over fewer tasks.
    pub macro_by_seed: BTreeMap<String, BTreeMap<u64, f64>>,
    /// Model to the largest minus the smallest of its per-seed macros (0 for one seed); models
    /// with no complete seed are left out.
    pub macro_spread: BTreeMap<String, f64>,
    /// Student minus no-distillation macro, against the student's spread; `None` unless both
    /// were fine-tuned.
    pub distillation_gain: Option<MacroGap>,
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
        let macro_by_seed: BTreeMap<String, BTreeMap<u64, f64>> = glue
            .iter()
            .map(|(m, s)| (m.clone(), seed_macros(s, tasks)))
            .collect();
        let macro_spread: BTreeMap<String, f64> = macro_by_seed
            .iter()
            .filter_map(|(m, seeds)| Some((m.clone(), spread(seeds.values().copied())?)))
            .collect();
        // NaN when a model has no complete seed: no spread is known, so nothing exceeds it.
        let spread_of = |m: &str| macro_spread.get(m).copied().unwrap_or(f64::NAN);
        let distillation_gain = (macro_scores.contains_key(STUDENT)
            && macro_scores.contains_key(NO_DISTILLATION))
        .then(|| {
            let delta = macro_of(STUDENT) - macro_of(NO_DISTILLATION);
            let spread = spread_of(STUDENT);
            MacroGap {
                delta,
                spread,
                exceeds_spread: delta > spread,
            }
        });
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
            .map(|a| {
                let delta = macro_of(a.name()) - macro_of(STUDENT);
                // Either model's seed noise can make the delta; NaN from either stays NaN.
                let spread = if spread_of(a.name()).is_nan() || spread_of(STUDENT).is_nan() {
                    f64::NAN
                } else {
                    spread_of(a.name()).max(spread_of(STUDENT))
                };
                AblationScore {
                    name: a,
                    macro_score: macro_of(a.name()),
                    delta,
                    paper_delta: a.paper_delta(),
                    spread,
                    exceeds_spread: delta.abs() > spread,
                }
            })
            .collect();
        Self {
            macro_scores,
            macro_by_seed,
            macro_spread,
            distillation_gain,
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

/// Seed to the mean over `tasks` of that seed's scores, for the seeds every task has.
pub fn seed_macros(scores: &BTreeMap<String, TaskScore>, tasks: &[String]) -> BTreeMap<u64, f64> {
    let seeds: BTreeSet<u64> = tasks
        .iter()
        .filter_map(|t| scores.get(t))
        .flat_map(|s| s.seeds.keys().copied())
        .collect();
    seeds
        .into_iter()
        .filter_map(|seed| {
            let per_task: Option<Vec<f64>> = tasks
                .iter()
                .map(|t| scores.get(t)?.seeds.get(&seed).copied())
                .collect();
            Some((seed, mean(per_task?)))
        })
        .collect()
}

/// The largest minus the smallest of `values`; `None` for no values.
pub fn spread(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values
        .into_iter()
        .fold(None, |range: Option<(f64, f64)>, v| {
            Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
        .map(|(lo, hi)| hi - lo)
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
    use crate::reproduce::results::{NO_DISTILLATION, NO_PRETRAINING};

    fn score(median: f64) -> TaskScore {
        TaskScore {
            metric: "acc".into(),
            seeds: BTreeMap::new(),
            median,
        }
    }

    /// A score from (seed, score) pairs, with their median.
    fn seeded(seeds: &[(u64, f64)]) -> TaskScore {
        let values: Vec<f64> = seeds.iter().map(|s| s.1).collect();
        TaskScore {
            metric: "acc".into(),
            seeds: seeds.iter().copied().collect(),
            median: median(&values),
        }
    }

    /// A task's (seed, score) pairs.
    type SeededTask<'a> = (&'a str, &'a [(u64, f64)]);

    /// Model to task to seeded score, from rows of (model, [(task, [(seed, score)])]).
    fn seeded_glue(
        rows: &[(&str, &[SeededTask])],
    ) -> BTreeMap<String, BTreeMap<String, TaskScore>> {
        rows.iter()
            .map(|(model, tasks)| {
                let tasks = tasks.iter().map(|(t, s)| (t.to_string(), seeded(s)));
                (model.to_string(), tasks.collect())
            })
            .collect()
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
        let rows: Vec<(Ablation, f64, f64, Option<f64>)> = summary
            .ablations
            .iter()
            .map(|a| (a.name, a.macro_score, a.delta, a.paper_delta))
            .collect();
        assert_eq!(
            rows,
            [
                (Ablation::NoCos, 61.0, -4.0, Some(-1.46)),
                (Ablation::RandomInit, 35.0, -30.0, Some(-3.69))
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

    #[test]
    fn spreads_gain_and_ablation_noise_over_three_seeds() {
        let tasks = strings(&["rte", "sts-b"]);
        let glue = seeded_glue(&[
            (
                STUDENT,
                &[
                    ("rte", &[(1, 54.0), (2, 50.0), (3, 58.0)]),
                    ("sts-b", &[(1, 76.0), (2, 74.0), (3, 78.0)]),
                ],
            ),
            (
                NO_DISTILLATION,
                &[
                    ("rte", &[(1, 50.0), (2, 52.0), (3, 48.0)]),
                    ("sts-b", &[(1, 60.0), (2, 62.0), (3, 58.0)]),
                ],
            ),
            (
                "no-cos",
                &[
                    ("rte", &[(1, 52.0), (2, 60.0), (3, 44.0)]),
                    ("sts-b", &[(1, 70.0), (2, 66.0), (3, 74.0)]),
                ],
            ),
            // Seed 2 has no STS-B score, so only seed 1 makes a macro.
            (
                "no-mlm",
                &[("rte", &[(1, 60.0), (2, 62.0)]), ("sts-b", &[(1, 70.0)])],
            ),
            (
                "random-init",
                &[
                    ("rte", &[(1, 50.0), (2, 50.0), (3, 50.0)]),
                    ("sts-b", &[(1, 20.0), (2, 22.0), (3, 18.0)]),
                ],
            ),
        ]);
        let summary = GlueSummary::new(&glue, &tasks);
        let by_seed = |m: &str| {
            summary.macro_by_seed[m]
                .clone()
                .into_iter()
                .collect::<Vec<_>>()
        };
        // Student: (54 + 76) / 2, (50 + 74) / 2, (58 + 78) / 2; medians 54 and 76.
        assert_eq!(by_seed(STUDENT), [(1, 65.0), (2, 62.0), (3, 68.0)]);
        assert_eq!(by_seed(NO_DISTILLATION), [(1, 55.0), (2, 57.0), (3, 53.0)]);
        assert_eq!(by_seed("no-mlm"), [(1, 65.0)]);
        assert_eq!(summary.macro_scores[STUDENT], 65.0);
        assert_eq!(summary.macro_scores[NO_DISTILLATION], 55.0);
        assert_eq!(summary.macro_scores["no-mlm"], 65.5);
        let spreads: Vec<(&str, f64)> = summary
            .macro_spread
            .iter()
            .map(|(m, s)| (m.as_str(), *s))
            .collect();
        assert_eq!(
            spreads,
            [
                ("no-cos", 4.0),
                (NO_DISTILLATION, 4.0),
                ("no-mlm", 0.0),
                ("random-init", 2.0),
                (STUDENT, 6.0)
            ]
        );
        // 65 - 55 against the student's 68 - 62.
        assert_eq!(
            summary.distillation_gain,
            Some(MacroGap {
                delta: 10.0,
                spread: 6.0,
                exceeds_spread: true
            })
        );
        // Each delta against the larger of its own and the student's spread (6 here).
        let rows: Vec<(Ablation, f64, f64, bool)> = summary
            .ablations
            .iter()
            .map(|a| (a.name, a.delta, a.spread, a.exceeds_spread))
            .collect();
        assert_eq!(
            rows,
            [
                (Ablation::NoCos, -4.0, 6.0, false),
                (Ablation::NoMlm, 0.5, 6.0, false),
                (Ablation::RandomInit, -30.0, 6.0, true)
            ]
        );
    }

    #[test]
    fn a_loss_to_no_distillation_never_exceeds_the_spread() {
        let tasks = strings(&["rte"]);
        let glue = seeded_glue(&[
            (STUDENT, &[("rte", &[(1, 50.0), (2, 52.0)])]),
            (NO_DISTILLATION, &[("rte", &[(1, 60.0), (2, 62.0)])]),
        ]);
        let gain = GlueSummary::new(&glue, &tasks).distillation_gain;
        // 51 - 61: larger than the student's spread of 2, but a loss.
        assert_eq!(
            gain,
            Some(MacroGap {
                delta: -10.0,
                spread: 2.0,
                exceeds_spread: false
            })
        );
    }

    #[test]
    fn no_seed_scores_leave_the_spreads_unknown() {
        let tasks = strings(&["rte"]);
        let glue = glue(&[
            (STUDENT, &[("rte", 60.0)]),
            (NO_DISTILLATION, &[("rte", 50.0)]),
            ("random-init", &[("rte", 40.0)]),
        ]);
        let summary = GlueSummary::new(&glue, &tasks);
        assert!(summary.macro_by_seed.values().all(BTreeMap::is_empty));
        assert!(summary.macro_spread.is_empty());
        let gain = summary.distillation_gain.unwrap();
        assert_eq!(gain.delta, 10.0);
        assert!(gain.spread.is_nan());
        assert!(!gain.exceeds_spread);
        let random = &summary.ablations[0];
        assert_eq!(random.delta, -20.0);
        assert!(random.spread.is_nan());
        assert!(!random.exceeds_spread);
    }

    #[test]
    fn no_gain_without_a_no_distillation_model() {
        let tasks = strings(&["rte"]);
        let glue = glue(&[(TEACHER, &[("rte", 60.0)]), (STUDENT, &[("rte", 55.0)])]);
        assert_eq!(GlueSummary::new(&glue, &tasks).distillation_gain, None);
    }
}
