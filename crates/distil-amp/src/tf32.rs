//! TF32 on CUDA: fp32 matmuls (cuBLAS) and convolutions (cuDNN) may round their inputs to
//! TF32's 10-bit mantissa. Off by default, as in PyTorch for matmuls, so that fp32 runs are
//! reproducible across GPU generations; a run turns it on for speed.

use std::ffi::c_int;

use crate::error::AmpError;
use crate::ffi;

/// Allows (or forbids) TF32 for CUDA fp32 matmuls and cuDNN, process-wide, as
/// `torch.backends.cuda.matmul.allow_tf32` and `torch.backends.cudnn.allow_tf32` do.
pub fn set_tf32(enabled: bool) -> Result<(), AmpError> {
    // SAFETY: plain integer argument; the shim catches every C++ exception.
    match unsafe { ffi::distil_amp_set_tf32(c_int::from(enabled)) } {
        0 => Ok(()),
        _ => Err(AmpError::shim("setting TF32")),
    }
}

/// Whether TF32 is allowed for CUDA fp32 matmuls (cuBLAS) and for cuDNN.
pub fn tf32_enabled() -> Result<(bool, bool), AmpError> {
    let (mut cublas, mut cudnn) = (0, 0);
    // SAFETY: both pointers are to live locals the shim writes once.
    match unsafe { ffi::distil_amp_tf32(&mut cublas, &mut cudnn) } {
        0 => Ok((cublas != 0, cudnn != 0)),
        _ => Err(AmpError::shim("reading TF32")),
    }
}
