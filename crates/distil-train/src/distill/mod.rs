//! `distil distill`: the teacher and student, the triple loss, the optimizer loop, logging,
//! checkpoints, exact resume and the final HF export, driven by a [`crate::DistillConfig`].

mod data_parallel;
mod distiller;
pub mod models;
mod plan;

pub use distiller::{DistillOptions, DistillOutcome, Distiller};
pub use plan::{RunLength, RunPlan};
