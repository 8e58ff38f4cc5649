//! Shared building blocks of distil: transformer layers, devices, model sources (local
//! directory or Hugging Face Hub id) and HF-compatible checkpoint IO.

pub mod checkpoint;
pub mod config;
pub mod device;
pub mod error;
pub mod fs;
pub mod model;
pub mod nn;
pub mod process;
pub mod source;

pub use device::DeviceSpec;
pub use error::CoreError;
pub use model::{AttentionProjections, EncoderInput, EncoderOutput, LanguageModel, Objective};
pub use source::ModelSource;
