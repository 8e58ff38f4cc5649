//! Global-norm gradient clipping computed on the device, as
//! `torch.nn.utils.clip_grad_norm_(foreach=True)`: per-tensor norms in one `_foreach_norm`,
//! their L2 norm, `coef = clamp(max_norm / (norm + 1e-6), max=1)`, and one `_foreach_mul_` by
//! that 0-dim tensor. The norm never leaves the device, so a CUDA step does not wait for it;
//! the caller reads it only when it logs.

use tch::Tensor;

use super::ffi;

/// Clips `grads` (all on one device) in place to a global L2 norm of `max_norm` and returns
/// the norm before clipping as a 0-dim fp32 tensor on the gradients' device (a CPU zero when
/// there are none).
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Tensor {
    if grads.is_empty() {
        return Tensor::from(0f32);
    }
    ffi::clip_grad_norm(grads, max_norm)
}
