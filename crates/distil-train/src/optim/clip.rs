//! Global-norm gradient clipping computed on the device, as `torch.nn.utils.clip_grad_norm_`:
//! every gradient is multiplied by `min(1, max_norm / (norm + 1e-6))`, with no host read.

use tch::{Kind, Tensor};

/// Clips `grads` in place to a global L2 norm of `max_norm` and returns the norm before
/// clipping as a 0-dim fp32 tensor on the gradients' device (read it only when logging).
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Tensor {
    tch::no_grad(|| {
        let norms: Vec<Tensor> = grads
            .iter()
            .map(|g| g.norm_scalaropt_dtype(2.0, Kind::Float))
            .collect();
        let Some(first) = norms.first() else {
            return Tensor::from(0f32);
        };
        let total = Tensor::stack(&norms, 0).norm_scalaropt_dtype(2.0, Kind::Float);
        let coef = ((&total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
        let coef = coef.to_device(first.device());
        for g in grads {
            let mut g = g.shallow_clone();
            let _ = g.g_mul_(&coef.to_kind(g.kind()));
        }
        total
    })
}
