//! The loss terms against closed forms and against the PyTorch reference formulas
//! (fixture written by scripts/make_loss_fixtures.py).

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::collections::HashMap;

use common::reference_fixture;

use distil_core::{EncoderInput, EncoderOutput, LanguageModel};
use distil_train::loss::{soft_target_kl, HiddenCosineLoss, LogitMseLoss, MaskedLmLoss};
use distil_train::{LossConfig, LossContext, LossInputs, LossTerm, RowIndex, Rows, TripleLoss};
use tch::{Device, Kind, Tensor};

/// A "model" whose encoder returns fixed hidden states and whose MLM head is one linear map.
struct LinearHead {
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor,
}

impl LanguageModel for LinearHead {
    fn encode(&self, _input: &EncoderInput, _train: bool) -> EncoderOutput {
        EncoderOutput {
            hidden_states: vec![self.hidden.shallow_clone()],
            attentions: None,
            projections: None,
        }
    }

    fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
        hidden.linear(&self.weight, Some(&self.bias))
    }

    fn hidden_size(&self) -> i64 {
        self.weight.size()[1]
    }

    fn vocab_size(&self) -> i64 {
        self.weight.size()[0]
    }
}

struct Fixture {
    tensors: HashMap<String, Tensor>,
    scalars: serde_json::Value,
}

fn fixture() -> Fixture {
    let (tensors, scalars) = reference_fixture("losses");
    Fixture { tensors, scalars }
}

impl Fixture {
    fn t(&self, name: &str) -> Tensor {
        self.tensors[name].shallow_clone()
    }

    fn f(&self, name: &str) -> f64 {
        self.scalars[name].as_f64().unwrap()
    }
}

/// |a - b| <= 1e-5, relative for values above 1.
fn assert_close(name: &str, got: f64, want: f64) {
    let tol = 1e-5 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{name}: got {got}, want {want}");
}

struct Batch {
    student: LinearHead,
    teacher: LinearHead,
    mask: Tensor,
    labels: Tensor,
}

impl Batch {
    /// Runs `f` on a loss context over this batch.
    fn with_ctx<R>(&self, f: impl FnOnce(&mut LossContext<'_>) -> R) -> R {
        let input = EncoderInput::new(&self.labels, &self.mask);
        let student_out = self.student.encode(&input, true);
        let teacher_out = self.teacher.encode(&input, false);
        let rows = RowIndex::new(&self.mask, &self.labels, Device::Cpu);
        let mut ctx = LossContext::new(LossInputs {
            student: &self.student,
            teacher: &self.teacher,
            student_out: &student_out,
            teacher_out: &teacher_out,
            attention_mask: &self.mask,
            labels: &self.labels,
            rows: &rows,
            train: true,
        });
        f(&mut ctx)
    }
}

fn fixture_batch(fx: &Fixture) -> Batch {
    Batch {
        student: LinearHead {
            hidden: fx.t("student_hidden").detach().set_requires_grad(true),
            weight: fx.t("student_weight"),
            bias: fx.t("student_bias"),
        },
        teacher: LinearHead {
            hidden: fx.t("teacher_hidden"),
            weight: fx.t("teacher_weight"),
            bias: fx.t("teacher_bias"),
        },
        mask: fx.t("attention_mask"),
        labels: fx.t("labels"),
    }
}

#[test]
fn triple_loss_matches_the_pytorch_reference_values_and_gradients() {
    let fx = fixture();
    for restrict in [false, true] {
        let suffix = if restrict { "_restricted" } else { "" };
        let batch = fixture_batch(&fx);
        let cfg = LossConfig {
            alpha_ce: fx.f("alpha_ce"),
            alpha_mlm: fx.f("alpha_mlm"),
            alpha_cos: fx.f("alpha_cos"),
            alpha_mse: fx.f("alpha_mse"),
            temperature: fx.f("temperature"),
            restrict_ce_to_mask: restrict,
            ..LossConfig::default()
        };
        let loss = TripleLoss::from_config(&cfg);
        assert_eq!(
            loss.term_names(),
            ["loss_ce", "loss_mse", "loss_mlm", "loss_cos"]
        );
        let out = batch.with_ctx(|ctx| loss.compute(ctx));
        for (name, value) in &out.terms {
            assert_close(
                &format!("{name}{suffix}"),
                value.double_value(&[]),
                fx.f(&format!("{name}{suffix}")),
            );
        }
        assert_close(
            &format!("total{suffix}"),
            out.total.double_value(&[]),
            fx.f(&format!("total{suffix}")),
        );
        out.total.backward();
        let grad = batch.student.hidden.grad();
        let want = fx.t(&format!("grad_student_hidden{suffix}"));
        let max_diff = (&grad - &want).abs().max().double_value(&[]);
        assert!(max_diff <= 1e-5, "gradient{suffix} differs by {max_diff}");
    }
}

#[test]
fn padding_rows_do_not_change_any_loss() {
    let fx = fixture();
    let clean = fixture_batch(&fx);
    let noisy = fixture_batch(&fx);
    let pad = noisy.mask.eq(0).unsqueeze(-1);
    let garbage = Tensor::full([1], 1e3, (Kind::Float, Device::Cpu));
    let noisy = Batch {
        student: LinearHead {
            hidden: noisy
                .student
                .hidden
                .detach()
                .where_self(&pad.logical_not(), &garbage),
            ..noisy.student
        },
        teacher: LinearHead {
            hidden: noisy
                .teacher
                .hidden
                .where_self(&pad.logical_not(), &garbage),
            ..noisy.teacher
        },
        ..noisy
    };
    let loss = TripleLoss::from_config(&LossConfig {
        alpha_mse: 1.0,
        ..LossConfig::default()
    });
    let a = clean.with_ctx(|ctx| loss.compute(ctx));
    let b = noisy.with_ctx(|ctx| loss.compute(ctx));
    for ((name, x), (_, y)) in a.terms.iter().zip(&b.terms) {
        assert_eq!(x.double_value(&[]), y.double_value(&[]), "{name}");
    }
}

#[test]
fn mlm_loss_is_the_same_whether_or_not_kd_logits_were_projected_first() {
    let fx = fixture();
    let batch = fixture_batch(&fx);
    let alone = batch.with_ctx(|ctx| MaskedLmLoss.compute(ctx).double_value(&[]));
    let after_kd = batch.with_ctx(|ctx| {
        let _ = ctx.student_logits(Rows::NonPad);
        MaskedLmLoss.compute(ctx).double_value(&[])
    });
    assert_close("loss_mlm", alone, fx.f("loss_mlm"));
    assert_eq!(alone, after_kd);
}

#[test]
fn identical_logits_give_zero_kl_and_the_temperature_enters_squared() {
    let logits = Tensor::randn([4, 9], (Kind::Float, Device::Cpu));
    assert!(
        soft_target_kl(&logits, &logits, 2.0)
            .double_value(&[])
            .abs()
            < 1e-7
    );

    // Teacher [ln 3, 0] vs student [0, 0] at T = 1: KL(0.75, 0.25 || 0.5, 0.5).
    let closed_form = 0.75 * 1.5f64.ln() + 0.25 * 0.5f64.ln();
    let student = Tensor::zeros([1, 2], (Kind::Float, Device::Cpu));
    let teacher = Tensor::from_slice(&[3f32.ln(), 0.0]).view([1, 2]);
    assert_close(
        "kl_t1",
        soft_target_kl(&student, &teacher, 1.0).double_value(&[]),
        closed_form,
    );
    // The same distributions at T = 2 (logits doubled) give T^2 = 4 times the KL.
    let teacher_t2 = &teacher * 2.0;
    assert_close(
        "kl_t2",
        soft_target_kl(&student, &teacher_t2, 2.0).double_value(&[]),
        4.0 * closed_form,
    );
    // Per-token mean: two copies of the row give the same value as one.
    let two_rows = soft_target_kl(
        &Tensor::cat(&[&student, &student], 0),
        &Tensor::cat(&[&teacher, &teacher], 0),
        1.0,
    );
    assert_close("kl_mean", two_rows.double_value(&[]), closed_form);
}

/// A batch of one sequence of 3 real tokens and 1 pad, with given hidden states and heads.
fn tiny_batch(student_hidden: Tensor, teacher_hidden: Tensor, vocab: i64) -> Batch {
    let width = student_hidden.size()[2];
    let head = |scale: f64| LinearHead {
        hidden: Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        weight: Tensor::eye(width, (Kind::Float, Device::Cpu))
            .repeat([vocab / width + 1, 1])
            .narrow(0, 0, vocab)
            * scale,
        bias: Tensor::zeros([vocab], (Kind::Float, Device::Cpu)),
    };
    Batch {
        student: LinearHead {
            hidden: student_hidden,
            ..head(1.0)
        },
        teacher: LinearHead {
            hidden: teacher_hidden,
            ..head(1.0)
        },
        mask: Tensor::from_slice(&[1i64, 1, 1, 0]).view([1, 4]),
        labels: Tensor::from_slice(&[-100i64, 2, -100, -100]).view([1, 4]),
    }
}

#[test]
fn orthogonal_hidden_states_give_cosine_loss_one_and_parallel_zero() {
    let e = |rows: &[[f32; 2]]| Tensor::from_slice(&rows.concat()).view([1, rows.len() as i64, 2]);
    let student = e(&[[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [9.0, 9.0]]);
    let orthogonal = e(&[[0.0, 1.0], [5.0, 0.0], [0.0, -1.0], [0.0, 0.0]]);
    let parallel = e(&[[2.0, 0.0], [0.0, 0.5], [7.0, 0.0], [-9.0, 9.0]]);
    let opposite = e(&[[-1.0, 0.0], [0.0, -3.0], [-1.0, 0.0], [1.0, 1.0]]);
    for (teacher, want) in [(orthogonal, 1.0), (parallel, 0.0), (opposite, 2.0)] {
        let batch = tiny_batch(student.shallow_clone(), teacher, 5);
        let got = batch.with_ctx(|ctx| HiddenCosineLoss.compute(ctx).double_value(&[]));
        assert!((got - want).abs() < 1e-6, "cos loss {got}, want {want}");
    }
}

#[test]
fn mse_and_mlm_closed_forms() {
    // Student logits = teacher logits + 1 everywhere: sum of squares / rows = vocab.
    let teacher = Tensor::randn([1, 4, 3], (Kind::Float, Device::Cpu));
    let batch = tiny_batch(&teacher + 0.0, teacher.shallow_clone(), 3);
    let shifted = Batch {
        student: LinearHead {
            bias: Tensor::ones([3], (Kind::Float, Device::Cpu)),
            ..batch.student
        },
        ..batch
    };
    let mse = LogitMseLoss { rows: Rows::NonPad };
    let got = shifted.with_ctx(|ctx| mse.compute(ctx).double_value(&[]));
    assert!((got - 3.0).abs() < 1e-6, "mse {got}");

    // All-zero logits: cross-entropy ln(vocab) at the single target.
    let zeros = Tensor::zeros([1, 4, 3], (Kind::Float, Device::Cpu));
    let batch = tiny_batch(zeros.shallow_clone(), zeros, 7);
    let got = batch.with_ctx(|ctx| MaskedLmLoss.compute(ctx).double_value(&[]));
    assert!((got - 7f64.ln()).abs() < 1e-6, "mlm {got}");
}

/// An objective from outside the crate joins without touching the loop.
struct HiddenL2;

impl LossTerm for HiddenL2 {
    fn name(&self) -> &'static str {
        "loss_hidden_l2"
    }

    fn compute(&self, ctx: &mut LossContext<'_>) -> Tensor {
        (ctx.student_hidden(Rows::NonPad) - ctx.teacher_hidden(Rows::NonPad))
            .square()
            .mean(Kind::Float)
    }
}

#[test]
fn extra_terms_join_the_weighted_total() {
    let fx = fixture();
    let batch = fixture_batch(&fx);
    let base = TripleLoss::from_config(&LossConfig::default());
    let extended = TripleLoss::from_config(&LossConfig::default()).with_term(3.0, HiddenL2);
    let a = batch.with_ctx(|ctx| base.compute(ctx));
    let b = batch.with_ctx(|ctx| extended.compute(ctx));
    let (name, l2) = b.terms.last().unwrap();
    assert_eq!(*name, "loss_hidden_l2");
    let want = a.total.double_value(&[]) + 3.0 * l2.double_value(&[]);
    assert_close("extended total", b.total.double_value(&[]), want);
    assert_eq!(
        TripleLoss::from_config(&LossConfig::default())
            .with_term(0.0, HiddenL2)
            .term_names()
            .len(),
        3
    );
}

#[test]
fn a_batch_without_mlm_targets_gives_zero_target_losses_that_still_backpropagate() {
    let fx = fixture();
    let batch = Batch {
        labels: fx.t("labels").full_like(-100),
        ..fixture_batch(&fx)
    };
    let loss = TripleLoss::from_config(&LossConfig {
        restrict_ce_to_mask: true,
        ..LossConfig::default()
    });
    let out = batch.with_ctx(|ctx| loss.compute(ctx));
    for (name, value) in &out.terms[..2] {
        assert_eq!(value.double_value(&[]), 0.0, "{name}");
    }
    out.total.backward();
    assert!(batch.student.hidden.grad().defined());
}
