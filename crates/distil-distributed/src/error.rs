//! Errors of the distributed layer, each naming the rank and what it was doing.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DistributedError {
    #[error("environment variable {var}={value:?}: {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "rank {rank} of {world_size} could not join the group at {addr}:{port} \
         (timeout {timeout_secs} s): {message}"
    )]
    Rendezvous {
        rank: usize,
        world_size: usize,
        addr: String,
        port: u16,
        timeout_secs: f64,
        message: String,
    },
    #[error("rank {rank}: {operation} failed (a peer died or timed out after {timeout_secs} s): {message}")]
    Collective {
        rank: usize,
        operation: &'static str,
        timeout_secs: f64,
        message: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("distributed config `{key}`: {reason}")]
    Config { key: &'static str, reason: String },
}
