//! The fine-tuning objective: the head's own loss, plus under task-time distillation the
//! soft-target term `KL(teacher || student at T) * T^2` weighted as the reference does
//! (`alpha_task * task + alpha_ce * kd`).

use distil_train::loss::soft_target_kl;
use tch::{Kind, Reduction, Tensor};

use super::config::DistillationConfig;

/// Added to the logits of padding positions before the span softmax, on both sides, so the
/// distributions cover real tokens only (the reference pads every window to 384 and lets the
/// padding into its softmax, which makes its loss depend on padding).
const PAD_LOGIT: f64 = -10_000.0;

/// One step's loss and its named parts (for logging).
#[derive(Debug)]
pub struct StepLoss {
    /// What backward runs on.
    pub total: Tensor,
    /// `loss_task` always, `loss_ce` under distillation; 0-dim, unweighted.
    pub parts: Vec<(&'static str, Tensor)>,
}

impl StepLoss {
    /// Without a teacher the task loss alone (plain fine-tuning); with one,
    /// `alpha_task * task + alpha_ce * kd`.
    pub fn combine(task: Tensor, kd: Option<Tensor>, weights: &DistillationConfig) -> Self {
        match kd {
            None => Self {
                total: task.shallow_clone(),
                parts: vec![("loss_task", task)],
            },
            Some(kd) => Self {
                total: &task * weights.alpha_task + &kd * weights.alpha_ce,
                parts: vec![("loss_task", task), ("loss_ce", kd)],
            },
        }
    }
}

/// The soft-target term of a classification head: the KL between class distributions at
/// `temperature`, times T^2, averaged over the batch (`KLDivLoss(batchmean)`). For a
/// regression head (STS-B, one output) there is no distribution: the term is the mean squared
/// error to the teacher's score.
pub fn classification_kd(student: &Tensor, teacher: &Tensor, temperature: f64) -> Tensor {
    let teacher = teacher.detach().to_kind(Kind::Float);
    let student = student.to_kind(Kind::Float);
    if student.size().last() == Some(&1) {
        student.mse_loss(&teacher, Reduction::Mean)
    } else {
        soft_target_kl(&student, &teacher, temperature)
    }
}

/// The soft-target term of a QA head: the mean of the start and end KLs over sequence
/// positions (each `[batch, seq]`), padding (`attention_mask` 0) left out of both
/// distributions.
pub fn span_kd(
    student: (&Tensor, &Tensor),
    teacher: (&Tensor, &Tensor),
    attention_mask: &Tensor,
    temperature: f64,
) -> Tensor {
    let padding = attention_mask.eq(0);
    let masked = |logits: &Tensor| logits.to_kind(Kind::Float).masked_fill(&padding, PAD_LOGIT);
    let kl = |s: &Tensor, t: &Tensor| soft_target_kl(&masked(s), &masked(&t.detach()), temperature);
    (kl(student.0, teacher.0) + kl(student.1, teacher.1)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    #[test]
    fn class_kd_is_the_tempered_kl_times_t_squared() {
        let student = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 1.0, 0.0, -1.0]).view([2, 3]);
        let teacher = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 0.0, 0.0, 3.0]).view([2, 3]);
        let t = 2.0;
        let softmax = |row: &[f64]| {
            let e: Vec<f64> = row.iter().map(|x| (x / t).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(|x| x / sum).collect::<Vec<_>>()
        };
        let rows = [
            ([0.0, 1.0, 2.0], [2.0, 0.0, 0.0]),
            ([1.0, 0.0, -1.0], [0.0, 0.0, 3.0]),
        ];
        let mut expected = 0.0;
        for (s, te) in rows {
            let (p, q) = (softmax(&te), softmax(&s));
            expected += p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
        }
        expected *= t * t / 2.0;
        let got = value(&classification_kd(&student, &teacher, t));
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn regression_kd_is_the_squared_error_to_the_teacher_score() {
        let student = Tensor::from_slice(&[1.0f32, 3.0]).view([2, 1]);
        let teacher = Tensor::from_slice(&[2.0f32, 1.0]).view([2, 1]);
        let got = value(&classification_kd(&student, &teacher, 2.0));
        assert!((got - (1.0 + 4.0) / 2.0).abs() < 1e-6, "{got}");
    }

    #[test]
    fn span_kd_ignores_padding_and_averages_start_and_end() {
        // Row 0 has 2 real tokens, then padding whose logits differ wildly between the two
        // models; the loss must not see them.
        let mask = Tensor::from_slice(&[1i64, 1, 0, 0]).view([1, 4]);
        let s_start = Tensor::from_slice(&[0.0f32, 1.0, 50.0, -50.0]).view([1, 4]);
        let t_start = Tensor::from_slice(&[1.0f32, 0.0, -50.0, 50.0]).view([1, 4]);
        let same = Tensor::from_slice(&[0.5f32, 0.5, 9.0, 9.0]).view([1, 4]);
        let t = 1.0;
        let p = [1f64.exp() / (1.0 + 1f64.exp()), 1.0 / (1.0 + 1f64.exp())];
        let q = [p[1], p[0]];
        let start_kl: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
        let got = value(&span_kd((&s_start, &same), (&t_start, &same), &mask, t));
        assert!(
            (got - start_kl / 2.0).abs() < 1e-5,
            "{got} vs {}",
            start_kl / 2.0
        );
    }

    #[test]
    fn combine_weights_the_parts_only_under_distillation() {
        let weights = DistillationConfig {
            alpha_task: 0.25,
            alpha_ce: 2.0,
            temperature: 2.0,
        };
        let plain = StepLoss::combine(Tensor::from(3.0f32), None, &weights);
        assert_eq!(value(&plain.total), 3.0);
        let kd = StepLoss::combine(Tensor::from(3.0f32), Some(Tensor::from(0.5f32)), &weights);
        assert_eq!(value(&kd.total), 0.25 * 3.0 + 2.0 * 0.5);
        assert_eq!(kd.parts.len(), 2);
    }
}
