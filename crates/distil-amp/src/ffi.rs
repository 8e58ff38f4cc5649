//! The `extern "C"` functions of `shim/amp_shim.cpp`. Each returns 0 on success; otherwise
//! `distil_amp_last_error` holds the C++ exception's message for the calling thread.

use std::ffi::{c_char, c_int, c_void};

extern "C" {
    fn distil_amp_last_error() -> *const c_char;
    pub(crate) fn distil_amp_autocast_state(
        device: c_int,
        enabled: *mut c_int,
        dtype: *mut c_int,
        cache_enabled: *mut c_int,
    ) -> c_int;
    pub(crate) fn distil_amp_autocast_enter(device: c_int, dtype: c_int) -> c_int;
    pub(crate) fn distil_amp_autocast_exit(
        device: c_int,
        prev_enabled: c_int,
        prev_dtype: c_int,
        prev_cache: c_int,
    ) -> c_int;
    pub(crate) fn distil_amp_inference_mode_enter(guard: *mut *mut c_void) -> c_int;
    pub(crate) fn distil_amp_inference_mode_exit(guard: *mut c_void) -> c_int;
    pub(crate) fn distil_amp_set_tf32(enabled: c_int) -> c_int;
    pub(crate) fn distil_amp_tf32(cublas: *mut c_int, cudnn: *mut c_int) -> c_int;
    pub(crate) fn distil_amp_cuda_peak_memory(
        index: c_int,
        allocated: *mut i64,
        reserved: *mut i64,
    ) -> c_int;
    pub(crate) fn distil_amp_cuda_reset_peak_memory(index: c_int) -> c_int;
    pub(crate) fn distil_amp_cuda_empty_cache() -> c_int;
}

/// The message of the last failed shim call on this thread.
pub(crate) fn last_error() -> String {
    // SAFETY: the shim returns a pointer into a thread-local std::string that lives until the
    // next shim call on this thread; it is copied out at once.
    unsafe {
        let message = distil_amp_last_error();
        if message.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(message)
            .to_string_lossy()
            .into_owned()
    }
}
