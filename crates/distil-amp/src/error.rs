//! Errors of the AMP controls: a refused combination, or a C++ exception caught in the shim.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AmpError {
    #[error("autocast in {dtype} is not offered on {device}: {reason}")]
    Unsupported {
        device: &'static str,
        dtype: &'static str,
        reason: &'static str,
    },
    #[error("{operation} failed in libtorch: {message}")]
    Shim {
        operation: &'static str,
        message: String,
    },
}

impl AmpError {
    /// The error of a failed shim call, with the message the shim kept for this thread.
    pub(crate) fn shim(operation: &'static str) -> Self {
        AmpError::Shim {
            operation,
            message: crate::ffi::last_error(),
        }
    }
}
