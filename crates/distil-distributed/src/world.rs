//! This process's place in the job, read from the environment `torchrun` sets.

use std::env;

use crate::DistributedError;

/// Rank, size and rendezvous point of a `torchrun` job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    pub rank: usize,
    pub world_size: usize,
    /// Rank within this machine: the CUDA device this rank drives.
    pub local_rank: usize,
    pub master_addr: String,
    pub master_port: u16,
    /// `TORCHELASTIC_USE_AGENT_STORE=True`: torchrun's agent already hosts the TCPStore on
    /// `MASTER_PORT`, so every rank is a client; otherwise rank 0 hosts it.
    pub agent_store: bool,
}

impl World {
    /// The world of a `torchrun` worker, or `None` for a plain process (neither `RANK` nor
    /// `WORLD_SIZE` set).
    pub fn from_env() -> Result<Option<World>, DistributedError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// As [`World::from_env`], reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<World>, DistributedError> {
        let (rank, world_size) = match (lookup("RANK"), lookup("WORLD_SIZE")) {
            (None, None) => return Ok(None),
            (Some(rank), Some(size)) => (
                parse::<usize>("RANK", &rank)?,
                parse::<usize>("WORLD_SIZE", &size)?,
            ),
            (Some(rank), None) => return Err(missing("WORLD_SIZE", "RANK", rank)),
            (None, Some(size)) => return Err(missing("RANK", "WORLD_SIZE", size)),
        };
        if world_size == 0 || rank >= world_size {
            return Err(DistributedError::Env {
                var: "RANK",
                value: rank.to_string(),
                reason: format!("must be below WORLD_SIZE={world_size} (and WORLD_SIZE >= 1)"),
            });
        }
        let local_rank = match lookup("LOCAL_RANK") {
            Some(value) => parse::<usize>("LOCAL_RANK", &value)?,
            None => 0,
        };
        let master_addr = lookup("MASTER_ADDR").ok_or_else(|| DistributedError::Env {
            var: "MASTER_ADDR",
            value: String::new(),
            reason: "required with RANK and WORLD_SIZE (run under torchrun)".to_string(),
        })?;
        let port = lookup("MASTER_PORT").ok_or_else(|| DistributedError::Env {
            var: "MASTER_PORT",
            value: String::new(),
            reason: "required with RANK and WORLD_SIZE (run under torchrun)".to_string(),
        })?;
        let master_port = parse::<u16>("MASTER_PORT", &port)?;
        Ok(Some(World {
            rank,
            world_size,
            local_rank,
            master_addr,
            master_port,
            agent_store: lookup("TORCHELASTIC_USE_AGENT_STORE").as_deref() == Some("True"),
        }))
    }

    /// Whether this rank hosts the TCPStore.
    pub fn hosts_store(&self) -> bool {
        !self.agent_store && self.rank == 0
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }
}

fn parse<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, DistributedError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| DistributedError::Env {
            var,
            value: value.to_string(),
            reason: e.to_string(),
        })
}

fn missing(var: &'static str, other: &str, value: String) -> DistributedError {
    DistributedError::Env {
        var,
        value: String::new(),
        reason: format!("{other}={value} is set but {var} is not (run under torchrun)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(vars: &[(&str, &str)]) -> Result<Option<World>, DistributedError> {
        World::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn plain_process_has_no_world() {
        assert_eq!(world(&[]).unwrap(), None);
    }

    #[test]
    fn torchrun_variables_give_the_world() {
        let vars = [
            ("RANK", "3"),
            ("WORLD_SIZE", "16"),
            ("LOCAL_RANK", "3"),
            ("MASTER_ADDR", "node0"),
            ("MASTER_PORT", "29500"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"),
        ];
        let found = world(&vars).unwrap().unwrap();
        assert_eq!(
            found,
            World {
                rank: 3,
                world_size: 16,
                local_rank: 3,
                master_addr: "node0".to_string(),
                master_port: 29500,
                agent_store: true,
            }
        );
        assert!(!found.hosts_store());
        let own_store = world(&vars[..5]).unwrap().unwrap();
        assert!(!own_store.agent_store);
        assert!(!own_store.hosts_store());
    }

    #[test]
    fn bad_variables_are_named() {
        let message = |vars: &[(&str, &str)]| world(vars).unwrap_err().to_string();
        assert!(message(&[("RANK", "0")]).contains("WORLD_SIZE"));
        let rank_too_big = [
            ("RANK", "2"),
            ("WORLD_SIZE", "2"),
            ("MASTER_ADDR", "a"),
            ("MASTER_PORT", "1"),
        ];
        assert!(message(&rank_too_big).contains("below WORLD_SIZE=2"));
        let bad_port = [
            ("RANK", "0"),
            ("WORLD_SIZE", "2"),
            ("MASTER_ADDR", "a"),
            ("MASTER_PORT", "70000"),
        ];
        assert!(message(&bad_port).contains("MASTER_PORT=\"70000\""));
        assert!(message(&[("RANK", "0"), ("WORLD_SIZE", "2")]).contains("MASTER_ADDR"));
    }
}
