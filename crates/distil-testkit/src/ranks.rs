//! Starting processes as the ranks of a `torchrun` job on this machine.

use std::net::TcpListener;
use std::process::Command;

/// A TCP port on 127.0.0.1 that was free a moment ago, for a job's rendezvous.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sets the variables `torchrun --nproc-per-node world_size` gives rank `rank`, with the
/// rendezvous on 127.0.0.1:`port`.
pub fn torchrun_rank(
    command: &mut Command,
    rank: usize,
    world_size: usize,
    port: u16,
) -> &mut Command {
    command
        .env("RANK", rank.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("WORLD_SIZE", world_size.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
}
