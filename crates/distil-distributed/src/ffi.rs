//! The `extern "C"` functions of `shim/c10d_shim.cpp`. Handles are opaque; tensors are the
//! `at::Tensor*` that tch's `Tensor::as_ptr` returns. Every function returns 0 (or a non-null
//! handle) on success; otherwise `distil_c10d_last_error` holds the C++ exception's message
//! for the calling thread.

use std::ffi::{c_char, c_int, c_void};

use tch::Tensor;

/// tch's own alias for `at::Tensor`.
pub(crate) type CTensor = torch_sys::C_tensor;

extern "C" {
    pub(crate) fn distil_c10d_last_error() -> *const c_char;
    pub(crate) fn distil_c10d_init(
        host: *const c_char,
        port: u16,
        rank: c_int,
        world_size: c_int,
        is_server: c_int,
        timeout_ms: i64,
        cuda_device: c_int,
    ) -> *mut c_void;
    pub(crate) fn distil_c10d_free(group: *mut c_void);
    pub(crate) fn distil_c10d_all_reduce_sum(group: *mut c_void, tensor: *mut CTensor) -> c_int;
    pub(crate) fn distil_c10d_broadcast(
        group: *mut c_void,
        tensor: *mut CTensor,
        root: c_int,
    ) -> c_int;
    pub(crate) fn distil_c10d_barrier(group: *mut c_void) -> c_int;
    pub(crate) fn distil_c10d_store_set(
        group: *mut c_void,
        key: *const c_char,
        value: *const u8,
        len: usize,
    ) -> c_int;
    pub(crate) fn distil_c10d_store_get(
        group: *mut c_void,
        key: *const c_char,
        value: *mut *mut u8,
        len: *mut usize,
    ) -> c_int;
    pub(crate) fn distil_c10d_free_bytes(value: *mut u8);
}

/// The message of the last failed shim call on this thread.
pub(crate) fn last_error() -> String {
    // SAFETY: the shim returns a pointer into a thread-local std::string that lives until the
    // next shim call on this thread; it is copied out at once.
    unsafe {
        let message = distil_c10d_last_error();
        if message.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(message)
            .to_string_lossy()
            .into_owned()
    }
}

/// The `at::Tensor*` behind a tch tensor, for a call that writes into its storage in place.
pub(crate) fn tensor_ptr(tensor: &mut Tensor) -> *mut CTensor {
    tensor.as_mut_ptr()
}
