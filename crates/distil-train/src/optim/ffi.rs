//! The `extern "C"` functions of `shim/optim_shim.cpp`, behind safe wrappers over tch tensors.
//! tch 0.24 generates no bindings for libtorch's `_foreach_*` and `_fused_adamw_` kernels, so
//! this is the one place that reaches them. A failing call panics with libtorch's message, as
//! tch's own non-`f_` tensor methods do: it can only fail on tensors the optimizer itself
//! arranged (mixed devices or dtypes), which is a programming error, not a user's input.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use tch::Tensor;

/// tch's own alias for `at::Tensor`.
type CTensor = torch_sys::C_tensor;

extern "C" {
    fn distil_optim_last_error() -> *const c_char;
    fn distil_optim_foreach_adamw(
        params: *const *const CTensor,
        grads: *const *const CTensor,
        exp_avgs: *const *const CTensor,
        exp_avg_sqs: *const *const CTensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        step: i64,
    ) -> c_int;
    fn distil_optim_fused_adamw(
        params: *const *const CTensor,
        grads: *const *const CTensor,
        exp_avgs: *const *const CTensor,
        exp_avg_sqs: *const *const CTensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        step: *const CTensor,
    ) -> c_int;
    fn distil_optim_clip_grad_norm(
        grads: *const *const CTensor,
        n: usize,
        max_norm: f64,
        norm_out: *mut *mut CTensor,
    ) -> c_int;
}

/// Parallel lists of one AdamW parameter group: each parameter with its gradient and moments.
pub(crate) struct AdamWTensors<'a> {
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub exp_avgs: &'a [Tensor],
    pub exp_avg_sqs: &'a [Tensor],
}

/// The scalars of one AdamW update of a group.
#[derive(Clone, Copy)]
pub(crate) struct AdamWScalars {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub eps: f64,
}

impl AdamWTensors<'_> {
    /// The four lists as pointer arrays, after checking that they are parallel (the shim
    /// reads `n` entries from each).
    fn pointers(&self) -> [Vec<*const CTensor>; 4] {
        let n = self.params.len();
        assert!(
            self.grads.len() == n && self.exp_avgs.len() == n && self.exp_avg_sqs.len() == n,
            "AdamW tensor lists of different lengths"
        );
        [
            pointers(self.params),
            pointers(self.grads),
            pointers(self.exp_avgs),
            pointers(self.exp_avg_sqs),
        ]
    }
}

/// `torch.optim.AdamW(foreach=True)`'s update of one group at optimizer step `step` (1-based).
pub(crate) fn foreach_adamw(group: &AdamWTensors, s: AdamWScalars, step: i64) {
    let [p, g, m, v] = group.pointers();
    // SAFETY: each array holds `n` pointers to live `at::Tensor`s borrowed from `group` for
    // the duration of the call; the shim copies the handles and keeps none.
    let rc = unsafe {
        distil_optim_foreach_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            p.len(),
            s.lr,
            s.beta1,
            s.beta2,
            s.weight_decay,
            s.eps,
            step,
        )
    };
    check(rc, "foreach AdamW");
}

/// `torch.optim.AdamW(fused=True)`'s update of one group; `step` is a 0-dim float32 tensor on
/// the parameters' device holding the (1-based) step number.
pub(crate) fn fused_adamw(group: &AdamWTensors, s: AdamWScalars, step: &Tensor) {
    let [p, g, m, v] = group.pointers();
    // SAFETY: as in `foreach_adamw`; `step` is borrowed for the call and only read.
    let rc = unsafe {
        distil_optim_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            p.len(),
            s.lr,
            s.beta1,
            s.beta2,
            s.weight_decay,
            s.eps,
            step.as_ptr(),
        )
    };
    check(rc, "fused AdamW");
}

/// Scales `grads` (at least one, on one device) in place to a global L2 norm of at most
/// `max_norm` and returns the norm before clipping, a 0-dim float32 tensor on their device.
pub(crate) fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Tensor {
    let g = pointers(grads);
    let mut norm: *mut CTensor = std::ptr::null_mut();
    // SAFETY: `g` holds `grads.len()` live tensor pointers for the call; on success the shim
    // stores a heap-allocated `at::Tensor` in `norm`, whose ownership passes to tch below.
    let rc = unsafe { distil_optim_clip_grad_norm(g.as_ptr(), g.len(), max_norm, &mut norm) };
    check(rc, "gradient clipping");
    assert!(!norm.is_null(), "gradient clipping returned no norm");
    // SAFETY: `norm` was allocated with `new at::Tensor` by the shim and is owned by no one
    // else; tch frees it with `delete` when the returned tensor drops.
    unsafe { Tensor::from_ptr(norm) }
}

fn pointers(tensors: &[Tensor]) -> Vec<*const CTensor> {
    tensors.iter().map(Tensor::as_ptr).collect()
}

/// Panics with the shim's message when a call failed (see the module doc for why).
fn check(rc: c_int, what: &str) {
    if rc != 0 {
        panic!("{what} failed in libtorch: {}", last_error());
    }
}

/// The message of the last failed shim call on this thread.
fn last_error() -> String {
    // SAFETY: the shim returns a pointer into a thread-local std::string that lives until the
    // next shim call on this thread; it is copied out at once.
    unsafe {
        let message = distil_optim_last_error();
        if message.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(message)
            .to_string_lossy()
            .into_owned()
    }
}
