//! The benchmark harness behind `distil bench`: measurements that are commands, not tests.
//! Each benchmark takes plain options, prints its table and optionally writes a JSON report.

pub mod infer;
pub mod machine;
pub mod prep;
pub mod random_models;
pub mod step;

pub use infer::{InferBenchOptions, InferReport};
pub use machine::{BenchOutputs, Machine};
pub use prep::PrepBenchOptions;
pub use random_models::{ModelShapes, RandomModels};
pub use step::{StepBenchOptions, StepPrecision, StepReport};
