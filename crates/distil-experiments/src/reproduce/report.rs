//! `report.md`: the run's analogues of the paper's Tables 1 to 4 beside the published
//! numbers, the student's share of the teacher, and a note wherever the miniature differs
//! from the paper. Every number is read from [`Results`].

use std::fmt::Write as _;

use super::ablation::Ablation;
use super::paper;
use super::results::{Results, RunScale, NO_PRETRAINING, STUDENT, STUDENT_D, TEACHER};
use super::scores::mean;

/// A markdown table row from cells.
fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

fn header(cells: &[&str]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    let rule: Vec<String> = cells.iter().map(|_| "---".to_string()).collect();
    format!("{}{}", row(&cells), row(&rule))
}

fn num(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.1}")
    } else {
        "n/a".to_string()
    }
}

pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let tasks = &results.tasks;
    let _ = writeln!(out, "# DistilBERT reproduction: `{}`\n", results.run_name);
    let _ = writeln!(
        out,
        "Every number in the \"ours\" rows comes from this run (`results.json`); the paper's are \
         from Sanh et al. 2019, arXiv v4. GLUE scores are dev-set medians over seeds {:?}, \
         scaled to 0-100; the macro score is the unweighted mean over the tasks listed.\n",
        results.seeds
    );
    table1(&mut out, results, tasks);
    table2(&mut out, results);
    table3(&mut out, results);
    table4(&mut out, results);
    notes(&mut out, results, tasks);
    out
}

fn table1(out: &mut String, results: &Results, tasks: &[String]) {
    let _ = writeln!(out, "## Table 1: GLUE dev\n");
    let mut cells = vec!["Model", "Score"];
    cells.extend(tasks.iter().map(String::as_str));
    out.push_str(&header(&cells));
    for (label, bert) in [("BERT-base (paper)", true), ("DistilBERT (paper)", false)] {
        let mut r = vec![label.to_string(), num(paper::glue_macro(tasks, bert))];
        for task in tasks {
            let score = paper::glue_scores(task).map(|(b, d)| if bert { b } else { d });
            r.push(score.map_or("n/a".into(), num));
        }
        out.push_str(&row(&r));
    }
    for (model, label) in [
        (TEACHER, "Teacher (ours)"),
        (STUDENT, "Student (ours)"),
        (NO_PRETRAINING, "No pretraining (ours)"),
    ] {
        let Some(scores) = results.glue.get(model) else {
            continue;
        };
        let macro_score = results.macro_scores.get(model).copied().unwrap_or(f64::NAN);
        let mut r = vec![label.to_string(), num(macro_score)];
        for task in tasks {
            r.push(scores.get(task).map_or("n/a".into(), |s| num(s.median)));
        }
        out.push_str(&row(&r));
    }
    if !results.majority.is_empty() {
        let mut r = vec![
            "Majority class (ours)".to_string(),
            num(mean(tasks.iter().map(|t| {
                results.majority.get(t).copied().unwrap_or(f64::NAN)
            }))),
        ];
        for task in tasks {
            r.push(results.majority.get(task).map_or("n/a".into(), |v| num(*v)));
        }
        out.push_str(&row(&r));
    }
    for (label, shares) in [
        (
            "Student / teacher % (paper)",
            &results.paper_share_of_teacher,
        ),
        (
            "Student / teacher % (ours)",
            &results.student_share_of_teacher,
        ),
    ] {
        let mut r = vec![
            label.to_string(),
            num(shares.get("macro").copied().unwrap_or(f64::NAN)),
        ];
        for task in tasks {
            r.push(num(shares.get(task).copied().unwrap_or(f64::NAN)));
        }
        out.push_str(&row(&r));
    }
    let metrics: Vec<String> = tasks
        .iter()
        .filter_map(|t| {
            let metric = results.glue.get(STUDENT)?.get(t)?.metric.clone();
            Some(format!("{t}: {metric}"))
        })
        .collect();
    let _ = writeln!(
        out,
        "\nMetrics: {}. The paper's BERT-base MNLI is printed as {} in Table 1; its macro of \
         {} needs {} (the research-project README's figure), which is used here.\n",
        metrics.join(", "),
        paper::BERT_MNLI_AS_PRINTED,
        paper::BERT_MACRO,
        paper::BERT_GLUE[1],
    );
}

fn table2(out: &mut String, results: &Results) {
    let _ = writeln!(out, "## Table 2: SQuAD v1.1 dev (EM / F1)\n");
    out.push_str(&header(&["Model", "EM", "F1"]));
    for (label, (em, f1)) in [
        ("BERT-base (paper)", paper::BERT_SQUAD),
        ("DistilBERT (paper)", paper::DISTILBERT_SQUAD),
        ("DistilBERT (D) (paper)", paper::DISTILBERT_D_SQUAD),
    ] {
        out.push_str(&row(&[label.into(), num(em), num(f1)]));
    }
    for (model, label) in [
        (TEACHER, "Teacher (ours)"),
        (STUDENT, "Student (ours)"),
        (STUDENT_D, "Student (D) (ours)"),
    ] {
        if let Some(s) = results.squad.get(model) {
            out.push_str(&row(&[label.into(), num(s.exact_match), num(s.f1)]));
        }
    }
    match &results.squad_source {
        None => {
            let _ = writeln!(out, "\nNot run: the config has no `squad:` section.");
        }
        Some(source) => {
            let data = match (&source.train_file, source.dev_train_share) {
                (Some(train), _) => {
                    format!("trained on `{train}`, scored on `{}`", source.dev_file)
                }
                (None, share) => format!(
                    "trained on the first {:.0}% of the paragraphs of `{}` and scored on the \
                     rest: these are not SQuAD dev scores",
                    100.0 * share.unwrap_or(f64::NAN),
                    source.dev_file
                ),
            };
            let _ = writeln!(
                out,
                "\nOurs: SQuAD {} {data}; medians over seeds {:?}, EM and F1 each on its own. \
                 \"D\" adds the soft targets of the SQuAD-fine-tuned teacher of the same seed.",
                source.version,
                results
                    .squad
                    .get(TEACHER)
                    .map(|s| s.seeds.keys().copied().collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        }
    }
    out.push('\n');
}

fn table3(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "## Table 3: size and CPU inference time (STS-B dev, batch size 1)\n"
    );
    out.push_str(&header(&["Model", "Params (M)", "Time (s)", "Pairs timed"]));
    let (bert, distil) = (paper::BERT_SIZE_SPEED, paper::DISTILBERT_SIZE_SPEED);
    out.push_str(&row(&[
        "BERT-base (paper)".into(),
        num(bert.0),
        num(bert.1),
        "1500".into(),
    ]));
    out.push_str(&row(&[
        "DistilBERT (paper)".into(),
        num(distil.0),
        num(distil.1),
        "1500".into(),
    ]));
    for (model, label) in [(TEACHER, "Teacher (ours)"), (STUDENT, "Student (ours)")] {
        if let Some(s) = results.size_speed.get(model) {
            out.push_str(&row(&[
                label.into(),
                format!("{:.2}", s.parameters as f64 / 1e6),
                format!("{:.2}", s.seconds),
                s.examples.to_string(),
            ]));
        }
    }
    let _ = writeln!(
        out,
        "\nSize ratio (student / teacher): ours {:.2}, paper {:.2}. Speed-up (teacher time / \
         student time): ours {:.2}x, paper {:.2}x.\n",
        results.size_ratio,
        distil.0 / bert.0,
        results.speedup,
        bert.1 / distil.1,
    );
}

fn table4(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "## Table 4: ablations (change of the GLUE macro-score vs the triple loss)\n"
    );
    out.push_str(&header(&[
        "Ablation",
        "Macro (ours)",
        "Delta (ours)",
        "Delta (paper)",
    ]));
    if let Some(full) = results.macro_scores.get(STUDENT) {
        out.push_str(&row(&[
            "triple loss, teacher init".into(),
            num(*full),
            num(0.0),
            num(0.0),
        ]));
    }
    for a in &results.ablations {
        out.push_str(&row(&[
            a.name.to_string(),
            num(a.macro_score),
            format!("{:+.2}", a.delta),
            format!("{:+.2}", a.paper_delta),
        ]));
    }
    if results.ablations.is_empty() {
        let _ = writeln!(out, "\nNot run: `ablations: false` in the config.");
    }
    out.push('\n');
}

/// Where the miniature differs from the paper, with the likely reason.
fn notes(out: &mut String, results: &Results, tasks: &[String]) {
    let _ = writeln!(out, "## Where this run differs from the paper\n");
    let mut notes = Vec::new();
    let share = results
        .student_share_of_teacher
        .get("macro")
        .copied()
        .unwrap_or(f64::NAN);
    let paper_share = 100.0 * paper::DISTILBERT_MACRO / paper::BERT_MACRO;
    if share.is_finite() && (share - paper_share).abs() > 3.0 {
        notes.push(format!(
            "The student keeps {share:.1}% of the teacher's macro score against the paper's \
             {paper_share:.1}%. Likely reason: {} {}",
            teacher_text(&results.scale),
            glue_text(&results.scale),
        ));
    }
    let at_chance = chance_level(results, tasks);
    if !at_chance.is_empty() {
        notes.push(format!(
            "Some fine-tunings did not learn their task: at most {CHANCE_MARGIN:.1} points above \
             (or below) always predicting the training set's majority class on {}. Their \
             shares and deltas compare noise, not knowledge. Likely reason: {} {}",
            at_chance.join("; "),
            teacher_text(&results.scale),
            glue_text(&results.scale),
        ));
    }
    let student = results.macro_scores.get(STUDENT).copied();
    let baseline = results.macro_scores.get(NO_PRETRAINING).copied();
    if let (Some(s), Some(b)) = (student, baseline) {
        if s > b {
            notes.push(format!(
                "The distilled student beats the same architecture fine-tuned with no \
                 pretraining ({s:.1} vs {b:.1} macro), as the paper implies."
            ));
        } else {
            notes.push(format!(
                "The distilled student does not beat the no-pretraining baseline ({s:.1} vs \
                 {b:.1} macro). Likely reason: {} {} {}",
                distill_text(&results.scale),
                teacher_text(&results.scale),
                glue_text(&results.scale),
            ));
        }
    }
    let mut paper_order = Ablation::ALL.to_vec();
    paper_order.sort_by(|a, b| a.paper_delta().total_cmp(&b.paper_delta()));
    let mut our_order: Vec<_> = results.ablations.iter().collect();
    our_order.sort_by(|a, b| a.delta.total_cmp(&b.delta));
    let same_order = paper_order
        .iter()
        .copied()
        .eq(our_order.iter().map(|a| a.name));
    if !results.ablations.is_empty() && !same_order {
        notes.push(format!(
            "The ablations rank differently from the paper's (ours, worst first: {}; paper: \
             {}). Likely reason: with short runs and small dev sets the deltas are within \
             seed-to-seed spread, which the paper's 5-seed medians on full GLUE are not.",
            our_order
                .iter()
                .map(|a| a.name.name())
                .collect::<Vec<_>>()
                .join(", "),
            paper_order
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let paper_speedup = paper::BERT_SIZE_SPEED.1 / paper::DISTILBERT_SIZE_SPEED.1;
    if results.speedup.is_finite() && (results.speedup - paper_speedup).abs() > 0.2 {
        let layer_speedup =
            results.scale.teacher_layers as f64 / results.scale.student_layers as f64;
        let reason = if results.speedup > paper_speedup {
            // The paper's 6 of 12 layers: time outside the layers, as a share of BERT's pass,
            // that makes halving the layers give its speed-up.
            let outside = (1.0 - paper_speedup / 2.0) / (paper_speedup - 1.0);
            let beyond = if results.speedup > layer_speedup {
                "; the rest comes from what DistilBERT drops besides layers (token-type \
                 embeddings, the pooler)"
            } else {
                ""
            };
            format!(
                "The student keeps {} of the teacher's {} layers ({layer_speedup:.2}x from the \
                 layers alone){beyond}. The paper's halving gave {paper_speedup:.2}x, so about \
                 {:.0}% of its BERT pass was spent outside the layers (embeddings, input \
                 handling); ours times the models alone on pre-tokenised pairs.",
                results.scale.student_layers,
                results.scale.teacher_layers,
                100.0 * outside / (1.0 + outside),
            )
        } else {
            format!(
                "Time scales with the layer count only when the layers dominate: in narrow \
                 models the embeddings and per-call overhead weigh more, and the layer ratio \
                 here is {}.",
                layer_ratio_text(results),
            )
        };
        notes.push(format!(
            "The speed-up is {:.2}x against the paper's {paper_speedup:.2}x. {reason}",
            results.speedup,
        ));
    }
    if tasks.len() < paper::GLUE_COLUMNS.len() {
        notes.push(format!(
            "Only {} of the 9 GLUE tasks have training data in this config ({}); the paper \
             columns and macro are restricted to the same tasks.",
            tasks.len(),
            tasks.join(", ")
        ));
    }
    if notes.is_empty() {
        notes.push("No difference beyond the scale of the run.".to_string());
    }
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    out.push('\n');
}

/// How close to the majority-class score counts as not having learnt the task (GLUE points).
const CHANCE_MARGIN: f64 = 1.0;

/// `task: model, model` for every median score at most [`CHANCE_MARGIN`] above the task's
/// majority-class score, for the models of Table 1.
fn chance_level(results: &Results, tasks: &[String]) -> Vec<String> {
    tasks
        .iter()
        .filter_map(|task| {
            let floor = results.majority.get(task)?;
            let models: Vec<&str> = [TEACHER, STUDENT, NO_PRETRAINING]
                .into_iter()
                .filter(|m| {
                    results
                        .glue
                        .get(*m)
                        .and_then(|s| s.get(task))
                        .is_some_and(|s| s.median <= floor + CHANCE_MARGIN)
                })
                .collect();
            (!models.is_empty()).then(|| format!("{task} ({})", models.join(", ")))
        })
        .collect()
}

/// The teacher's scale against BERT-base's, from the run's config.
fn teacher_text(scale: &RunScale) -> String {
    let shape = format!("{}-layer, {}-wide", scale.teacher_layers, scale.hidden_size);
    match (&scale.teacher_source, scale.teacher_pretrain_steps) {
        (Some(source), _) => format!("the teacher is `{source}` ({shape})."),
        (None, steps) => format!(
            "the teacher is a {shape} BERT pretrained here with MLM for {} on {} corpus \
             tokens of sequences up to {} tokens, against BERT-base's 12 layers of 768 \
             pretrained for 1M steps on 3.3B words, so it has far less knowledge to transfer.",
            steps.map_or("its configured epochs".to_string(), |s| format!(
                "{s} steps"
            )),
            tokens_text(scale.corpus_tokens),
            scale.max_seq_len,
        ),
    }
}

/// The distillation's length against the paper's, from the run's config.
fn distill_text(scale: &RunScale) -> String {
    let length = match scale.distill_steps {
        Some(steps) => format!("{steps} steps"),
        None => format!("{} epochs", scale.distill_epochs),
    };
    let batch = scale
        .distill_batch
        .map_or(String::new(), |b| format!(" of {b} sequences"));
    format!(
        "distillation into the {}-layer student ran {length}{batch} over {} corpus tokens, \
         against the paper's 3 epochs over BooksCorpus and English Wikipedia in batches of up \
         to 4K sequences (about 90 hours on 8 V100 GPUs);",
        scale.student_layers,
        tokens_text(scale.corpus_tokens),
    )
}

/// The GLUE caps, which make dev scores noisy.
fn glue_text(scale: &RunScale) -> String {
    match (scale.max_train_examples, scale.max_eval_examples) {
        (None, None) => String::new(),
        (train, eval) => format!(
            "Each GLUE task is cut to {} training and {} dev examples, so seed-to-seed \
             noise is large against the differences measured.",
            train.map_or("all its".to_string(), |n| format!("the first {n}")),
            eval.map_or("all its".to_string(), |n| format!("the first {n}")),
        ),
    }
}

fn tokens_text(tokens: u64) -> String {
    if tokens >= 1_000_000 {
        format!("{:.1}M", tokens as f64 / 1e6)
    } else {
        format!("{:.0}K", tokens as f64 / 1e3)
    }
}

fn layer_ratio_text(results: &Results) -> String {
    match (
        results.size_speed.get(TEACHER),
        results.size_speed.get(STUDENT),
    ) {
        (Some(t), Some(s)) => format!(
            "{:.2} in parameters (student / teacher)",
            s.parameters as f64 / t.parameters as f64
        ),
        _ => "unknown".to_string(),
    }
}
