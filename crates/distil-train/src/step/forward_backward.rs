//! One micro-batch of the step: both forwards on the same input (masked for a masked LM), the
//! weighted loss, backward of `loss / grad_accumulation` (scaled under fp16). Gradients
//! accumulate in the student until [`DistillStep::optimizer_step`].
//!
//! Under mixed precision the student's forward and the losses run inside an autocast region,
//! as `torch.autocast` is used: matmuls in bf16 (or fp16) from the fp32 master weights, the
//! loss inputs cast to fp32 (`loss::rows::as_f32`). The backward runs after the region ends,
//! as PyTorch advises; autograd replays each op in the dtype its forward ran in. The teacher's
//! encoder runs outside it: its weights are already stored in the reduced dtype.

use distil_amp::{AmpError, AutocastGuard};
use distil_core::LanguageModel;
use tch::Tensor;

use super::{DeviceBatch, DistillStep};
use crate::loss::{EncoderNeeds, LossContext, LossInputs, LossOutput, StudentInputs};
use crate::rng::seed_micro_batch;

/// The models a step runs: the frozen teacher (`None` pretrains the student on its LM loss
/// alone) and the trained student.
#[derive(Clone, Copy)]
pub struct StepModels<'m> {
    pub teacher: Option<&'m dyn LanguageModel>,
    pub student: &'m dyn LanguageModel,
}

impl DistillStep {
    /// Runs micro-batch number `micro_step` of the run (it seeds dropout) and accumulates its
    /// gradients. Returns each loss term and the weighted total (before the division by the
    /// accumulation count), detached and on the device. Fails only if libtorch refuses to
    /// enter the autocast region.
    pub fn forward_backward(
        &self,
        models: StepModels<'_>,
        batch: &DeviceBatch,
        micro_step: u64,
    ) -> Result<LossOutput, AmpError> {
        seed_micro_batch(self.seed, micro_step);
        let needs = self.needs;
        let input = |wanted: EncoderNeeds| {
            let mut input = self
                .switches
                .encoder_input(&batch.input_ids, &batch.attention_mask);
            wanted.apply(&mut input);
            input
        };
        let (student_input, teacher_input) = (input(needs.student), input(needs.teacher));
        let StepModels { teacher, student } = models;
        let teacher_out = teacher.map(|t| tch::no_grad(|| t.encode(&teacher_input, false)));
        let forward = || {
            let student_out = student.encode(&student_input, true);
            let ctx = match teacher.zip(teacher_out.as_ref()) {
                Some((teacher, teacher_out)) => LossContext::new(LossInputs {
                    student,
                    teacher,
                    student_out: &student_out,
                    teacher_out,
                    attention_mask: &batch.attention_mask,
                    labels: &batch.labels,
                    rows: &batch.rows,
                    train: true,
                }),
                None => LossContext::without_teacher(StudentInputs {
                    student,
                    student_out: &student_out,
                    attention_mask: &batch.attention_mask,
                    labels: &batch.labels,
                    rows: &batch.rows,
                    train: true,
                }),
            };
            self.loss
                .compute(&mut ctx.with_projection(self.switches.projection))
        };
        let output = match self.autocast {
            Some(autocast) => {
                let _region = AutocastGuard::enter(autocast.device, autocast.dtype)?;
                forward()
            }
            None => forward(),
        };
        let scaled: Tensor = &output.total * self.accumulation.loss_factor();
        match &self.scaler {
            Some(scaler) => scaler.scale(&scaled).backward(),
            None => scaled.backward(),
        }
        Ok(LossOutput {
            total: output.total.detach(),
            terms: output.terms,
        })
    }
}
