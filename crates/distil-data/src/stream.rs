//! The epoch stream: shards in a seeded order per epoch, a streaming shuffle buffer, the
//! batcher and the batches' targets (masking, or the next token). After every batch the stream can say exactly where it is
//! ([`DataPosition`]), and a stream opened at that position yields the same batches that the
//! uninterrupted one would have.

use std::collections::HashMap;
use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batch::BatchRows;
use crate::batching::{Batcher, Row, RowRef};
use crate::config::{BatchSize, DataConfig, Partition};
use crate::manifest::Manifest;
use crate::shard::{verify_shard, ShardRows};
use crate::targets::BatchTargets;
use crate::DataError;
use distil_core::Objective;

/// Everything needed to continue a stream exactly where it stopped. Rows already read but not
/// yet batched are stored by reference and read again on resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPosition {
    /// Fingerprint of the shard checksums the position belongs to.
    pub corpus: String,
    pub seed: u64,
    pub epoch: u64,
    /// Index into this epoch's shard order of the shard being read.
    pub shard: usize,
    /// The next row of that shard.
    pub row: u64,
    pub shuffle_buffer: Vec<RowRef>,
    /// Rows waiting in each length bucket.
    pub buckets: Vec<Vec<RowRef>>,
    /// Word positions of the shuffle (per-epoch) and masking RNG streams.
    pub shuffle_rng: u128,
    pub mask_rng: u128,
    /// The data-parallel share the stream read (positions saved before sharding: the whole).
    #[serde(default)]
    pub partition: Partition,
}

/// One batch with its targets, the epoch it belongs to and the position right after it.
#[derive(Debug)]
pub struct StreamItem {
    pub rows: BatchRows,
    pub epoch: u64,
    pub position: DataPosition,
}

/// RNG stream of the masking draws; epoch `e` shuffles with stream `e + 1`.
const MASK_STREAM: u64 = 0;

/// The masking stream of a data-parallel rank: rank 0 keeps the single-process stream, the
/// others count down from the top, far from the epoch streams.
fn mask_stream(partition: Partition) -> u64 {
    match partition.rank as u64 {
        0 => MASK_STREAM,
        rank => u64::MAX - (rank - 1),
    }
}

fn epoch_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch + 1);
    rng
}

/// A synchronous, endless stream of batches over the shards, epoch after epoch.
pub struct BatchStream {
    dir: PathBuf,
    manifest: Manifest,
    fingerprint: String,
    seed: u64,
    shuffle_capacity: usize,
    targets: BatchTargets,
    batcher: Batcher,
    verified: Vec<bool>,
    epoch: u64,
    order: Vec<usize>,
    /// Rows of this epoch's reading order before each of its shards.
    first_row: Vec<u64>,
    partition: Partition,
    shard: usize,
    row: u64,
    reader: Option<ShardRows>,
    shuffle: Vec<Row>,
    shuffle_rng: ChaCha8Rng,
    mask_rng: ChaCha8Rng,
}

impl BatchStream {
    /// Opens the shards of `config.shards`, at the start or at a saved position, with the
    /// targets `objective` needs.
    pub fn open(
        config: &DataConfig,
        start: Option<&DataPosition>,
        objective: Objective,
    ) -> Result<Self, DataError> {
        config.validate()?;
        let dir = config.shards.clone();
        let manifest = Manifest::load(&dir)?;
        if manifest.rows == 0 {
            return Err(DataError::Manifest {
                path: dir,
                reason: "the shards hold no rows".to_string(),
            });
        }
        if let BatchSize::Tokens(budget) = config.batch_size() {
            if budget < manifest.max_seq_len {
                return Err(DataError::config(
                    "data.max_tokens",
                    format!(
                        "{budget} is below the shards' maximum length {}",
                        manifest.max_seq_len
                    ),
                ));
            }
        }
        let counts = manifest.token_counts(&dir)?;
        let targets = BatchTargets::new(
            objective,
            &config.masking,
            &counts,
            &manifest.special_tokens,
        )?;
        let batcher = Batcher::new(
            config.batch_size(),
            config.group_by_size,
            manifest.max_seq_len,
        );
        let mut mask_rng = ChaCha8Rng::seed_from_u64(config.seed);
        mask_rng.set_stream(mask_stream(config.partition));
        let mut stream = BatchStream {
            fingerprint: manifest.fingerprint(),
            verified: vec![false; manifest.shards.len()],
            dir,
            manifest,
            seed: config.seed,
            shuffle_capacity: config.shuffle_buffer,
            targets,
            batcher,
            epoch: 0,
            order: Vec::new(),
            first_row: Vec::new(),
            partition: config.partition,
            shard: 0,
            row: 0,
            reader: None,
            shuffle: Vec::new(),
            shuffle_rng: epoch_rng(config.seed, 0),
            mask_rng,
        };
        stream.start_epoch(0);
        if let Some(position) = start {
            stream.restore(position)?;
        }
        Ok(stream)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn targets(&self) -> &BatchTargets {
        &self.targets
    }

    /// Shard order of an epoch: a permutation drawn first from the epoch's RNG stream.
    fn start_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.shuffle_rng = epoch_rng(self.seed, epoch);
        self.order = (0..self.manifest.shards.len()).collect();
        self.order.shuffle(&mut self.shuffle_rng);
        self.first_row = self
            .order
            .iter()
            .scan(0, |rows, &shard| {
                let first = *rows;
                *rows += self.manifest.shards[shard].rows;
                Some(first)
            })
            .collect();
        self.shard = 0;
        self.row = 0;
        self.reader = None;
    }

    pub fn position(&self) -> DataPosition {
        DataPosition {
            corpus: self.fingerprint.clone(),
            seed: self.seed,
            epoch: self.epoch,
            shard: self.shard,
            row: self.row,
            shuffle_buffer: self.shuffle.iter().map(|r| r.at).collect(),
            buckets: self.batcher.pending(),
            shuffle_rng: self.shuffle_rng.get_word_pos(),
            mask_rng: self.mask_rng.get_word_pos(),
            partition: self.partition,
        }
    }

    fn restore(&mut self, position: &DataPosition) -> Result<(), DataError> {
        let refuse = |reason: String| Err(DataError::Position { reason });
        if position.corpus != self.fingerprint {
            return refuse(format!(
                "it belongs to shards {}, {} holds shards {}",
                position.corpus,
                self.dir.display(),
                self.fingerprint
            ));
        }
        if position.seed != self.seed {
            return refuse(format!(
                "it was saved with data.seed {}, the config has {}",
                position.seed, self.seed
            ));
        }
        if position.partition != self.partition {
            return refuse(format!(
                "it was saved by rank {} of {} ranks, this is rank {} of {} (resume with the \
                 same world size and that rank's position)",
                position.partition.rank,
                position.partition.world_size,
                self.partition.rank,
                self.partition.world_size
            ));
        }
        if position.buckets.len() != self.batcher.bucket_count() {
            return refuse(format!(
                "it has {} length buckets, this batching has {} (data.group_by_size changed?)",
                position.buckets.len(),
                self.batcher.bucket_count()
            ));
        }
        if position.shard > self.manifest.shards.len() {
            return refuse(format!("shard index {} is out of range", position.shard));
        }
        self.start_epoch(position.epoch);
        self.shard = position.shard;
        self.row = position.row;
        self.shuffle_rng.set_word_pos(position.shuffle_rng);
        self.mask_rng.set_word_pos(position.mask_rng);
        let wanted = position
            .shuffle_buffer
            .iter()
            .chain(position.buckets.iter().flatten());
        let mut rows = self.read_rows(wanted.copied().collect())?;
        let mut take = |at: &RowRef| {
            rows.remove(at)
                .map(|ids| Row { at: *at, ids })
                .ok_or_else(|| DataError::Position {
                    reason: format!("row {} of shard {} does not exist", at.1, at.0),
                })
        };
        self.shuffle = position
            .shuffle_buffer
            .iter()
            .map(&mut take)
            .collect::<Result<_, _>>()?;
        for (b, refs) in position.buckets.iter().enumerate() {
            let bucket = refs.iter().map(&mut take).collect::<Result<_, _>>()?;
            self.batcher.restore(b, bucket);
        }
        Ok(())
    }

    /// Reads the given rows, one pass per shard that holds any of them.
    fn read_rows(
        &mut self,
        mut wanted: Vec<RowRef>,
    ) -> Result<HashMap<RowRef, Vec<u32>>, DataError> {
        wanted.sort_unstable();
        let mut found = HashMap::with_capacity(wanted.len());
        for group in wanted.chunk_by(|a, b| a.0 == b.0) {
            let shard = group[0].0 as usize;
            let Some(entry) = self.manifest.shards.get(shard).cloned() else {
                return Err(DataError::Position {
                    reason: format!("shard {shard} is not in the manifest"),
                });
            };
            self.verify(shard)?;
            let first = group[0].1;
            let mut rows = ShardRows::open(&self.dir, &self.manifest, &entry, first)?;
            let mut next = first;
            for at in group {
                while next <= at.1 {
                    let Some(ids) = rows.next().transpose()? else {
                        break;
                    };
                    if next == at.1 {
                        found.insert(*at, ids);
                    }
                    next += 1;
                }
            }
        }
        Ok(found)
    }

    fn verify(&mut self, shard: usize) -> Result<(), DataError> {
        if !self.verified[shard] {
            verify_shard(&self.dir, &self.manifest.shards[shard])?;
            self.verified[shard] = true;
        }
        Ok(())
    }

    /// The next row of this epoch's shards, or `None` when all are read.
    fn next_source_row(&mut self) -> Result<Option<Row>, DataError> {
        while self.shard < self.order.len() {
            let shard = self.order[self.shard];
            if self.reader.is_none() {
                self.verify(shard)?;
                let entry = &self.manifest.shards[shard];
                self.reader = Some(ShardRows::open(&self.dir, &self.manifest, entry, self.row)?);
            }
            if let Some(reader) = self.reader.as_mut() {
                if let Some(ids) = reader.next().transpose()? {
                    let at = RowRef(shard as u32, self.row);
                    let index = self.first_row[self.shard] + self.row;
                    self.row += 1;
                    if self.partition.owns(self.seed, self.epoch, index) {
                        return Ok(Some(Row { at, ids }));
                    }
                    continue;
                }
            }
            self.shard += 1;
            self.row = 0;
            self.reader = None;
        }
        Ok(None)
    }

    /// Whether every row of this epoch has been read (shards are never empty).
    fn source_exhausted(&self) -> bool {
        match self.order.get(self.shard) {
            None => true,
            Some(&shard) => {
                self.shard + 1 == self.order.len() && self.row >= self.manifest.shards[shard].rows
            }
        }
    }

    /// The rows of the next batch of the current epoch, or `None` at its end.
    fn next_rows(&mut self) -> Result<Option<Vec<Row>>, DataError> {
        loop {
            while self.shuffle.len() < self.shuffle_capacity {
                match self.next_source_row()? {
                    Some(row) => self.shuffle.push(row),
                    None => break,
                }
            }
            if self.shuffle.is_empty() {
                return Ok(self.batcher.next_leftover());
            }
            let pick = self.shuffle_rng.random_range(0..self.shuffle.len());
            let row = self.shuffle.swap_remove(pick);
            if let Some(batch) = self.batcher.push(row) {
                return Ok(Some(batch));
            }
        }
    }

    /// The next batch with its targets. At the end of an epoch the stream moves on to the next one, so
    /// the position after an epoch's last batch is the start of the following epoch.
    pub fn next_batch(&mut self) -> Result<StreamItem, DataError> {
        let rows = match self.next_rows()? {
            Some(rows) => rows,
            None => {
                self.start_epoch(self.epoch + 1);
                self.next_rows()?.ok_or_else(|| DataError::Manifest {
                    path: self.dir.clone(),
                    reason: "an epoch over the shards yielded no rows".to_string(),
                })?
            }
        };
        let epoch = self.epoch;
        let ids: Vec<&[u32]> = rows.iter().map(|r| r.ids.as_slice()).collect();
        let batch = self.targets.apply(&ids, &mut self.mask_rng)?;
        if self.source_exhausted() && self.shuffle.is_empty() && self.batcher.is_empty() {
            self.start_epoch(self.epoch + 1);
        }
        Ok(StreamItem {
            rows: batch,
            epoch,
            position: self.position(),
        })
    }
}
