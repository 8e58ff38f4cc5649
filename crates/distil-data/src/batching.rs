//! Length-grouped batching as the reference's `GroupedBatchSampler`: lengths fall into buckets
//! with edges 3, 7, 11, ... below the maximum length; a bucket becomes a batch as soon as it is
//! full; at the end of an epoch the leftovers are joined in bucket order and cut into batches.
//! With grouping off there is a single bucket, which is plain sequential batching.

use serde::{Deserialize, Serialize};

use crate::config::BatchSize;

/// Where a row lives: (shard index in the manifest, row index in the shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowRef(pub u32, pub u64);

/// A sequence of token ids and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub at: RowRef,
    pub ids: Vec<u32>,
}

/// Collects rows into batches.
#[derive(Debug, Clone)]
pub struct Batcher {
    size: BatchSize,
    /// Bucket edges; empty when grouping is off.
    edges: Vec<usize>,
    buckets: Vec<Vec<Row>>,
}

impl Batcher {
    pub fn new(size: BatchSize, group_by_size: bool, max_seq_len: usize) -> Self {
        let edges: Vec<usize> = if group_by_size {
            (3..max_seq_len).step_by(4).collect()
        } else {
            Vec::new()
        };
        Batcher {
            size,
            buckets: vec![Vec::new(); edges.len() + 1],
            edges,
        }
    }

    /// The reference's `bisect_right(edges, length)`.
    fn bucket_of(&self, len: usize) -> usize {
        self.edges.partition_point(|&edge| edge <= len)
    }

    /// Whether `rows` (non-empty) can take `next` within the batch size.
    fn fits(&self, rows: &[Row], next: &Row) -> bool {
        match self.size {
            BatchSize::Sequences(n) => rows.len() < n,
            BatchSize::Tokens(budget) => {
                let longest = rows.iter().map(|r| r.ids.len()).max().unwrap_or(0);
                (rows.len() + 1) * longest.max(next.ids.len()) <= budget
            }
        }
    }

    fn is_full(&self, rows: &[Row]) -> bool {
        matches!(self.size, BatchSize::Sequences(n) if rows.len() >= n)
    }

    /// Adds a row; returns a batch when its bucket fills.
    pub fn push(&mut self, row: Row) -> Option<Vec<Row>> {
        let bucket = self.bucket_of(row.ids.len());
        let mut emitted = None;
        if !self.buckets[bucket].is_empty() && !self.fits(&self.buckets[bucket], &row) {
            emitted = Some(std::mem::take(&mut self.buckets[bucket]));
        }
        self.buckets[bucket].push(row);
        if emitted.is_none() && self.is_full(&self.buckets[bucket]) {
            emitted = Some(std::mem::take(&mut self.buckets[bucket]));
        }
        emitted
    }

    /// The next end-of-epoch batch from the leftovers, taken in bucket order; `None` when all
    /// buckets are empty.
    pub fn next_leftover(&mut self) -> Option<Vec<Row>> {
        let mut batch: Vec<Row> = Vec::new();
        for b in 0..self.buckets.len() {
            let mut taken = 0;
            while taken < self.buckets[b].len() {
                let row = &self.buckets[b][taken];
                if !batch.is_empty() && !self.fits(&batch, row) {
                    break;
                }
                batch.push(row.clone());
                taken += 1;
            }
            let bucket_done = taken == self.buckets[b].len();
            self.buckets[b].drain(..taken);
            if !bucket_done || self.is_full(&batch) {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// Where the rows waiting in each bucket live.
    pub fn pending(&self) -> Vec<Vec<RowRef>> {
        self.buckets
            .iter()
            .map(|b| b.iter().map(|r| r.at).collect())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(Vec::is_empty)
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Puts rows back into bucket `bucket` (when resuming from a saved position).
    pub fn restore(&mut self, bucket: usize, rows: Vec<Row>) {
        self.buckets[bucket] = rows;
    }
}
