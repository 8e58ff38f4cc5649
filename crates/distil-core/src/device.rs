//! Parsing of the global `--device` option.

use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device};

use crate::CoreError;

/// A device as the user names it: `cpu`, `cuda`, `cuda:N` or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
    #[default]
    Auto,
}

impl DeviceSpec {
    /// Resolves to a concrete device; `auto` picks the first GPU when one is visible.
    pub fn resolve(self) -> Result<Device, CoreError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Auto => Ok(Device::cuda_if_available()),
            DeviceSpec::Cuda(index) => {
                let count = if Cuda::is_available() {
                    Cuda::device_count() as usize
                } else {
                    0
                };
                if index < count {
                    Ok(Device::Cuda(index))
                } else {
                    Err(CoreError::DeviceUnavailable {
                        spec: self.to_string(),
                        reason: format!("libtorch sees {count} CUDA device(s)"),
                    })
                }
            }
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "auto" => Ok(DeviceSpec::Auto),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| CoreError::InvalidDevice(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceSpec::Auto => write!(f, "auto"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!("cpu".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cpu));
        assert_eq!("CUDA".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cuda(0)));
        assert_eq!(
            "cuda:3".parse::<DeviceSpec>().ok(),
            Some(DeviceSpec::Cuda(3))
        );
        assert_eq!("auto".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Auto));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert!("tpu".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cpu_resolves_and_missing_gpu_is_an_error() {
        assert_eq!(DeviceSpec::Cpu.resolve().ok(), Some(Device::Cpu));
        let beyond = DeviceSpec::Cuda(1000).resolve();
        assert!(matches!(beyond, Err(CoreError::DeviceUnavailable { .. })));
    }
}
