//! Evaluation of a frozen encoder's representations, with nothing fine-tuned: zero-shot STS
//! (the cosine of two sentences' pooled vectors against human similarity scores) and a linear
//! probe on a GLUE classification task (a logistic regression on pooled vectors). Both take
//! any model `distil_models::AnyModel` loads and are deterministic.

pub mod encoder;
pub mod error;
pub mod logistic;
pub mod pooling;
pub mod probe;
pub mod sts;

pub use encoder::SentenceEncoder;
pub use error::RepresentationError;
pub use logistic::{LogisticOptions, LogisticRegression};
pub use pooling::Pooling;
pub use probe::{linear_probe, LinearProbe, ProbeOptions, ProbeScore, Standardizer};
pub use sts::{sts_zero_shot, StsOptions, StsScore};
