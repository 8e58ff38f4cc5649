//! One distillation training step as the recipe does it: the teacher's forward under
//! `no_grad`, the student's forward and backward on the triple loss, global-norm clipping and
//! an AdamW update, with the speed switches that must not change the loss values.
//!
//! TODO(lead): fold into the `Distiller`'s step once it lands in distil-train.

use clap::ValueEnum;
use distil_core::{EncoderInput, MaskedLanguageModel};
use distil_data::MlmBatch;
use distil_train::loss::VocabProjection;
use distil_train::optim::clip_grad_norm;
use distil_train::{AdamW, LossConfig, LossContext, LossInputs, LossOutput, RowIndex, TripleLoss};
use serde::Serialize;
use tch::{Device, Tensor};

/// Where the vocabulary head runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Projection {
    /// Only at the rows a loss reads.
    Rows,
    /// At every position, as the reference distiller does.
    Full,
}

/// Which attention kernel the encoders use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionPath {
    /// libtorch's fused `scaled_dot_product_attention`.
    Sdpa,
    /// matmul, masked softmax, matmul.
    Eager,
}

/// The switches of the step; every combination computes the same losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StepSwitches {
    pub projection: Projection,
    pub attention: AttentionPath,
}

/// A batch on the models' device, with the loss rows built from its CPU tensors.
pub struct DeviceBatch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    pub labels: Tensor,
    pub rows: RowIndex,
    /// Non-pad tokens.
    pub n_tokens: i64,
}

impl DeviceBatch {
    pub fn new(batch: &MlmBatch, device: Device) -> Self {
        Self {
            input_ids: batch.input_ids.to_device(device),
            attention_mask: batch.attention_mask.to_device(device),
            labels: batch.labels.to_device(device),
            rows: RowIndex::new(&batch.attention_mask, &batch.labels, device),
            n_tokens: batch.n_tokens,
        }
    }
}

/// Teacher, student, loss and optimizer of one run.
pub struct DistillStep<'m> {
    pub teacher: &'m dyn MaskedLanguageModel,
    pub student: &'m dyn MaskedLanguageModel,
    pub loss: TripleLoss,
    pub optimizer: AdamW,
    pub learning_rate: f64,
    pub max_grad_norm: f64,
    pub switches: StepSwitches,
    /// Dropout on in the student (off only to compare values exactly).
    pub train: bool,
}

impl<'m> DistillStep<'m> {
    pub fn new(
        teacher: &'m dyn MaskedLanguageModel,
        student: &'m dyn MaskedLanguageModel,
        loss: &LossConfig,
        optimizer: AdamW,
        switches: StepSwitches,
    ) -> Self {
        let recipe = distil_train::config::OptimizerConfig::default();
        Self {
            teacher,
            student,
            loss: TripleLoss::from_config(loss),
            optimizer,
            learning_rate: recipe.learning_rate,
            max_grad_norm: recipe.max_grad_norm,
            switches,
            train: true,
        }
    }

    /// Both forwards and the loss, with the student's graph kept for `backward`.
    pub fn losses(&self, batch: &DeviceBatch) -> LossOutput {
        let input = EncoderInput {
            input_ids: &batch.input_ids,
            attention_mask: &batch.attention_mask,
            token_type_ids: None,
            // The eager path is the one that returns attention maps.
            output_attentions: self.switches.attention == AttentionPath::Eager,
        };
        let teacher_out = tch::no_grad(|| self.teacher.encode(&input, false));
        let student_out = self.student.encode(&input, self.train);
        let projection = match self.switches.projection {
            Projection::Rows => VocabProjection::Rows,
            Projection::Full => VocabProjection::FullSequence,
        };
        let mut ctx = LossContext::new(LossInputs {
            student: self.student,
            teacher: self.teacher,
            student_out: &student_out,
            teacher_out: &teacher_out,
            labels: &batch.labels,
            rows: &batch.rows,
            train: self.train,
        })
        .with_projection(projection);
        self.loss.compute(&mut ctx)
    }

    /// One optimizer step on `batch`; returns each term's value and the weighted total.
    pub fn step(&mut self, batch: &DeviceBatch) -> Vec<(&'static str, f64)> {
        let output = self.losses(batch);
        output.total.backward();
        let _ = clip_grad_norm(&self.optimizer.grads(), self.max_grad_norm);
        self.optimizer.step(self.learning_rate);
        self.optimizer.zero_grad();
        loss_values(&output)
    }
}

/// The terms' values followed by `("loss", total)`, read to the host.
pub fn loss_values(output: &LossOutput) -> Vec<(&'static str, f64)> {
    output
        .terms
        .iter()
        .map(|(name, value)| (*name, value.double_value(&[])))
        .chain([("loss", output.total.double_value(&[]))])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::bench::random_models::{ModelShapes, RandomModels};
    use distil_train::{AdamWConfig, LossConfig};
    use tch::Kind;

    fn tiny_shapes() -> ModelShapes {
        ModelShapes {
            teacher_layers: 2,
            student_layers: 1,
            hidden: 16,
            intermediate: 32,
            heads: 2,
            vocab: 60,
            seed: 7,
        }
    }

    /// Two rows of lengths 9 and 6, padded to `len`, with MLM targets in both.
    fn batch(len: usize) -> MlmBatch {
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
        MlmBatch {
            input_ids: Tensor::from_slice(&ids).view(shape),
            attention_mask: Tensor::from_slice(&mask).view(shape),
            labels: Tensor::from_slice(&labels).view(shape),
            n_tokens: 15,
        }
    }

    /// Loss values of two successive steps (dropout off) from a copy of `start`'s weights, so
    /// the second step also checks the gradients and update of the first. Copying, rather
    /// than seeding, keeps the weights equal while other tests draw random numbers.
    fn two_steps(
        start: &RandomModels,
        switches: StepSwitches,
        kind: Kind,
        len: usize,
    ) -> Vec<Vec<(&'static str, f64)>> {
        let mut models = tiny_shapes().build(Device::Cpu).unwrap();
        models.teacher.vs.copy(&start.teacher.vs).unwrap();
        models.student.vs.copy(&start.student.vs).unwrap();
        models.teacher.vs.set_kind(kind);
        models.student.vs.set_kind(kind);
        let optimizer = AdamW::new(
            &models.student.vs,
            AdamWConfig {
                betas: (0.9, 0.98),
                eps: 1e-6,
                weight_decay: 0.0,
            },
        );
        let mut step = DistillStep::new(
            &models.teacher.model,
            &models.student.model,
            &LossConfig::default(),
            optimizer,
            switches,
        );
        step.train = false;
        let batch = DeviceBatch::new(&batch(len), Device::Cpu);
        (0..2).map(|_| step.step(&batch)).collect()
    }

    fn assert_close(a: &[Vec<(&str, f64)>], b: &[Vec<(&str, f64)>], tol: f64, what: &str) {
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
        projection: Projection::Full,
        attention: AttentionPath::Eager,
    };

    /// `switched` against the plain path, in fp32 and bf16.
    fn assert_same_losses_as_plain(switched: StepSwitches) {
        let start = tiny_shapes().build(Device::Cpu).unwrap();
        for (kind, tol) in [(Kind::Float, 1e-5), (Kind::BFloat16, 2e-2)] {
            let plain = two_steps(&start, PLAIN, kind, 9);
            let fast = two_steps(&start, switched, kind, 9);
            assert_close(&plain, &fast, tol, &format!("{switched:?} {kind:?}"));
        }
    }

    #[test]
    fn row_projection_gives_the_full_projection_losses() {
        assert_same_losses_as_plain(StepSwitches {
            projection: Projection::Rows,
            ..PLAIN
        });
    }

    #[test]
    fn sdpa_gives_the_eager_attention_losses() {
        assert_same_losses_as_plain(StepSwitches {
            attention: AttentionPath::Sdpa,
            ..PLAIN
        });
    }

    /// Length grouping only removes padding: the same rows padded to 9 (as in a grouped
    /// batch) or to 16 (as beside a longer row) give the same losses.
    #[test]
    fn less_padding_gives_the_same_losses() {
        let fast = StepSwitches {
            projection: Projection::Rows,
            attention: AttentionPath::Sdpa,
        };
        let start = tiny_shapes().build(Device::Cpu).unwrap();
        for switches in [PLAIN, fast] {
            let padded = two_steps(&start, switches, Kind::Float, 16);
            let grouped = two_steps(&start, switches, Kind::Float, 9);
            assert_close(&padded, &grouped, 1e-5, "padding");
        }
    }
}
