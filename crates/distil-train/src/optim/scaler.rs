//! Dynamic loss scaling for fp16 training, built from libtorch's AMP kernels like
//! `torch.amp.GradScaler`: scale the loss, unscale the gradients while flagging inf/NaN, skip
//! the step when flagged, and grow or back off the scale.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The scale and its growth counter, stored in the trainer state for resume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScalerState {
    pub scale: f64,
    pub growth_tracker: i64,
}

/// GradScaler defaults: start at 2^16, double after 2000 clean steps, halve on overflow.
pub struct LossScaler {
    scale: Tensor,
    growth_tracker: Tensor,
    found_inf: Tensor,
    growth_factor: f64,
    backoff_factor: f64,
    growth_interval: i64,
}

impl LossScaler {
    pub fn new(device: Device) -> Self {
        Self::with_state(
            device,
            LossScalerState {
                scale: 65536.0,
                growth_tracker: 0,
            },
        )
    }

    pub fn with_state(device: Device, state: LossScalerState) -> Self {
        Self {
            scale: Tensor::from_slice(&[state.scale as f32]).to_device(device),
            growth_tracker: Tensor::from_slice(&[state.growth_tracker as i32]).to_device(device),
            found_inf: Tensor::zeros([1], (Kind::Float, device)),
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
        }
    }

    /// `loss * scale`, to call backward on.
    pub fn scale(&self, loss: &Tensor) -> Tensor {
        loss * self.scale.to_kind(loss.kind())
    }

    /// Divides the gradients by the scale in place and records whether any is inf or NaN.
    pub fn unscale(&mut self, grads: &[Tensor]) {
        tch::no_grad(|| {
            let inv_scale = self.scale.reciprocal();
            let _ = self.found_inf.zero_();
            for g in grads {
                let mut g = g.shallow_clone();
                g.internal_amp_non_finite_check_and_unscale(&mut self.found_inf, &inv_scale);
            }
        });
    }

    /// Whether the unscaled gradients are finite, so the optimizer may step. This reads one
    /// flag from the device, once per optimizer step (as GradScaler does).
    pub fn grads_finite(&self) -> bool {
        self.found_inf.double_value(&[0]) == 0.0
    }

    /// Grows the scale after `growth_interval` clean steps, halves it after an overflow.
    pub fn update(&mut self) {
        tch::no_grad(|| {
            let _ = self.scale.internal_amp_update_scale_(
                &self.growth_tracker,
                &self.found_inf,
                self.growth_factor,
                self.backoff_factor,
                self.growth_interval,
            );
        });
    }

    pub fn state(&self) -> LossScalerState {
        LossScalerState {
            scale: self.scale.double_value(&[0]),
            growth_tracker: self.growth_tracker.int64_value(&[0]),
        }
    }
}
