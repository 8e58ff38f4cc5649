//! Where and in which dtype the step's autocast region runs, checked once when the step is
//! built so that a refused combination (fp16 on the CPU) fails before any batch.

use distil_amp::{AmpError, AutocastDevice, AutocastDtype, AutocastGuard};
use tch::Device;

/// The autocast region of a mixed-precision step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepAutocast {
    pub(crate) device: AutocastDevice,
    pub(crate) dtype: AutocastDtype,
}

impl StepAutocast {
    /// Autocast in `dtype` for the models on `device`; errors if libtorch or this crate does
    /// not offer it there.
    pub fn new(device: Device, dtype: AutocastDtype) -> Result<Self, AmpError> {
        let device = AutocastDevice::of(device)?;
        // Entering once checks the combination; the guard restores the state at once.
        drop(AutocastGuard::enter(device, dtype)?);
        Ok(Self { device, dtype })
    }
}
