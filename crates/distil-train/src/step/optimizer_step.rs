//! The optimizer step after a window of micro-batches (the reference's `optimize`): unscale
//! under fp16, clip, update, zero.

use tch::Tensor;

use super::DistillStep;
use crate::optim::clip_grad_norm;

impl DistillStep {
    /// Updates the student at learning rate `lr` from the accumulated gradients (already
    /// averaged over the ranks under `torchrun`) and zeroes them; returns the global gradient
    /// norm before clipping, on the device. Under fp16 a step whose gradients overflowed is
    /// skipped and the scale backs off, as `GradScaler` does.
    pub fn optimizer_step(&mut self, lr: f64) -> Tensor {
        let grads = self.optimizer.grads();
        if let Some(scaler) = &mut self.scaler {
            scaler.unscale(&grads);
        }
        let norm = clip_grad_norm(&grads, self.max_grad_norm);
        match &mut self.scaler {
            Some(scaler) => {
                if scaler.grads_finite() {
                    self.optimizer.step(lr);
                }
                scaler.update();
            }
            None => self.optimizer.step(lr),
        }
        self.optimizer.zero_grad();
        norm
    }
}
