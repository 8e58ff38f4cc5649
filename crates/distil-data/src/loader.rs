//! The background prefetch thread: reads, batches and masks ahead of the trainer and hands
//! over collated CPU tensors through a bounded channel.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::config::DataConfig;
use crate::masking::MlmBatch;
use crate::stream::{DataPosition, MlmStream};
use crate::DataError;

/// A batch for the trainer, the epoch it belongs to and the position right after it (save
/// this with a checkpoint to resume exactly there).
#[derive(Debug)]
pub struct LoadedBatch {
    pub batch: MlmBatch,
    pub epoch: u64,
    pub position: DataPosition,
}

/// An endless iterator of masked batches prepared by a background thread. Dropping it stops
/// the thread.
pub struct MlmLoader {
    receiver: Option<Receiver<Result<LoadedBatch, DataError>>>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MlmLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlmLoader").finish_non_exhaustive()
    }
}

impl MlmLoader {
    /// Opens the shards of `config` (at `start` when resuming) and starts prefetching
    /// `config.prefetch` batches ahead.
    pub fn open(config: &DataConfig, start: Option<&DataPosition>) -> Result<Self, DataError> {
        let stream = MlmStream::open(config, start)?;
        let (sender, receiver) = crossbeam_channel::bounded(config.prefetch);
        let worker = std::thread::Builder::new()
            .name("distil-data-prefetch".to_string())
            .spawn(move || prefetch(stream, sender))
            .map_err(DataError::PrefetchThread)?;
        Ok(MlmLoader {
            receiver: Some(receiver),
            worker: Some(worker),
        })
    }
}

fn prefetch(mut stream: MlmStream, sender: Sender<Result<LoadedBatch, DataError>>) {
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

impl Iterator for MlmLoader {
    type Item = Result<LoadedBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for MlmLoader {
    fn drop(&mut self) {
        // Closing the channel makes the worker's next send fail, so it returns.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
