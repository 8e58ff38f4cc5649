//! The experiments `distil` runs on top of the libraries: the DistilBERT paper's experiment end
//! to end ([`reproduce`]) and the benchmark harness ([`bench`]). Both time encoder passes over
//! the STS-B dev pairs the same way ([`sts_b`]). [`environment`] is what `distil env` reports.

pub mod bench;
pub mod environment;
pub mod reproduce;
pub mod sts_b;
