//! libtorch runtime controls that tch 0.24 does not expose, through a small C++ shim
//! (`shim/amp_shim.cpp`):
//!
//! - [`AutocastGuard`]: `at::autocast` for the CPU or CUDA with a chosen dtype (bf16; fp16 on
//!   CUDA), entered and left as `torch.autocast` does. tch's own `autocast` is CUDA-only and
//!   always fp16.
//! - [`InferenceModeGuard`]: `c10::InferenceMode` (`torch.inference_mode`) for forward-only
//!   passes: no grad mode and no autograd bookkeeping on the tensors made inside it.
//! - [`set_tf32`]: TF32 for fp32 matmuls (cuBLAS) and cuDNN on CUDA.
//! - [`cuda_peak_memory`] / [`reset_cuda_peak_memory`] / [`empty_cuda_cache`]: the CUDA
//!   caching allocator's peak allocated and reserved bytes.
//!
//! # How CUDA is linked
//!
//! Autocast, inference mode and TF32 live in `libtorch_cpu` and work with any libtorch. The memory statistics
//! live in `libc10_cuda`; `build.rs` links it when the libtorch is a CUDA build (the file is
//! next to `libtorch_cpu`) and the CUDA runtime headers are found (`CUDA_HOME`, else the
//! `nvidia-*` wheels the torch wheel depends on). torch-sys already links `libtorch_cuda` in
//! that case, which itself needs `libc10_cuda`, so this adds no new runtime dependency, and a
//! CUDA build on a machine without a GPU still loads (the calls then report that no device
//! exists). Detecting this at build time, rather than behind a cargo feature, means every
//! build against the CUDA wheel, CI included, compiles and links the CUDA path, so it cannot
//! rot unseen; against a CPU-only libtorch the memory calls return [`AmpError::Shim`] saying
//! the build has no CUDA.

mod autocast;
mod cuda_memory;
mod error;
mod ffi;
mod inference;
mod tf32;

pub use autocast::{AutocastDevice, AutocastDtype, AutocastGuard};
pub use cuda_memory::{cuda_peak_memory, empty_cuda_cache, reset_cuda_peak_memory, CudaPeakMemory};
pub use error::AmpError;
pub use inference::InferenceModeGuard;
pub use tf32::{set_tf32, tf32_enabled};

/// The CUDA header folders this build compiled its CUDA path against, `;`-separated; empty
/// when it was built without CUDA (a CPU-only libtorch).
pub const CUDA_HEADER_DIRS: &str = env!("DISTIL_AMP_CUDA_HEADERS");
