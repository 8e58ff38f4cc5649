//! What a training loop holds under `torchrun`: the joined group, the rank's device and the
//! bucket size, with the three calls a data-parallel step makes.

use tch::{Device, Tensor};

use crate::buckets::{average_gradients, broadcast_parameters};
use crate::{Backend, DistributedConfig, DistributedError, ProcessGroup, World};

#[derive(Debug)]
pub struct DataParallel {
    group: ProcessGroup,
    bucket_bytes: usize,
}

impl DataParallel {
    /// Joins the job described by the `torchrun` environment (Gloo for a CPU `device`, NCCL on
    /// `cuda:LOCAL_RANK` for a CUDA one), or `None` outside `torchrun`.
    pub fn from_env(
        device: Device,
        config: &DistributedConfig,
    ) -> Result<Option<Self>, DistributedError> {
        config.validate()?;
        let Some(world) = World::from_env()? else {
            return Ok(None);
        };
        let backend = Backend::for_device(device, &world);
        let group = ProcessGroup::join(&world, backend, config.timeout())?;
        log::info!(
            "rank {} of {} joined {}:{} ({backend:?})",
            world.rank,
            world.world_size,
            world.master_addr,
            world.master_port
        );
        Ok(Some(DataParallel {
            group,
            bucket_bytes: config.bucket_bytes(),
        }))
    }

    pub fn group(&self) -> &ProcessGroup {
        &self.group
    }

    pub fn rank(&self) -> usize {
        self.group.rank()
    }

    pub fn world_size(&self) -> usize {
        self.group.world_size()
    }

    /// Only rank 0 logs, writes TensorBoard and checkpoints.
    pub fn is_root(&self) -> bool {
        self.group.is_root()
    }

    /// The device this rank trains on: its backend's (`cuda:LOCAL_RANK` under NCCL).
    pub fn device(&self) -> Device {
        self.group.backend().device()
    }

    /// Call once before training: every rank takes rank 0's weights.
    pub fn broadcast_parameters(&self, parameters: &[Tensor]) -> Result<(), DistributedError> {
        broadcast_parameters(&self.group, parameters, self.bucket_bytes)
    }

    /// Call after the last backward of an optimizer step, before unscaling and clipping.
    pub fn average_gradients(&self, parameters: &[Tensor]) -> Result<(), DistributedError> {
        average_gradients(&self.group, parameters, self.bucket_bytes)
    }
}
