//! `at::autocast` as an RAII guard: inside it, ops on the autocast lists run in the chosen
//! lower precision (matmuls, linear, SDPA) or in fp32 (losses, reductions), whatever the dtype
//! of the weights; fp32 master weights stay fp32. Entering and leaving follow
//! `torch.autocast.__enter__` / `__exit__`, so guards nest and the weight-cast cache is
//! dropped when the outermost one ends (the weights change at the next optimizer step).

use std::ffi::c_int;
use std::marker::PhantomData;

use tch::Device;

use crate::error::AmpError;
use crate::ffi;

/// The device type whose autocast state a guard sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutocastDevice {
    Cpu,
    Cuda,
}

impl AutocastDevice {
    /// The autocast device type of a tch device (CUDA of any index shares one state).
    pub fn of(device: Device) -> Result<Self, AmpError> {
        match device {
            Device::Cpu => Ok(AutocastDevice::Cpu),
            Device::Cuda(_) => Ok(AutocastDevice::Cuda),
            _ => Err(AmpError::Unsupported {
                device: "this device",
                dtype: "any dtype",
                reason: "autocast is offered on the CPU and CUDA only",
            }),
        }
    }

    fn code(self) -> c_int {
        match self {
            AutocastDevice::Cpu => 0,
            AutocastDevice::Cuda => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AutocastDevice::Cpu => "the CPU",
            AutocastDevice::Cuda => "CUDA",
        }
    }
}

/// The lower precision autocast runs its matmuls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutocastDtype {
    BFloat16,
    /// CUDA only (it needs a loss scale, which runs on CUDA AMP kernels).
    Half,
}

impl AutocastDtype {
    fn code(self) -> c_int {
        match self {
            AutocastDtype::BFloat16 => 0,
            AutocastDtype::Half => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AutocastDtype::BFloat16 => "bf16",
            AutocastDtype::Half => "fp16",
        }
    }
}

/// Autocast on for one device type until dropped, then the previous state back. Autocast
/// state is thread-local in libtorch, so the guard cannot leave its thread.
pub struct AutocastGuard {
    device: AutocastDevice,
    prev_enabled: c_int,
    /// -1 when the previous dtype was one the shim does not name (left as it is).
    prev_dtype: c_int,
    prev_cache: c_int,
    _thread_bound: PhantomData<*const ()>,
}

impl AutocastGuard {
    /// Enables autocast for `device` in `dtype` on this thread.
    pub fn enter(device: AutocastDevice, dtype: AutocastDtype) -> Result<Self, AmpError> {
        if device == AutocastDevice::Cpu && dtype == AutocastDtype::Half {
            return Err(AmpError::Unsupported {
                device: device.name(),
                dtype: dtype.name(),
                reason: "fp16 training needs CUDA's loss scaling; use bf16 on the CPU",
            });
        }
        let (mut prev_enabled, mut prev_dtype, mut prev_cache) = (0, 0, 0);
        // SAFETY: the pointers are to live locals the shim writes once; codes are in range.
        let rc = unsafe {
            ffi::distil_amp_autocast_state(
                device.code(),
                &mut prev_enabled,
                &mut prev_dtype,
                &mut prev_cache,
            )
        };
        if rc != 0 {
            return Err(AmpError::shim("reading the autocast state"));
        }
        // SAFETY: plain integer arguments; the shim catches every C++ exception.
        if unsafe { ffi::distil_amp_autocast_enter(device.code(), dtype.code()) } != 0 {
            return Err(AmpError::shim("entering autocast"));
        }
        Ok(Self {
            device,
            prev_enabled,
            prev_dtype,
            prev_cache,
            _thread_bound: PhantomData,
        })
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // SAFETY: plain integer arguments; the shim catches every C++ exception. The codes
        // were accepted on entry, so leaving cannot fail on them and there is nothing to
        // report from a destructor.
        unsafe {
            ffi::distil_amp_autocast_exit(
                self.device.code(),
                self.prev_enabled,
                self.prev_dtype,
                self.prev_cache,
            );
        }
    }
}
