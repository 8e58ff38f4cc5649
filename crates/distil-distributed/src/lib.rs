//! Data-parallel training on PyTorch's own distributed engine (c10d) from Rust: the world from
//! the `torchrun` environment, a TCPStore rendezvous under the store prefixes
//! `torch.distributed` uses, Gloo on CPU and NCCL on CUDA, and the two operations a
//! data-parallel step needs: rank 0's weights broadcast and gradients averaged in flat buckets.

pub mod buckets;
pub mod config;
pub mod data_parallel;
pub mod error;
mod ffi;
pub mod process_group;
pub mod world;

pub use buckets::{average_gradients, broadcast_parameters, gradient_bytes};
pub use config::DistributedConfig;
pub use data_parallel::DataParallel;
pub use error::DistributedError;
pub use process_group::{Backend, ProcessGroup};
pub use world::World;

/// The folder holding `gloo/` that this build compiled the c10d shim against.
pub const GLOO_INCLUDE_DIR: &str = env!("DISTIL_GLOO_INCLUDE_DIR");
