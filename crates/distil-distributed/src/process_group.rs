//! A c10d process group: the TCPStore rendezvous and a Gloo or NCCL backend, as
//! `torch.distributed.init_process_group("env://")` builds them.

use std::ffi::{c_int, c_void, CString};
use std::ptr::NonNull;
use std::time::Duration;

use tch::{Device, Tensor};

use crate::ffi;
use crate::world::World;
use crate::DistributedError;

/// Which c10d backend runs the collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// CPU tensors over TCP.
    Gloo,
    /// CUDA tensors on this CUDA device (needs the `nccl` feature).
    Nccl { device: usize },
}

impl Backend {
    /// Gloo for CPU training, NCCL on the rank's own GPU (`LOCAL_RANK`) for CUDA training.
    pub fn for_device(device: Device, world: &World) -> Self {
        match device {
            Device::Cuda(_) => Backend::Nccl {
                device: world.local_rank,
            },
            _ => Backend::Gloo,
        }
    }

    /// The device this backend's tensors live on.
    pub fn device(self) -> Device {
        match self {
            Backend::Gloo => Device::Cpu,
            Backend::Nccl { device } => Device::Cuda(device),
        }
    }
}

/// A joined process group. Dropping it leaves the group.
pub struct ProcessGroup {
    handle: NonNull<c_void>,
    rank: usize,
    world_size: usize,
    backend: Backend,
    timeout: Duration,
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl ProcessGroup {
    /// Meets the other ranks at `MASTER_ADDR:MASTER_PORT` and builds the backend. Fails with
    /// [`DistributedError::Rendezvous`] when the store cannot be reached or the other ranks do
    /// not arrive within `timeout`.
    pub fn join(
        world: &World,
        backend: Backend,
        timeout: Duration,
    ) -> Result<Self, DistributedError> {
        let rendezvous = |message: String| DistributedError::Rendezvous {
            rank: world.rank,
            world_size: world.world_size,
            addr: world.master_addr.clone(),
            port: world.master_port,
            timeout_secs: timeout.as_secs_f64(),
            message,
        };
        if matches!(backend, Backend::Nccl { .. }) && !cfg!(feature = "nccl") {
            return Err(DistributedError::Unsupported(
                "CUDA training under torchrun needs NCCL: build distil with `--features nccl` \
                 (CUDA and NCCL headers required), or train on the CPU with Gloo"
                    .to_string(),
            ));
        }
        let host = CString::new(world.master_addr.as_str())
            .map_err(|_| rendezvous("MASTER_ADDR holds a NUL byte".to_string()))?;
        let cuda_device = match backend {
            Backend::Gloo => -1,
            Backend::Nccl { device } => device as c_int,
        };
        // SAFETY: `host` is a valid NUL-terminated string for the duration of the call; the
        // shim copies it and catches every C++ exception, returning null on failure.
        let handle = unsafe {
            ffi::distil_c10d_init(
                host.as_ptr(),
                world.master_port,
                world.rank as c_int,
                world.world_size as c_int,
                c_int::from(world.hosts_store()),
                timeout.as_millis().min(i64::MAX as u128) as i64,
                cuda_device,
            )
        };
        let handle = NonNull::new(handle).ok_or_else(|| rendezvous(ffi::last_error()))?;
        Ok(ProcessGroup {
            handle,
            rank: world.rank,
            world_size: world.world_size,
            backend,
            timeout,
        })
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn world_size(&self) -> usize {
        self.world_size
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Sums `tensor` over all ranks, in place. It must be contiguous and on the backend's
    /// device.
    pub fn all_reduce_sum(&self, tensor: &mut Tensor) -> Result<(), DistributedError> {
        self.check_tensor("all_reduce", tensor)?;
        let ptr = ffi::tensor_ptr(tensor);
        // SAFETY: the handle is live (owned by self) and `ptr` is tch's `at::Tensor*`, valid
        // while `tensor` is borrowed; the shim writes only into the tensor's storage.
        let rc = unsafe { ffi::distil_c10d_all_reduce_sum(self.handle.as_ptr(), ptr) };
        self.collective("all_reduce", rc)
    }

    /// Overwrites `tensor` on every rank with `root`'s.
    pub fn broadcast(&self, tensor: &mut Tensor, root: usize) -> Result<(), DistributedError> {
        self.check_tensor("broadcast", tensor)?;
        let ptr = ffi::tensor_ptr(tensor);
        // SAFETY: as in `all_reduce_sum`.
        let rc = unsafe { ffi::distil_c10d_broadcast(self.handle.as_ptr(), ptr, root as c_int) };
        self.collective("broadcast", rc)
    }

    /// Returns once every rank has called it.
    pub fn barrier(&self) -> Result<(), DistributedError> {
        // SAFETY: the handle is live (owned by self).
        let rc = unsafe { ffi::distil_c10d_barrier(self.handle.as_ptr()) };
        self.collective("barrier", rc)
    }

    /// Collects one byte string from every rank on rank 0 (through the TCPStore, so the
    /// strings may differ in length): rank 0 gets them in rank order, the others `None`.
    /// `key` must be new for every call (a step number, say).
    pub fn gather_bytes(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> Result<Option<Vec<Vec<u8>>>, DistributedError> {
        self.store_set(&format!("{key}/{}", self.rank), bytes)?;
        if !self.is_root() {
            return Ok(None);
        }
        (0..self.world_size)
            .map(|rank| self.store_get(&format!("{key}/{rank}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn store_set(&self, key: &str, value: &[u8]) -> Result<(), DistributedError> {
        let key = self.store_key(key)?;
        // SAFETY: `key` and `value` are valid for the call; the shim copies both.
        let rc = unsafe {
            ffi::distil_c10d_store_set(
                self.handle.as_ptr(),
                key.as_ptr(),
                value.as_ptr(),
                value.len(),
            )
        };
        self.collective("store set", rc)
    }

    fn store_get(&self, key: &str) -> Result<Vec<u8>, DistributedError> {
        let key = self.store_key(key)?;
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: the out-pointers are valid locals; on success the shim has allocated `len`
        // bytes at `data`, which are copied and then released with the shim's own deallocator.
        unsafe {
            let rc =
                ffi::distil_c10d_store_get(self.handle.as_ptr(), key.as_ptr(), &mut data, &mut len);
            self.collective("store get", rc)?;
            let value = std::slice::from_raw_parts(data, len).to_vec();
            ffi::distil_c10d_free_bytes(data);
            Ok(value)
        }
    }

    fn store_key(&self, key: &str) -> Result<CString, DistributedError> {
        CString::new(key)
            .map_err(|_| self.failure("store", format!("key {key:?} holds a NUL byte")))
    }

    fn check_tensor(
        &self,
        operation: &'static str,
        tensor: &Tensor,
    ) -> Result<(), DistributedError> {
        if !tensor.is_contiguous() {
            return Err(self.failure(operation, "the tensor is not contiguous".to_string()));
        }
        if tensor.device() != self.backend.device() {
            return Err(self.failure(
                operation,
                format!(
                    "the tensor is on {:?}, the {:?} backend works on {:?}",
                    tensor.device(),
                    self.backend,
                    self.backend.device()
                ),
            ));
        }
        Ok(())
    }

    fn collective(&self, operation: &'static str, rc: c_int) -> Result<(), DistributedError> {
        match rc {
            0 => Ok(()),
            _ => Err(self.failure(operation, ffi::last_error())),
        }
    }

    fn failure(&self, operation: &'static str, message: String) -> DistributedError {
        DistributedError::Collective {
            rank: self.rank,
            operation,
            timeout_secs: self.timeout.as_secs_f64(),
            message,
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the handle came from `distil_c10d_init` and is freed exactly once, here.
        unsafe { ffi::distil_c10d_free(self.handle.as_ptr()) }
    }
}
