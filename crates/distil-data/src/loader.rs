//! The background prefetch thread: reads, batches and sets targets ahead of the trainer and hands
//! over collated CPU tensors through a bounded channel.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::batch::LmBatch;
use crate::config::DataConfig;
use crate::stream::{BatchStream, DataPosition};
use crate::DataError;
use distil_core::Objective;

/// A batch for the trainer, the epoch it belongs to and the position right after it (save
/// this with a checkpoint to resume exactly there).
#[derive(Debug)]
pub struct LoadedBatch {
    pub batch: LmBatch,
    pub epoch: u64,
    pub position: DataPosition,
}

/// An endless iterator of batches with their targets, prepared by a background thread.
/// Dropping it stops the thread.
pub struct BatchLoader {
    receiver: Option<Receiver<Result<LoadedBatch, DataError>>>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for BatchLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLoader").finish_non_exhaustive()
    }
}

impl BatchLoader {
    /// Opens the shards of `config` (at `start` when resuming) with `objective`'s targets and
    /// starts prefetching `config.prefetch` batches ahead.
    pub fn open(
        config: &DataConfig,
        start: Option<&DataPosition>,
        objective: Objective,
    ) -> Result<Self, DataError> {
        let stream = BatchStream::open(config, start, objective)?;
        let (sender, receiver) = crossbeam_channel::bounded(config.prefetch);
        let worker = std::thread::Builder::new()
            .name("distil-data-prefetch".to_string())
            .spawn(move || prefetch(stream, sender))
            .map_err(DataError::PrefetchThread)?;
        Ok(BatchLoader {
            receiver: Some(receiver),
            worker: Some(worker),
        })
    }
}

fn prefetch(mut stream: BatchStream, sender: Sender<Result<LoadedBatch, DataError>>) {
    loop {
        let item = stream.next_batch().map(|item| LoadedBatch {
            batch: item.rows.into_batch(),
            epoch: item.epoch,
            position: item.position,
        });
        let failed = item.is_err();
        // A send fails once the loader is dropped; an error ends the stream.
        if sender.send(item).is_err() || failed {
            return;
        }
    }
}

impl Iterator for BatchLoader {
    type Item = Result<LoadedBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Closing the channel makes the worker's next send fail, so it returns.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
