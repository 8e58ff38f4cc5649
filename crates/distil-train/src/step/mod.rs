//! One distillation step, the one `distil distill` runs and `distil bench step` times: per
//! micro-batch the teacher's forward under `no_grad`, the student's forward, the losses and
//! the backward of `loss / grad_accumulation` ([`DistillStep::forward_backward`]), then the
//! optimizer step: unscale, clip, update, zero ([`DistillStep::optimizer_step`]). It needs no
//! run directory, data loader or process group: the caller brings the batches, the learning
//! rate and, under `torchrun`, averages the gradients between the two. Nothing is read back
//! to the host; reading the returned values is the caller's choice (at log steps).

mod autocast;
mod batch;
mod forward_backward;
mod optimizer_step;
mod switches;

pub use autocast::StepAutocast;
pub use batch::DeviceBatch;
pub use forward_backward::StepModels;
pub use switches::{AttentionKernel, StepSwitches};

use crate::loss::{ModelNeeds, TripleLoss};
use crate::optim::{AdamW, GradAccumulation, LossScaler};

/// The loss, the optimizer and how they run; the models are lent per call ([`StepModels`]).
pub struct DistillStep {
    loss: TripleLoss,
    /// What the loss terms read from the encoders, worked out once from `loss`.
    needs: ModelNeeds,
    optimizer: AdamW,
    switches: StepSwitches,
    /// Global L2 norm the gradients are clipped to.
    max_grad_norm: f64,
    accumulation: GradAccumulation,
    /// Mixed precision: the student's forward and the losses run under autocast.
    autocast: Option<StepAutocast>,
    /// fp16: the loss is scaled.
    scaler: Option<LossScaler>,
    /// Dropout seed of this process (see [`crate::rng`]).
    seed: u64,
}

impl DistillStep {
    /// A step of one micro-batch per optimizer step, without loss scaling, dropout seed 0.
    pub fn new(
        loss: TripleLoss,
        optimizer: AdamW,
        switches: StepSwitches,
        max_grad_norm: f64,
    ) -> Self {
        Self {
            needs: loss.needs(),
            loss,
            optimizer,
            switches,
            max_grad_norm,
            accumulation: GradAccumulation::new(1),
            autocast: None,
            scaler: None,
            seed: 0,
        }
    }

    /// `micro_batches` forward/backward passes per optimizer step.
    pub fn with_grad_accumulation(mut self, micro_batches: u32) -> Self {
        self.accumulation = GradAccumulation::new(micro_batches);
        self
    }

    /// Mixed precision: the student's forward and the losses under `autocast` (fp32 master
    /// weights and optimizer state stay as they are).
    pub fn with_autocast(mut self, autocast: StepAutocast) -> Self {
        self.autocast = Some(autocast);
        self
    }

    /// fp16 training (with [`Self::with_autocast`] in fp16): the loss scaled by `scaler`.
    pub fn with_loss_scaler(mut self, scaler: LossScaler) -> Self {
        self.scaler = Some(scaler);
        self
    }

    /// Seeds dropout: micro-batch `n` draws from `(seed, n)` alone, so a resumed run draws
    /// what an uninterrupted one would.
    pub fn with_dropout_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The optimizer, for checkpoints and for averaging its gradients over ranks.
    pub fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    /// The fp16 loss scaler, when the step has one.
    pub fn loss_scaler(&self) -> Option<&LossScaler> {
        self.scaler.as_ref()
    }
}
