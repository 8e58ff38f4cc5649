//! `get_linear_schedule_with_warmup`: the learning rate rises linearly from 0 over the warmup
//! steps, then falls linearly to 0 at the last optimizer step.

/// Learning rate per optimizer step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmupDecay {
    pub peak_lr: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
}

impl LinearWarmupDecay {
    /// `warmup_steps = ceil(total_steps * warmup_prop)`, as the reference computes it.
    pub fn new(peak_lr: f64, total_steps: u64, warmup_prop: f64) -> Self {
        Self {
            peak_lr,
            warmup_steps: (total_steps as f64 * warmup_prop).ceil() as u64,
            total_steps,
        }
    }

    /// The rate for the update made after `step` earlier updates (so the very first update
    /// runs at 0 when there is a warmup, exactly as `LambdaLR` starts).
    pub fn lr(&self, step: u64) -> f64 {
        self.peak_lr * self.factor(step)
    }

    fn factor(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return step as f64 / self.warmup_steps.max(1) as f64;
        }
        let remaining = self.total_steps.saturating_sub(step) as f64;
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        (remaining / decay_steps).max(0.0)
    }
}

/// Total optimizer steps the reference plans for: `int(batches / accumulation * epochs) + 1`.
pub fn reference_total_steps(batches_per_epoch: u64, grad_accumulation: u32, epochs: u32) -> u64 {
    (batches_per_epoch as f64 / f64::from(grad_accumulation) * f64::from(epochs)) as u64 + 1
}
