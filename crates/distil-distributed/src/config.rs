//! The `distributed:` section of a run config. It only matters under `torchrun`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::DistributedError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributedConfig {
    /// How long a rendezvous, a store read or a collective may wait for the other ranks before
    /// this rank gives up with an error (torch.distributed's default: 30 minutes).
    pub timeout_secs: f64,
    /// Gradients are all-reduced in flat buckets of at most this many MiB (DDP's default: 25).
    pub bucket_mib: f64,
}

impl Default for DistributedConfig {
    fn default() -> Self {
        DistributedConfig {
            timeout_secs: 1800.0,
            bucket_mib: 25.0,
        }
    }
}

impl DistributedConfig {
    pub fn validate(&self) -> Result<(), DistributedError> {
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err(DistributedError::Config {
                key: "distributed.timeout_secs",
                reason: format!(
                    "must be a number of seconds > 0, found {}",
                    self.timeout_secs
                ),
            });
        }
        if !(self.bucket_mib.is_finite() && self.bucket_mib > 0.0) {
            return Err(DistributedError::Config {
                key: "distributed.bucket_mib",
                reason: format!("must be > 0, found {}", self.bucket_mib),
            });
        }
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }

    pub fn bucket_bytes(&self) -> usize {
        (self.bucket_mib * 1024.0 * 1024.0) as usize
    }
}
