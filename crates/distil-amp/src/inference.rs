//! `c10::InferenceMode` as an RAII guard (`torch.inference_mode`): inside it grad mode is off
//! and new tensors are inference tensors, which skip version counters and autograd metadata,
//! so forward-only passes do less bookkeeping than under `no_grad`. Such tensors can never
//! take part in autograd later (libtorch refuses them), so the guard belongs only around
//! passes whose outputs are read, never trained on or stored into a VarStore.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr;

use crate::error::AmpError;
use crate::ffi;

/// Inference mode on until dropped, then the previous state back. The state is thread-local
/// in libtorch, so the guard cannot leave its thread; guards nest and must drop innermost
/// first, which Rust scopes give.
pub struct InferenceModeGuard {
    /// The shim's heap-allocated `c10::InferenceMode`, owned by this guard.
    guard: *mut c_void,
    _thread_bound: PhantomData<*const ()>,
}

impl InferenceModeGuard {
    /// Enables inference mode on this thread.
    pub fn enter() -> Result<Self, AmpError> {
        let mut guard = ptr::null_mut();
        // SAFETY: the pointer is to a live local the shim writes once.
        if unsafe { ffi::distil_amp_inference_mode_enter(&mut guard) } != 0 {
            return Err(AmpError::shim("entering inference mode"));
        }
        Ok(Self {
            guard,
            _thread_bound: PhantomData,
        })
    }
}

impl Drop for InferenceModeGuard {
    fn drop(&mut self) {
        // SAFETY: `guard` came from the shim's enter, is owned by this guard alone and is
        // freed once, here, on the thread that created it. Deleting it restores saved
        // thread-local state and cannot fail, so there is nothing to report.
        unsafe {
            ffi::distil_amp_inference_mode_exit(self.guard);
        }
    }
}
