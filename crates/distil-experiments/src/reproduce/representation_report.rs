//! The report's representation sections: every model's frozen encoder on the deterministic
//! protocol (the headline, since it needs no seeds), the layer-choice table with its rule, and
//! the ablations' deltas on the same protocol. Every number is read from [`Results`].

use std::fmt::Write as _;

use super::ablation::Ablation;
use super::report::{num2 as num, signed2 as signed};
use super::results::{
    Results, NARROW_STUDENT, NO_DISTILLATION, NO_PRETRAINING, PAPER_LOSS, STUDENT, TEACHER,
};

/// The models of the headline table with their labels, in table order; the ablations follow.
const ROWS: [(&str, &str); 6] = [
    (TEACHER, "Teacher"),
    (STUDENT, "Student (the run's recipe)"),
    (PAPER_LOSS, "Student, the paper's loss (5/2/1)"),
    (NO_DISTILLATION, "No distillation: the same teacher layers"),
    (NO_PRETRAINING, "No pretraining: random weights"),
    (NARROW_STUDENT, "Narrow student"),
];

/// Writes the three sections; nothing when the run scored no representations.
pub fn write(out: &mut String, results: &Results) {
    if results.representation.is_empty() {
        return;
    }
    headline(out, results);
    layer_choice(out, results);
    ablations(out, results);
}

fn headline(out: &mut String, results: &Results) {
    let reps = &results.representation;
    let _ = writeln!(
        out,
        "## Representations (deterministic: no fine-tuning, no seeds)\n\n\
         Each model's frozen encoder. STS-B zero-shot: Spearman x 100 of the cosine of the \
         mean-pooled last hidden states of each dev pair, each sentence encoded on its own. \
         SST-2 probe: dev accuracy of an L2 logistic regression on the frozen mean-pooled \
         features of the first {} training sentences.\n",
        results
            .scale
            .probe_train_examples
            .map_or("N".to_string(), |n| n.to_string()),
    );
    out.push_str(
        "| Model | STS-B zero-shot | % of teacher | SST-2 probe | % of teacher |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    let teacher = reps.get(TEACHER);
    let share = |v: f64, t: Option<f64>| t.map_or(f64::NAN, |t| 100.0 * v / t);
    let labelled = ROWS.iter().map(|(m, label)| (*m, label.to_string())).chain(
        Ablation::ALL
            .iter()
            .map(|a| (a.name(), format!("Ablation: {}", a.name()))),
    );
    for (model, label) in labelled {
        let Some(s) = reps.get(model) else { continue };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} |",
            num(s.sts_b_zero_shot),
            num(share(s.sts_b_zero_shot, teacher.map(|t| t.sts_b_zero_shot))),
            num(s.sst2_probe),
            num(share(s.sst2_probe, teacher.map(|t| t.sst2_probe))),
        );
    }
    let mut sentences = Vec::new();
    if let (Some(s), Some(t)) = (reps.get(STUDENT), teacher) {
        sentences.push(format!(
            "The student keeps {}% of the teacher's zero-shot STS-B and {}% of its SST-2 probe.",
            num(100.0 * s.sts_b_zero_shot / t.sts_b_zero_shot),
            num(100.0 * s.sst2_probe / t.sst2_probe),
        ));
    }
    if let (Some(s), Some(init)) = (reps.get(STUDENT), reps.get(NO_DISTILLATION)) {
        sentences.push(format!(
            "Against its own undistilled initialisation, distillation changes zero-shot STS-B by \
             {} and the SST-2 probe by {}.",
            signed(s.sts_b_zero_shot - init.sts_b_zero_shot),
            signed(s.sst2_probe - init.sst2_probe),
        ));
    }
    if let Some((layers, best)) = best_undistilled(results) {
        if let Some(s) = reps.get(STUDENT) {
            let verdict = if s.sts_b_zero_shot > best {
                "above every undistilled choice: distillation beats picking layers well"
            } else {
                "not above the best undistilled choice: picking layers well does as much as \
                 this distillation"
            };
            sentences.push(format!(
                "The best undistilled layer choice scores {} (layers {layers}); the student is \
                 {verdict}.",
                num(best)
            ));
        }
    }
    if let (Some(paper), Some(s)) = (reps.get(PAPER_LOSS), reps.get(STUDENT)) {
        let mut text = format!(
            "The paper's loss (soft targets, MLM, cosine at 5/2/1) from the same layers and \
             text scores {} on STS-B and {} on the probe, {} and {} against the run's recipe.",
            num(paper.sts_b_zero_shot),
            num(paper.sst2_probe),
            signed(paper.sts_b_zero_shot - s.sts_b_zero_shot),
            signed(paper.sst2_probe - s.sst2_probe),
        );
        if paper.sts_b_zero_shot < s.sts_b_zero_shot {
            if let Some(head) = &results.head_fit {
                let _ = write!(
                    text,
                    " Why it loses for this teacher: the teacher ships without an MLM head, and \
                     the head fitted on its frozen encoder predicts {}% of held-out masked \
                     tokens (unigram baseline {}%), so the soft-target and MLM terms, which carry \
                     7 of the 8 units of weight, train the student toward a head that knows \
                     little, while the cosine term is blind to the vector norms that mean \
                     pooling keeps.",
                    num(100.0 * head.head_accuracy),
                    num(100.0 * head.unigram_accuracy),
                );
            }
        }
        sentences.push(text);
    }
    let _ = writeln!(out, "\n{}\n", sentences.join(" "));
}

/// The best undistilled layer choice by its dev score, with its key.
fn best_undistilled(results: &Results) -> Option<(String, f64)> {
    results
        .layer_choice
        .iter()
        .map(|(k, s)| (k.clone(), s.sts_b_zero_shot))
        .filter(|(_, s)| s.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn layer_choice(out: &mut String, results: &Results) {
    if results.layer_choice.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Layer choice (teacher layers kept, no distillation)\n\n\
         | Layers | STS-B zero-shot (dev) | STS-B validation (train pairs) |\n\
         | --- | --- | --- |"
    );
    for (layers, s) in &results.layer_choice {
        let _ = writeln!(
            out,
            "| {layers} | {} | {} |",
            num(s.sts_b_zero_shot),
            num(s.sts_b_validation)
        );
    }
    let own = results.scale.student_layer_list.clone();
    let text = match &results.layer_choice_pick {
        Some(pick) if *pick == own => format!(
            "The rule: keep the choice with the best validation score (STS-B train pairs, never \
             the dev pairs reported). It picks {pick}, the student's layers."
        ),
        Some(pick) => format!(
            "The rule: keep the choice with the best validation score (STS-B train pairs, never \
             the dev pairs reported). It picks {pick}; this run's student uses {own} instead, \
             as its config says."
        ),
        None => "No choice has a validation score.".to_string(),
    };
    let _ = writeln!(out, "\n{text}\n");
}

fn ablations(out: &mut String, results: &Results) {
    let deltas = &results.representation_ablations;
    if deltas.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Ablations on the representation protocol (change against the full recipe)\n\n\
         | Ablation | STS-B zero-shot delta | SST-2 probe delta | Paper's GLUE delta |\n\
         | --- | --- | --- | --- |"
    );
    for d in deltas {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            d.name,
            signed(d.sts_b_delta),
            signed(d.sst2_probe_delta),
            d.name.paper_delta().map_or("-".to_string(), signed),
        );
    }
    let terms: Vec<_> = deltas
        .iter()
        .filter(|d| d.name != Ablation::RandomInit)
        .collect();
    let helps: Vec<String> = terms
        .iter()
        .filter(|d| d.sts_b_delta < 0.0)
        .map(|d| format!("{} ({})", term_of(d.name), signed(d.sts_b_delta)))
        .collect();
    let hurts: Vec<String> = terms
        .iter()
        .filter(|d| d.sts_b_delta >= 0.0)
        .map(|d| format!("{} ({})", term_of(d.name), signed(d.sts_b_delta)))
        .collect();
    let mut sentences = Vec::new();
    if !helps.is_empty() {
        sentences.push(format!(
            "Terms that help this teacher (leaving them out lowers zero-shot STS-B): {}.",
            helps.join(", ")
        ));
    }
    if !hurts.is_empty() {
        sentences.push(format!(
            "Terms that do not (leaving them out does not lower it): {}.",
            hurts.join(", ")
        ));
    }
    if let Some(random) = deltas.iter().find(|d| d.name == Ablation::RandomInit) {
        let worst = deltas
            .iter()
            .all(|d| d.name == Ablation::RandomInit || d.sts_b_delta > random.sts_b_delta);
        sentences.push(if worst {
            format!(
                "Random initialisation is the worst ablation ({} on STS-B), as in the paper.",
                signed(random.sts_b_delta)
            )
        } else {
            format!(
                "Random initialisation ({} on STS-B) is not the worst ablation here, unlike the \
                 paper.",
                signed(random.sts_b_delta)
            )
        });
    }
    let _ = writeln!(out, "\n{}\n", sentences.join(" "));
}

/// The loss term an ablation leaves out, by its config key.
fn term_of(ablation: Ablation) -> &'static str {
    match ablation {
        Ablation::NoCe => "alpha_ce",
        Ablation::NoCos => "alpha_cos",
        Ablation::NoMlm => "alpha_mlm",
        Ablation::NoHiddenMse => "alpha_hidden_mse",
        Ablation::NoPooled => "alpha_pooled",
        Ablation::RandomInit => "the teacher-layer initialisation",
    }
}
