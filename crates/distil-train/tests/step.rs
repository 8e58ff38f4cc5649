//! The distillation step's switches and accumulation change how it computes, not what: row
//! projection equals full projection, SDPA equals eager attention, less padding gives the same
//! losses, and two accumulated micro-batches step like one. bf16 autocast stays within bf16
//! tolerance of fp32 with the student's weights and gradients in fp32. Tiny random BERT and
//! DistilBERT, without dropout so that values compare exactly.

#![allow(clippy::unwrap_used)] // tests fail loudly

use distil_amp::AutocastDtype;
use distil_data::LmBatch;
use distil_student::init_student::student_config;
use distil_student::DistilBertForMaskedLM;
use distil_teacher::{BertConfig, BertForMaskedLM};
use distil_train::config::OptimizerConfig;
use distil_train::loss::VocabProjection;
use distil_train::{
    AdamW, AdamWConfig, AttentionKernel, DeviceBatch, DistillStep, LossConfig, StepAutocast,
    StepModels, StepSwitches, TripleLoss,
};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A 2-layer BERT teacher and a 1-layer DistilBERT student (vocabulary 60, hidden 16).
struct Models {
    teacher_vs: VarStore,
    teacher: BertForMaskedLM,
    student_vs: VarStore,
    student: DistilBertForMaskedLM,
}

fn tiny_models() -> Models {
    let teacher_config: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 60, "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0
    }))
    .unwrap();
    let student_config = student_config(&teacher_config, &[0]).unwrap();
    let teacher_vs = VarStore::new(Device::Cpu);
    let teacher = BertForMaskedLM::new(teacher_vs.root(), &teacher_config);
    let student_vs = VarStore::new(Device::Cpu);
    let student = DistilBertForMaskedLM::new(student_vs.root(), &student_config);
    Models {
        teacher_vs,
        teacher,
        student_vs,
        student,
    }
}

/// Fresh models holding a copy of `start`'s weights in `kind`. Copying, rather than seeding,
/// keeps the weights equal while other tests draw random numbers.
fn copy_of(start: &Models, kind: Kind) -> Models {
    copy_with(start, kind, kind)
}

/// As [`copy_of`], the teacher and the student each in its own kind.
fn copy_with(start: &Models, teacher: Kind, student: Kind) -> Models {
    let mut models = tiny_models();
    models.teacher_vs.copy(&start.teacher_vs).unwrap();
    models.student_vs.copy(&start.student_vs).unwrap();
    models.teacher_vs.set_kind(teacher);
    models.student_vs.set_kind(student);
    models
}

/// Two rows of lengths 9 and 6, padded to `len`, with MLM targets in both.
fn batch(len: usize) -> LmBatch {
    let rows: [&[i64]; 2] = [&[2, 11, 5, 8, 40, 33, 17, 9, 3], &[2, 51, 12, 7, 26, 3]];
    let targets = [(0usize, 2usize), (0, 6), (1, 1), (1, 4)];
    let mut ids = vec![0i64; 2 * len];
    let mut mask = vec![0i64; 2 * len];
    let mut labels = vec![-100i64; 2 * len];
    for (b, row) in rows.iter().enumerate() {
        ids[b * len..b * len + row.len()].copy_from_slice(row);
        mask[b * len..b * len + row.len()].fill(1);
    }
    for (b, t) in targets {
        labels[b * len + t] = ids[b * len + t];
        ids[b * len + t] = 1;
    }
    let shape = [2, len as i64];
    LmBatch {
        input_ids: Tensor::from_slice(&ids).view(shape),
        attention_mask: Tensor::from_slice(&mask).view(shape),
        labels: Tensor::from_slice(&labels).view(shape),
        n_tokens: 15,
    }
}

fn step_for(models: &Models, switches: StepSwitches, micro_batches: u32) -> DistillStep {
    let recipe = OptimizerConfig::default();
    let optimizer = AdamW::new(
        &models.student_vs,
        AdamWConfig {
            betas: (0.9, 0.98),
            eps: 1e-6,
            weight_decay: 0.0,
        },
    );
    DistillStep::new(
        TripleLoss::from_config(&LossConfig::default()),
        optimizer,
        switches,
        recipe.max_grad_norm,
    )
    .with_grad_accumulation(micro_batches)
}

fn models_of(models: &Models) -> StepModels<'_> {
    StepModels {
        teacher: Some(&models.teacher),
        student: &models.student,
    }
}

/// Loss values of two successive optimizer steps from a copy of `start`'s weights, so the
/// second step also checks the gradients and update of the first.
fn two_steps(
    start: &Models,
    switches: StepSwitches,
    kind: Kind,
    len: usize,
) -> Vec<Vec<(&'static str, f64)>> {
    let models = copy_of(start, kind);
    let step = step_for(&models, switches, 1);
    run_two_steps(&models, step, len)
}

/// Loss values of two successive optimizer steps of `step` on `models`.
fn run_two_steps(
    models: &Models,
    mut step: DistillStep,
    len: usize,
) -> Vec<Vec<(&'static str, f64)>> {
    let batch = DeviceBatch::new(&batch(len), Device::Cpu);
    let lr = OptimizerConfig::default().learning_rate;
    (0..2)
        .map(|micro_step| {
            let output = step
                .forward_backward(models_of(models), &batch, micro_step)
                .unwrap();
            let grad_norm = step.optimizer_step(lr).double_value(&[]);
            assert!(grad_norm.is_finite() && grad_norm > 0.0, "{grad_norm}");
            output.host_values()
        })
        .collect()
}

fn assert_close(a: &[Vec<(&str, f64)>], b: &[Vec<(&str, f64)>], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len());
    for (step_a, step_b) in a.iter().zip(b) {
        assert_eq!(step_a.len(), 4, "ce, mlm, cos and the total: {step_a:?}");
        for ((name_a, x), (name_b, y)) in step_a.iter().zip(step_b) {
            assert_eq!(name_a, name_b);
            assert!(x.is_finite() && *x > 0.0, "{what} {name_a}: {x}");
            let diff = (x - y).abs() / x.abs().max(1.0);
            assert!(diff < tol, "{what} {name_a}: {x} vs {y}");
        }
    }
}

const PLAIN: StepSwitches = StepSwitches {
    projection: VocabProjection::FullSequence,
    attention: AttentionKernel::Eager,
};

/// `switched` against the plain path, in fp32 and bf16.
fn assert_same_losses_as_plain(switched: StepSwitches) {
    let start = tiny_models();
    for (kind, tol) in [(Kind::Float, 1e-5), (Kind::BFloat16, 2e-2)] {
        let plain = two_steps(&start, PLAIN, kind, 9);
        let fast = two_steps(&start, switched, kind, 9);
        assert_close(&plain, &fast, tol, &format!("{switched:?} {kind:?}"));
    }
}

#[test]
fn row_projection_gives_the_full_projection_losses() {
    assert_same_losses_as_plain(StepSwitches {
        projection: VocabProjection::Rows,
        ..PLAIN
    });
}

#[test]
fn sdpa_gives_the_eager_attention_losses() {
    assert_same_losses_as_plain(StepSwitches {
        attention: AttentionKernel::Sdpa,
        ..PLAIN
    });
}

/// Length grouping only removes padding: the same rows padded to 9 (as in a grouped batch)
/// or to 16 (as beside a longer row) give the same losses.
#[test]
fn less_padding_gives_the_same_losses() {
    let start = tiny_models();
    for switches in [PLAIN, StepSwitches::default()] {
        let padded = two_steps(&start, switches, Kind::Float, 16);
        let grouped = two_steps(&start, switches, Kind::Float, 9);
        assert_close(&padded, &grouped, 1e-5, "padding");
    }
}

/// The run's default switches are the fast ones `distil distill` has always used.
#[test]
fn default_switches_are_row_projection_and_sdpa() {
    assert_eq!(
        StepSwitches::default(),
        StepSwitches {
            projection: VocabProjection::Rows,
            attention: AttentionKernel::Sdpa,
        }
    );
}

/// Each micro-batch's loss is divided by the accumulation count: two accumulated copies of a
/// batch make the same optimizer step as the batch alone.
#[test]
fn two_accumulated_micro_batches_step_like_one() {
    let start = tiny_models();
    let batch = DeviceBatch::new(&batch(9), Device::Cpu);
    let lr = OptimizerConfig::default().learning_rate;
    let after_one_step = |micro_batches: u32| {
        let models = copy_of(&start, Kind::Float);
        let mut step = step_for(&models, StepSwitches::default(), micro_batches);
        for micro_step in 0..u64::from(micro_batches) {
            step.forward_backward(models_of(&models), &batch, micro_step)
                .unwrap();
        }
        let grad_norm = step.optimizer_step(lr).double_value(&[]);
        assert!(grad_norm.is_finite() && grad_norm > 0.0, "{grad_norm}");
        step.forward_backward(models_of(&models), &batch, 0)
            .unwrap()
            .host_values()
    };
    let before = step_for(&start, StepSwitches::default(), 1)
        .forward_backward(models_of(&start), &batch, 0)
        .unwrap()
        .host_values();
    let single = after_one_step(1);
    assert!(
        single.last().unwrap().1 < before.last().unwrap().1,
        "the step lowers the loss: {single:?} vs {before:?}"
    );
    assert_close(&[single], &[after_one_step(2)], 1e-6, "accumulation");
}

/// `training.precision: bf16-autocast`: a bf16 teacher and the student's forward under CPU
/// autocast give the fp32 losses within bf16 tolerance over two steps, while the student's
/// master weights and gradients stay fp32. The same bf16 teacher without the student's
/// autocast gives other values, so the autocast region really changed the computation.
#[test]
fn bf16_autocast_stays_within_bf16_tolerance_of_fp32_with_fp32_master_weights() {
    let start = tiny_models();
    let fp32 = two_steps(&start, StepSwitches::default(), Kind::Float, 9);
    let bf16_teacher = |autocast: bool| {
        let models = copy_with(&start, Kind::BFloat16, Kind::Float);
        let mut step = step_for(&models, StepSwitches::default(), 1);
        if autocast {
            let region = StepAutocast::new(Device::Cpu, AutocastDtype::BFloat16).unwrap();
            step = step.with_autocast(region);
        }
        let losses = run_two_steps(&models, step, 9);
        for (name, weight) in models.student_vs.variables() {
            assert_eq!(weight.kind(), Kind::Float, "student weight {name}");
        }
        losses
    };
    let mixed = bf16_teacher(true);
    assert_close(&fp32, &mixed, 2e-2, "bf16-autocast");
    assert_ne!(
        mixed,
        bf16_teacher(false),
        "autocast left the student in fp32"
    );

    let models = copy_with(&start, Kind::BFloat16, Kind::Float);
    let step = step_for(&models, StepSwitches::default(), 1)
        .with_autocast(StepAutocast::new(Device::Cpu, AutocastDtype::BFloat16).unwrap());
    step.forward_backward(
        models_of(&models),
        &DeviceBatch::new(&batch(9), Device::Cpu),
        0,
    )
    .unwrap();
    for weight in models.student_vs.trainable_variables() {
        let grad = weight.grad();
        assert!(
            grad.defined() && grad.kind() == Kind::Float,
            "{:?}",
            grad.kind()
        );
    }
    // The region ended with the micro-batch: matmuls are fp32 again.
    let x = Tensor::ones([2, 2], (Kind::Float, Device::Cpu));
    assert_eq!(x.matmul(&x).kind(), Kind::Float);
}

/// fp16 autocast is CUDA-only: building the step's region on the CPU is refused up front.
#[test]
fn fp16_autocast_is_refused_on_the_cpu() {
    let err = StepAutocast::new(Device::Cpu, AutocastDtype::Half).unwrap_err();
    assert!(err.to_string().contains("fp16"), "{err}");
}
