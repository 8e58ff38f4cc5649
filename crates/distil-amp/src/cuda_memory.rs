//! Peak CUDA memory as the caching allocator counts it (`torch.cuda.max_memory_allocated` and
//! `max_memory_reserved`): what a step needs, which peak RSS cannot see on a GPU.

use std::ffi::c_int;

use crate::error::AmpError;
use crate::ffi;

/// Peak bytes since the process started or the last [`reset_cuda_peak_memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaPeakMemory {
    /// Held by tensors.
    pub allocated_bytes: i64,
    /// Held by the caching allocator (allocated plus cached free blocks).
    pub reserved_bytes: i64,
}

impl CudaPeakMemory {
    pub fn allocated_mib(&self) -> f64 {
        self.allocated_bytes as f64 / (1024.0 * 1024.0)
    }

    pub fn reserved_mib(&self) -> f64 {
        self.reserved_bytes as f64 / (1024.0 * 1024.0)
    }
}

/// The peaks of CUDA device `index`.
pub fn cuda_peak_memory(index: usize) -> Result<CudaPeakMemory, AmpError> {
    let (mut allocated, mut reserved) = (0i64, 0i64);
    // SAFETY: both pointers are to live locals the shim writes once.
    let rc = unsafe {
        ffi::distil_amp_cuda_peak_memory(device_index(index)?, &mut allocated, &mut reserved)
    };
    match rc {
        0 => Ok(CudaPeakMemory {
            allocated_bytes: allocated,
            reserved_bytes: reserved,
        }),
        _ => Err(AmpError::shim("reading the CUDA memory peaks")),
    }
}

/// Starts the peaks of CUDA device `index` again from the current usage.
pub fn reset_cuda_peak_memory(index: usize) -> Result<(), AmpError> {
    // SAFETY: plain integer argument; the shim catches every C++ exception.
    match unsafe { ffi::distil_amp_cuda_reset_peak_memory(device_index(index)?) } {
        0 => Ok(()),
        _ => Err(AmpError::shim("resetting the CUDA memory peaks")),
    }
}

/// Returns the caching allocator's free blocks to the driver (`torch.cuda.empty_cache`), so
/// that the next reserved peak counts only what follows.
pub fn empty_cuda_cache() -> Result<(), AmpError> {
    // SAFETY: no arguments; the shim catches every C++ exception.
    match unsafe { ffi::distil_amp_cuda_empty_cache() } {
        0 => Ok(()),
        _ => Err(AmpError::shim("emptying the CUDA cache")),
    }
}

fn device_index(index: usize) -> Result<c_int, AmpError> {
    c_int::try_from(index).map_err(|_| AmpError::Shim {
        operation: "choosing the CUDA device",
        message: format!("device index {index} is out of range"),
    })
}
