//! Sharded checkpoints: a `*.index.json` whose `weight_map` names the shard file of each key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use tch::Tensor;

use super::{read_tensors, CheckpointError};

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// Reads every shard an index names (each a file beside the index) into one tensor map.
pub(crate) fn read_sharded(index: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let malformed = |reason: String| CheckpointError::Config {
        path: index.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(index).map_err(|e| CheckpointError::io(index, e))?;
    let parsed: ShardIndex =
        serde_json::from_str(&text).map_err(|e| malformed(format!("invalid shard index: {e}")))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let shards: BTreeSet<&String> = parsed.weight_map.values().collect();
    let mut tensors = BTreeMap::new();
    for shard in shards {
        // Shards live beside the index; a path elsewhere would let an index read any file.
        if shard.contains(['/', '\\']) || shard.ends_with(".index.json") || shard == ".." {
            return Err(malformed(format!("shard `{shard}` is not a file name")));
        }
        tensors.extend(read_tensors(&dir.join(shard))?);
    }
    if let Some((key, shard)) = parsed
        .weight_map
        .iter()
        .find(|(key, _)| !tensors.contains_key(*key))
    {
        return Err(malformed(format!("`{key}` is not in its shard `{shard}`")));
    }
    Ok(tensors)
}
