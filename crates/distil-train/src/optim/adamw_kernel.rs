//! Which libtorch implementation runs an AdamW update. Both compute `torch.optim.AdamW`'s
//! arithmetic over every tensor of a parameter group at once instead of a chain of small ops
//! per tensor, which is what made the update launch-bound on a GPU.

use tch::Device;

/// The multi-tensor kernel behind [`AdamW`](super::AdamW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdamWKernel {
    /// `_fused_adamw_`: one kernel over all tensors, as `torch.optim.AdamW(fused=True)`.
    Fused,
    /// `_foreach_*`: a handful of multi-tensor ops, as `torch.optim.AdamW(foreach=True)`.
    Foreach,
}

impl AdamWKernel {
    /// Fused on CUDA (fewest launches; the step number stays on the device), foreach elsewhere
    /// (the CPU's fused kernel reads the step number per tensor and has not been measured
    /// against foreach here). Both match the per-tensor update within 1e-6 in fp32, so
    /// [`AdamW::with_kernel`](super::AdamW::with_kernel) may force either.
    pub fn for_device(device: Device) -> Self {
        if device.is_cuda() {
            Self::Fused
        } else {
            Self::Foreach
        }
    }
}
