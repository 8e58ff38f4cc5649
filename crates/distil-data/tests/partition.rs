//! Data-parallel partitions: the ranks of a world read disjoint shares that together cover
//! every row of an epoch once, the split changes with the epoch, and a saved position belongs
//! to one rank of one world size.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use distil_core::Objective;
use distil_data::{BatchStream, DataConfig, Partition};

fn config(dir: &Path, rank: usize, world_size: usize) -> DataConfig {
    let txt = dir.join("c.txt");
    if !txt.exists() {
        std::fs::write(&txt, book_lines(600).join("\n")).unwrap();
        let mut opts = options(vec![txt], &dir.join("shards"));
        opts.shard_tokens = 3000;
        prep(&opts);
    }
    DataConfig {
        shards: dir.join("shards"),
        batch_size: Some(8),
        shuffle_buffer: 64,
        partition: Partition { rank, world_size },
        ..DataConfig::default()
    }
}

/// The sorted rows of each of the first `epochs` epochs of one stream.
fn epochs(config: &DataConfig, epochs: u64) -> Vec<Vec<Vec<u32>>> {
    let mut stream = BatchStream::open(config, None, Objective::MaskedLm).unwrap();
    let mut seen = vec![Vec::new(); epochs as usize];
    loop {
        let item = stream.next_batch().unwrap();
        if item.epoch == epochs {
            break;
        }
        seen[item.epoch as usize].extend(originals(&item.rows));
    }
    for rows in &mut seen {
        rows.sort();
    }
    seen
}

#[test]
fn ranks_read_disjoint_shares_that_cover_each_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let whole = epochs(&config(dir.path(), 0, 1), 1).remove(0);
    let rank0 = epochs(&config(dir.path(), 0, 2), 2);
    let rank1 = epochs(&config(dir.path(), 1, 2), 2);
    for epoch in 0..2 {
        let (a, b) = (&rank0[epoch], &rank1[epoch]);
        assert!(a.len().abs_diff(b.len()) <= 1, "{} vs {}", a.len(), b.len());
        let mut union: Vec<Vec<u32>> = a.iter().chain(b).cloned().collect();
        union.sort();
        assert_eq!(union, whole, "epoch {epoch}");
    }
    // The split is drawn again each epoch.
    assert_ne!(rank0[0], rank0[1]);
}

#[test]
fn a_position_resumes_only_the_same_rank_of_the_same_world() {
    let dir = tempfile::tempdir().unwrap();
    let mut stream =
        BatchStream::open(&config(dir.path(), 1, 2), None, Objective::MaskedLm).unwrap();
    let position = stream.next_batch().unwrap().position;
    assert_eq!(
        position.partition,
        Partition {
            rank: 1,
            world_size: 2
        }
    );
    let mut resumed = BatchStream::open(
        &config(dir.path(), 1, 2),
        Some(&position),
        Objective::MaskedLm,
    )
    .unwrap();
    let next = stream.next_batch().unwrap();
    assert_eq!(
        originals(&resumed.next_batch().unwrap().rows),
        originals(&next.rows)
    );
    for (rank, world_size) in [(0, 2), (1, 3)] {
        let err = BatchStream::open(
            &config(dir.path(), rank, world_size),
            Some(&position),
            Objective::MaskedLm,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("saved by rank 1 of 2 ranks"), "{err}");
    }
}
