//! Per-step metrics summed on the device and read once per log interval, so the training loop
//! never waits for the GPU between logs.

use std::collections::BTreeMap;

use tch::{Kind, Tensor};

/// Device-side sums of named scalars.
#[derive(Default)]
pub struct RunningMeans {
    sums: Vec<(String, Tensor)>,
    count: u64,
}

impl RunningMeans {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one observation of every named 0-dim tensor (detached, summed in fp32).
    pub fn add<'a>(&mut self, values: impl IntoIterator<Item = (&'a str, &'a Tensor)>) {
        for (name, value) in values {
            let value = value.detach().to_kind(Kind::Float);
            match self.sums.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum = &*sum + value,
                None => self.sums.push((name.to_string(), value)),
            }
        }
        self.count += 1;
    }

    /// Observations since the last [`RunningMeans::take`].
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The means since the last call, read from the device (the one host sync), and a reset.
    pub fn take(&mut self) -> BTreeMap<String, f64> {
        let count = self.count.max(1) as f64;
        self.count = 0;
        std::mem::take(&mut self.sums)
            .into_iter()
            .map(|(name, sum)| (name, sum.double_value(&[]) / count))
            .collect()
    }
}

/// The first metric that is NaN or infinite, to stop a diverged run with its name.
pub fn first_non_finite(metrics: &BTreeMap<String, f64>) -> Option<(&str, f64)> {
    metrics
        .iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(k, v)| (k.as_str(), *v))
}
