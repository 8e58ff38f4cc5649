//! GLUE: the nine tasks, their TSV readers, features, metrics and submission files.

pub mod features;
pub mod metrics;
pub mod predictions;
pub mod reader;
pub mod task;

pub use features::{ClassificationBatch, GlueEncoder, GlueFeature, GlueFeatureConfig};
pub use reader::{GlueExample, GlueLabel};
pub use task::{GlueSplit, GlueTask};
