//! The batch stream: seeded, length-grouped or token-budget batches covering every row once
//! per epoch, exact resume from a saved position, the prefetch thread, and shards cut short.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use distil_core::Objective;
use distil_data::{
    BatchLoader, BatchSize, BatchStream, Batcher, DataConfig, DataPosition, Row, RowRef,
};

/// Shards from 600 book lines, in several shards of about 3000 tokens.
fn shards(dir: &Path) -> distil_data::Manifest {
    let txt = dir.join("c.txt");
    std::fs::write(&txt, book_lines(600).join("\n")).unwrap();
    let mut opts = options(vec![txt], &dir.join("shards"));
    opts.shard_tokens = 3000;
    prep(&opts)
}

fn config(dir: &Path) -> DataConfig {
    DataConfig {
        shards: dir.join("shards"),
        batch_size: Some(8),
        shuffle_buffer: 64,
        ..DataConfig::default()
    }
}

/// [`config`] with another shuffling and masking seed.
fn config_with_seed(dir: &Path, seed: u64) -> DataConfig {
    DataConfig {
        seed,
        ..config(dir)
    }
}

#[test]
fn grouped_batching_follows_the_reference_sampler() {
    let row = |i: u64, len: usize| Row {
        at: RowRef(0, i),
        ids: vec![7; len],
    };
    let mut batcher = Batcher::new(BatchSize::Sequences(2), true, 512);
    let lens = [12, 13, 20, 14, 21, 30];
    let emitted: Vec<Vec<u64>> = lens
        .iter()
        .enumerate()
        .filter_map(|(i, &len)| batcher.push(row(i as u64, len)))
        .map(|b| b.iter().map(|r| r.at.1).collect())
        .collect();
    // 12, 13, 14 share bucket [11, 15); 20, 21 share [19, 23); 30 is alone.
    assert_eq!(emitted, vec![vec![0, 1], vec![2, 4]]);
    // Leftovers joined in bucket order: 14 then 30.
    let left: Vec<u64> = batcher
        .next_leftover()
        .unwrap()
        .iter()
        .map(|r| r.at.1)
        .collect();
    assert_eq!(left, vec![3, 5]);
    assert!(batcher.next_leftover().is_none());
}

#[test]
fn an_epoch_covers_every_row_once_in_grouped_batches() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = shards(dir.path());
    assert!(manifest.shards.len() >= 3);
    let mut expected = shard_rows(&dir.path().join("shards"));
    expected.sort();
    let mut stream = BatchStream::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    let bucket = |r: &Vec<u32>| (r.len() + 1) / 4;
    let mut epoch = Vec::new();
    loop {
        let item = stream.next_batch().unwrap();
        assert_eq!(item.epoch, 0);
        epoch.push(originals(&item.rows));
        if item.position.epoch == 1 {
            break;
        }
    }
    // Batches hold one bucket of width 4 until the end-of-epoch leftovers, which come joined
    // in bucket order.
    let mixed = |rows: &Vec<Vec<u32>>| rows.iter().any(|r| bucket(r) != bucket(&rows[0]));
    let first_mixed = epoch.iter().position(mixed).unwrap_or(epoch.len());
    assert!(
        epoch.len() - first_mixed < 20,
        "{first_mixed} of {}",
        epoch.len()
    );
    let leftovers: Vec<usize> = epoch[first_mixed..].iter().flatten().map(bucket).collect();
    assert!(leftovers.windows(2).all(|w| w[0] <= w[1]), "{leftovers:?}");
    let batches = epoch.len();
    let mut seen: Vec<Vec<u32>> = epoch.into_iter().flatten().collect();
    seen.sort();
    assert_eq!(seen, expected);
    assert_eq!(batches, expected.len().div_ceil(8));
}

#[test]
fn token_budget_batches_stay_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    shards(dir.path());
    let config = DataConfig {
        batch_size: None,
        max_tokens: Some(1024),
        ..config(dir.path())
    };
    let mut stream = BatchStream::open(&config, None, Objective::MaskedLm).unwrap();
    for _ in 0..60 {
        let item = stream.next_batch().unwrap();
        assert!(item.rows.batch * item.rows.len <= 1024);
    }
    let small = DataConfig {
        max_tokens: Some(100),
        ..config
    };
    let err = BatchStream::open(&small, None, Objective::MaskedLm)
        .err()
        .unwrap();
    assert!(err.to_string().contains("data.max_tokens"), "{err}");
}

#[test]
fn the_same_seed_gives_the_same_batches() {
    let dir = tempfile::tempdir().unwrap();
    shards(dir.path());
    let mut a = BatchStream::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    let mut b = BatchStream::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    let mut c =
        BatchStream::open(&config_with_seed(dir.path(), 57), None, Objective::MaskedLm).unwrap();
    let mut differs = false;
    for _ in 0..100 {
        let (x, y, z) = (
            a.next_batch().unwrap(),
            b.next_batch().unwrap(),
            c.next_batch().unwrap(),
        );
        assert_eq!(x.rows, y.rows);
        assert_eq!(x.position, y.position);
        differs |= x.rows != z.rows;
    }
    assert!(differs, "another seed gave the same batches");
}

#[test]
fn a_resumed_stream_yields_exactly_the_uninterrupted_batches() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = shards(dir.path());
    let per_epoch = (manifest.rows as usize).div_ceil(8);
    let mut full = BatchStream::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    let items: Vec<_> = (0..per_epoch + 40)
        .map(|_| full.next_batch().unwrap())
        .collect();
    // Stop mid-shard, mid-epoch, and right at the end of the first epoch.
    for stop in [0, 17, per_epoch / 2, per_epoch - 3, per_epoch - 1] {
        let saved = serde_json::to_string(&items[stop].position).unwrap();
        let position: DataPosition = serde_json::from_str(&saved).unwrap();
        let mut resumed =
            BatchStream::open(&config(dir.path()), Some(&position), Objective::MaskedLm).unwrap();
        for expected in &items[stop + 1..] {
            let item = resumed.next_batch().unwrap();
            assert_eq!(item.rows, expected.rows, "resumed after batch {stop}");
            assert_eq!(item.epoch, expected.epoch);
            assert_eq!(item.position, expected.position);
        }
    }
    assert_eq!(items[per_epoch - 1].position.epoch, 1);
    // A position is refused on other data or with another seed.
    let other = config_with_seed(dir.path(), 1);
    let err = BatchStream::open(&other, Some(&items[3].position), Objective::MaskedLm)
        .err()
        .unwrap();
    assert!(err.to_string().contains("data.seed"), "{err}");
}

#[test]
fn the_prefetch_loader_hands_over_the_stream_batches_as_tensors() {
    let dir = tempfile::tempdir().unwrap();
    shards(dir.path());
    let mut stream = BatchStream::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    let loader = BatchLoader::open(&config(dir.path()), None, Objective::MaskedLm).unwrap();
    for loaded in loader.take(20) {
        let loaded = loaded.unwrap();
        let expected = stream.next_batch().unwrap();
        let flat = |t: &tch::Tensor| Vec::<i64>::try_from(t.flatten(0, -1)).unwrap();
        assert_eq!(flat(&loaded.batch.input_ids), expected.rows.input_ids);
        assert_eq!(flat(&loaded.batch.labels), expected.rows.labels);
        assert_eq!(
            flat(&loaded.batch.attention_mask),
            expected.rows.attention_mask
        );
        assert_eq!(loaded.position, expected.position);
    }
}

#[test]
fn a_shard_cut_short_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = shards(dir.path());
    let shard = dir.path().join("shards").join(&manifest.shards[0].file);
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() / 2]).unwrap();
    let config = DataConfig {
        shuffle_buffer: 100_000,
        ..config(dir.path())
    };
    let mut stream = BatchStream::open(&config, None, Objective::MaskedLm).unwrap();
    let err = stream.next_batch().unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&manifest.shards[0].file) && message.contains("cut short"),
        "{message}"
    );
    // A loader ends with the same error instead of panicking.
    let mut loader = BatchLoader::open(&config, None, Objective::MaskedLm).unwrap();
    assert!(loader.next().unwrap().is_err());
    assert!(loader.next().is_none());
    // Without a manifest the directory is not taken for shards.
    std::fs::remove_file(dir.path().join("shards/manifest.json")).unwrap();
    assert!(BatchStream::open(&config, None, Objective::MaskedLm)
        .err()
        .unwrap()
        .to_string()
        .contains("manifest.json"));
}
