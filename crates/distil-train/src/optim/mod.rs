//! Optimisation: AdamW with checkpointable state on libtorch's multi-tensor kernels, the
//! warmup-then-decay schedule, global-norm clipping on the device, gradient accumulation and
//! the fp16 loss scale.

mod accumulation;
mod adamw;
mod adamw_kernel;
mod clip;
mod ffi;
mod scaler;
mod schedule;

pub use accumulation::GradAccumulation;
pub use adamw::{AdamW, AdamWConfig};
pub use adamw_kernel::AdamWKernel;
pub use clip::clip_grad_norm;
pub use scaler::{LossScaler, LossScalerState};
pub use schedule::{reference_total_steps, LinearWarmupDecay};
