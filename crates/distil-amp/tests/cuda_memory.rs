//! Without a CUDA device the memory peaks are an error that says so, not a crash; with one,
//! allocating a tensor raises the allocated peak and a reset brings it back down.

#![allow(clippy::unwrap_used)] // tests fail loudly

use distil_amp::{cuda_peak_memory, empty_cuda_cache, reset_cuda_peak_memory};
use tch::{Cuda, Device, Kind, Tensor};

#[test]
fn peaks_follow_allocations_or_report_no_device() {
    if !Cuda::is_available() {
        let err = cuda_peak_memory(0).unwrap_err().to_string();
        assert!(err.contains("CUDA"), "{err}");
        assert!(reset_cuda_peak_memory(0).is_err());
        assert!(empty_cuda_cache().is_err());
        return;
    }
    reset_cuda_peak_memory(0).unwrap();
    let before = cuda_peak_memory(0).unwrap();
    let big = Tensor::zeros([64, 1024, 1024], (Kind::Float, Device::Cuda(0)));
    let during = cuda_peak_memory(0).unwrap();
    assert!(during.allocated_bytes >= before.allocated_bytes + 256 * 1024 * 1024);
    assert!(during.reserved_bytes >= during.allocated_bytes);
    drop(big);
    empty_cuda_cache().unwrap();
    reset_cuda_peak_memory(0).unwrap();
    let after = cuda_peak_memory(0).unwrap();
    assert!(after.allocated_bytes < during.allocated_bytes);
    assert!(after.reserved_bytes < during.reserved_bytes);
}
