//! The data-parallel step's two collectives over a model's parameters, done on flat buckets:
//! c10d reads a list of tensors as one per device, and one large message per bucket is what
//! makes ring all-reduce efficient.

use tch::Tensor;

use crate::{DistributedError, ProcessGroup};

/// Consecutive runs of `tensors` (by index) whose total size stays within `bucket_bytes`
/// (a tensor larger than that gets a bucket of its own), split also where the dtype changes.
fn buckets(tensors: &[Tensor], bucket_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, tensor) in tensors.iter().enumerate() {
        let size = tensor.numel() * tensor.kind().elt_size_in_bytes();
        let kind_changes = i > start && tensor.kind() != tensors[start].kind();
        if i > start && (bytes + size > bucket_bytes || kind_changes) {
            ranges.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < tensors.len() {
        ranges.push(start..tensors.len());
    }
    ranges
}

/// Runs `collective` on each bucket of `tensors` flattened into one contiguous tensor, then
/// copies the result back into the tensors.
fn on_buckets(
    tensors: &[Tensor],
    bucket_bytes: usize,
    mut collective: impl FnMut(&mut Tensor) -> Result<(), DistributedError>,
) -> Result<(), DistributedError> {
    for range in buckets(tensors, bucket_bytes) {
        let views: Vec<Tensor> = tensors[range.clone()]
            .iter()
            .map(|t| t.reshape([-1]))
            .collect();
        let mut flat = Tensor::cat(&views, 0);
        collective(&mut flat)?;
        let mut offset = 0;
        for tensor in &tensors[range] {
            let n = tensor.numel() as i64;
            let mut target = tensor.shallow_clone();
            target.copy_(&flat.narrow(0, offset, n).view_as(tensor));
            offset += n;
        }
    }
    Ok(())
}

/// Gives every rank rank 0's values of `parameters` (call once, before training, so all ranks
/// start from the same weights).
pub fn broadcast_parameters(
    group: &ProcessGroup,
    parameters: &[Tensor],
    bucket_bytes: usize,
) -> Result<(), DistributedError> {
    tch::no_grad(|| on_buckets(parameters, bucket_bytes, |flat| group.broadcast(flat, 0)))
}

/// Replaces each parameter's gradient with its mean over the ranks (call after backward,
/// before clipping and the optimiser step). A parameter with no gradient on this rank counts
/// as a zero gradient, so every rank sends buckets of the same layout.
pub fn average_gradients(
    group: &ProcessGroup,
    parameters: &[Tensor],
    bucket_bytes: usize,
) -> Result<(), DistributedError> {
    let world = group.world_size() as f64;
    give_missing_gradients(parameters);
    tch::no_grad(|| {
        let grads: Vec<Tensor> = parameters.iter().map(Tensor::grad).collect();
        on_buckets(&grads, bucket_bytes, |flat| {
            group.all_reduce_sum(flat)?;
            // Dividing the sum gives the gradient of the mean of the ranks' losses.
            let _ = flat.g_div_scalar_(world);
            Ok(())
        })
    })
}

/// Gives a zero gradient to each parameter that has none (tch cannot assign `.grad`, so a
/// backward through `0 * sum(p)` creates it).
fn give_missing_gradients(parameters: &[Tensor]) {
    let missing: Vec<&Tensor> = parameters.iter().filter(|p| !p.grad().defined()).collect();
    if let Some(total) = missing
        .iter()
        .map(|p| p.sum(p.kind()) * 0.0)
        .reduce(|a, b| a + b)
    {
        total.backward();
    }
}

/// Bytes one all-reduce of `parameters`' gradients moves into each rank's buckets.
pub fn gradient_bytes(parameters: &[Tensor]) -> usize {
    parameters
        .iter()
        .map(|p| p.numel() * p.kind().elt_size_in_bytes())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn buckets_respect_the_size_cap_and_dtype() {
        let t = |n: i64, kind: Kind| Tensor::zeros([n], (kind, tch::Device::Cpu));
        // f32: 10 elements = 40 bytes.
        let tensors = [
            t(10, Kind::Float),
            t(10, Kind::Float),
            t(10, Kind::Float),
            t(100, Kind::Float),
            t(10, Kind::Half),
            t(10, Kind::Float),
        ];
        assert_eq!(buckets(&tensors, 80), vec![0..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(buckets(&tensors, 1 << 20), vec![0..4, 4..5, 5..6]);
        assert_eq!(gradient_bytes(&tensors[..2]), 80);
    }
}
