//! Test support shared by more than one crate of the workspace (a dev-dependency only): where
//! the committed fixtures are, comparisons against reference outputs, the checks of a model
//! against what `transformers` computed, and the environment of a `torchrun` rank.
//!
//! Like the tests it serves, it panics on a missing or corrupt fixture rather than returning
//! errors.

// A failed fixture read is a failed test, said where it happened.
#![allow(clippy::unwrap_used)]

pub mod compare;
pub mod encoder_only;
pub mod errors;
pub mod files;
pub mod hf_parity;
pub mod paths;
pub mod ranks;

pub use compare::{assert_close, max_abs_diff};
pub use encoder_only::encoder_only_teacher;
pub use errors::error_chain;
pub use files::read_json;
pub use paths::{fixture, fixture_arg, fixtures_dir, repo_path, vocab_dir};
pub use ranks::{free_port, torchrun_rank};
