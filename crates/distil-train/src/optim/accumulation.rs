//! Gradient accumulation: the loss of each micro-batch is divided by the window length and an
//! optimizer step is due after every `steps` micro-batches.

/// Counts micro-batches within one accumulation window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradAccumulation {
    steps: u32,
    pending: u32,
}

impl GradAccumulation {
    /// `steps` is clamped to at least 1.
    pub fn new(steps: u32) -> Self {
        Self {
            steps: steps.max(1),
            pending: 0,
        }
    }

    /// What each micro-batch's loss is multiplied by before backward.
    pub fn loss_factor(&self) -> f64 {
        1.0 / f64::from(self.steps)
    }

    /// Records one micro-batch's backward; returns true when the window is full and the
    /// optimizer should step now.
    pub fn micro_batch_done(&mut self) -> bool {
        self.pending += 1;
        if self.pending == self.steps {
            self.pending = 0;
            true
        } else {
            false
        }
    }

    /// Micro-batches accumulated since the last optimizer step.
    pub fn pending(&self) -> u32 {
        self.pending
    }
}
