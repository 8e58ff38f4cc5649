//! The loop's glue under `torchrun`: every rank starts from rank 0's weights, gradients and
//! logged values are combined over the ranks so that every rank takes the same decisions,
//! each rank's data position is gathered into rank 0's checkpoint and handed back on resume,
//! and the weights digest lets ranks (and tests) compare their final weights.

use std::collections::BTreeMap;
use std::path::Path;

use distil_data::DataPosition;
use distil_distributed::DataParallel;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::distiller::TOKENS_METRIC;
use crate::error::TrainError;
use crate::optim::AdamW;

/// The variables of `vs` in name order (the same order on every rank).
fn sorted_variables(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables
}

/// Overwrites every rank's weights with rank 0's.
pub(super) fn broadcast_weights(dp: &DataParallel, vs: &VarStore) -> Result<(), TrainError> {
    let variables: Vec<Tensor> = sorted_variables(vs).into_iter().map(|(_, t)| t).collect();
    Ok(dp.broadcast_parameters(&variables)?)
}

/// Replaces each trained parameter's gradient by its mean over the ranks.
pub(super) fn average_gradients(dp: &DataParallel, optimizer: &AdamW) -> Result<(), TrainError> {
    let params: Vec<Tensor> = optimizer.params().map(Tensor::shallow_clone).collect();
    Ok(dp.average_gradients(&params)?)
}

/// Metrics that differ between ranks (the rest, such as the learning rate and the norm of the
/// averaged gradients, are equal on every rank already).
fn rank_local(metric: &str) -> bool {
    metric.starts_with("losses/") || metric == TOKENS_METRIC
}

/// Averages the rank-local metrics over the ranks (tokens per second are summed: the job's
/// throughput), so that every rank sees the same values and takes the same NaN decision; also
/// returns whether any rank asked to stop.
pub(super) fn average_over_ranks(
    dp: &DataParallel,
    metrics: &mut BTreeMap<String, f64>,
    stop_requested: bool,
) -> Result<bool, TrainError> {
    let mut values: Vec<f64> = metrics
        .iter()
        .filter(|(k, _)| rank_local(k))
        .map(|(_, v)| *v)
        .collect();
    values.push(f64::from(u8::from(stop_requested)));
    let sums = all_reduce_sum(dp, &values)?;
    let world = dp.world_size() as f64;
    let local = metrics.iter_mut().filter(|(k, _)| rank_local(k));
    for ((key, value), sum) in local.zip(&sums) {
        *value = if key == TOKENS_METRIC {
            *sum
        } else {
            sum / world
        };
    }
    Ok(sums.last().is_some_and(|&stops| stops > 0.0))
}

/// Whether every rank has `ready` set (one tiny all-reduce).
pub(super) fn all_ranks(dp: &DataParallel, ready: bool) -> Result<bool, TrainError> {
    let ready = all_reduce_sum(dp, &[f64::from(u8::from(ready))])?;
    Ok(ready[0] == dp.world_size() as f64)
}

/// `values` summed over the ranks (a float64 tensor on the backend's device).
fn all_reduce_sum(dp: &DataParallel, values: &[f64]) -> Result<Vec<f64>, TrainError> {
    let mut tensor = Tensor::from_slice(values).to_device(dp.device());
    dp.group().all_reduce_sum(&mut tensor)?;
    let tensor = tensor.to_device(Device::Cpu).to_kind(Kind::Double);
    Ok((0..values.len() as i64)
        .map(|i| tensor.double_value(&[i]))
        .collect())
}

/// Every rank's data position in rank order, on rank 0 (`None` on the other ranks); `key`
/// must be new for each gather. `checkpoints` names the folder in errors.
pub(super) fn gather_positions(
    dp: &DataParallel,
    key: &str,
    position: &serde_json::Value,
    checkpoints: &Path,
) -> Result<Option<Vec<serde_json::Value>>, TrainError> {
    let Some(gathered) = dp
        .group()
        .gather_bytes(key, position.to_string().as_bytes())?
    else {
        return Ok(None);
    };
    let positions = gathered
        .iter()
        .map(|bytes| serde_json::from_slice(bytes))
        .collect::<Result<_, _>>()
        .map_err(|source| TrainError::State {
            path: checkpoints.to_path_buf(),
            source,
        })?;
    Ok(Some(positions))
}

/// Rank `rank`'s entry of a restored list of per-rank data positions (`Null` before the first
/// checkpoint); the list must have one entry per rank of this run.
pub(super) fn rank_position(
    positions: &serde_json::Value,
    rank: usize,
    world_size: usize,
    checkpoints: &Path,
) -> Result<Option<DataPosition>, TrainError> {
    let found = match positions {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Array(positions) => positions,
        _ => {
            return Err(TrainError::RankPositions {
                path: checkpoints.to_path_buf(),
                found: 1,
                world_size,
            })
        }
    };
    if found.len() != world_size {
        return Err(TrainError::RankPositions {
            path: checkpoints.to_path_buf(),
            found: found.len(),
            world_size,
        });
    }
    serde_json::from_value(found[rank].clone())
        .map(Some)
        .map_err(|source| TrainError::State {
            path: checkpoints.to_path_buf(),
            source,
        })
}

/// FNV-1a over the variables' names and fp32 bytes in name order: equal digests mean equal
/// weights, bit for bit.
pub(super) fn weights_digest(vs: &VarStore) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, tensor) in sorted_variables(vs) {
        feed(name.as_bytes());
        let values = Vec::<f32>::try_from(
            tensor
                .detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .reshape([-1]),
        )
        .unwrap_or_default();
        for value in values {
            feed(&value.to_le_bytes());
        }
    }
    format!("{hash:016x}")
}
