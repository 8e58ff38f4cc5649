//! Masking matches the reference: ceil(15%) targets over the batch, weights max(count,1)^-0.7
//! with specials at 0, 80/10/10, labels -100 elsewhere, pads and specials never targets.

#![allow(clippy::unwrap_used)]

use distil_data::{BatchRows, Masker, MaskingConfig, MaskingStrategy, SpecialTokens, IGNORE_LABEL};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VOCAB: usize = 1000;

fn specials() -> SpecialTokens {
    SpecialTokens {
        cls: 1,
        sep: 2,
        pad: 0,
        mask: Some(3),
        unk: 4,
        all: vec![0, 1, 2, 3, 4],
    }
}

/// Counts that fall with the id (Zipf-like), so the weights differ a lot between ids.
fn counts() -> Vec<u64> {
    (0..VOCAB as u64).map(|id| 200_000 / (id + 1)).collect()
}

/// Random rows of 12 to 80 tokens, [CLS] ... [SEP], with a few [UNK].
fn random_rows(rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<u32>> {
    (0..n)
        .map(|_| {
            let len = rng.random_range(12..=80);
            let mut row = vec![1];
            for _ in 0..len - 2 {
                row.push(if rng.random::<f64>() < 0.02 {
                    4
                } else {
                    rng.random_range(5..VOCAB as u32)
                });
            }
            row.push(2);
            row
        })
        .collect()
}

fn mask(masker: &Masker, rows: &[Vec<u32>], rng: &mut ChaCha8Rng) -> BatchRows {
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    masker.mask(&refs, rng).unwrap()
}

/// Observed shares over many batches, and the per-id selection counts.
struct Tally {
    tokens: u64,
    targets: u64,
    masked: u64,
    kept: u64,
    random: u64,
    seen: Vec<u64>,
    selected: Vec<u64>,
}

fn tally(config: &MaskingConfig, batches: usize) -> (Tally, Masker) {
    let masker = Masker::new(config, &counts(), &specials()).unwrap();
    let mut data_rng = ChaCha8Rng::seed_from_u64(1);
    let mut mask_rng = ChaCha8Rng::seed_from_u64(2);
    let mut t = Tally {
        tokens: 0,
        targets: 0,
        masked: 0,
        kept: 0,
        random: 0,
        seen: vec![0; VOCAB],
        selected: vec![0; VOCAB],
    };
    for _ in 0..batches {
        let rows = random_rows(&mut data_rng, 32);
        let out = mask(&masker, &rows, &mut mask_rng);
        let mut batch_targets = 0;
        for (b, row) in rows.iter().enumerate() {
            for t_ in 0..out.len {
                let i = b * out.len + t_;
                let original = row.get(t_).copied();
                assert_eq!(out.attention_mask[i], i64::from(original.is_some()));
                let Some(original) = original else {
                    assert_eq!(out.labels[i], IGNORE_LABEL, "a pad was selected");
                    assert_eq!(out.input_ids[i], 0);
                    continue;
                };
                t.tokens += 1;
                t.seen[original as usize] += 1;
                if out.labels[i] == IGNORE_LABEL {
                    assert_eq!(out.input_ids[i], i64::from(original));
                    continue;
                }
                assert!(original > 4, "special token {original} was selected");
                assert_eq!(out.labels[i], i64::from(original));
                batch_targets += 1;
                t.selected[original as usize] += 1;
                match out.input_ids[i] {
                    3 => t.masked += 1,
                    id if id == i64::from(original) => t.kept += 1,
                    _ => t.random += 1,
                }
            }
        }
        if config.strategy == MaskingStrategy::FrequencySmoothed {
            let n: usize = rows.iter().map(Vec::len).sum();
            assert_eq!(batch_targets, (config.mask_prop * n as f64).ceil() as u64);
        }
        t.targets += batch_targets;
    }
    (t, masker)
}

#[test]
fn reference_masking_selects_15_percent_split_80_10_10() {
    let (t, _) = tally(&MaskingConfig::default(), 400);
    let share = t.targets as f64 / t.tokens as f64;
    assert!((share - 0.15).abs() < 0.005, "masked share {share}");
    let of = |n: u64| n as f64 / t.targets as f64;
    // A random replacement equal to the original (1 in 1000) counts as kept: within tolerance.
    assert!((of(t.masked) - 0.8).abs() < 0.01, "mask {}", of(t.masked));
    assert!((of(t.kept) - 0.1).abs() < 0.01, "keep {}", of(t.kept));
    assert!((of(t.random) - 0.1).abs() < 0.01, "rand {}", of(t.random));
}

#[test]
fn smoothed_selection_follows_the_weights() {
    let config = MaskingConfig::default();
    let masker = Masker::new(&config, &counts(), &specials()).unwrap();
    // Weights are max(count,1)^-0.7, specials 0.
    let w = masker.weights();
    assert_eq!(&w[..5], &[0.0; 5]);
    assert!((w[9] - (20_000f64).powf(-0.7)).abs() < 1e-15);
    assert!((w[999] - (200f64).powf(-0.7)).abs() < 1e-15);

    // With a single target per batch the draw is exactly proportional to the weights: a batch
    // of 4 rare (id 999), 40 mid (id 99) and 400 frequent (id 9) tokens selects each id with
    // probability occurrences x weight / total.
    let mut config = MaskingConfig {
        mask_prop: 1e-4,
        ..MaskingConfig::default()
    };
    config.word_mask = 1.0;
    config.word_keep = 0.0;
    config.word_rand = 0.0;
    let masker = Masker::new(&config, &counts(), &specials()).unwrap();
    let mut row = vec![1];
    row.extend(std::iter::repeat_n(999, 4));
    row.extend(std::iter::repeat_n(99, 40));
    row.extend(std::iter::repeat_n(9, 400));
    row.push(2);
    let rows = vec![row];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut picks = [0u64; 3];
    let draws = 20_000;
    for _ in 0..draws {
        let out = mask(&masker, &rows, &mut rng);
        let targets: Vec<i64> = out
            .labels
            .iter()
            .copied()
            .filter(|&l| l != IGNORE_LABEL)
            .collect();
        assert_eq!(targets.len(), 1);
        picks[[999, 99, 9]
            .iter()
            .position(|&id| id == targets[0])
            .unwrap()] += 1;
    }
    let mass = [4.0 * w[999], 40.0 * w[99], 400.0 * w[9]];
    let total: f64 = mass.iter().sum();
    for k in 0..3 {
        let expected = mass[k] / total;
        let observed = picks[k] as f64 / draws as f64;
        // 4 standard errors of a binomial share over 20k draws is below 0.015.
        assert!(
            (observed - expected).abs() < 0.015,
            "id {k}: {observed} vs {expected}"
        );
    }
}

#[test]
fn at_15_percent_rare_tokens_are_selected_more_often_per_occurrence() {
    let (t, masker) = tally(&MaskingConfig::default(), 400);
    let rate = |id: usize| t.selected[id] as f64 / t.seen[id] as f64;
    let rare: f64 = (900..1000).map(rate).sum::<f64>() / 100.0;
    let frequent: f64 = (5..15).map(rate).sum::<f64>() / 10.0;
    let w = masker.weights();
    // Rates rise with the weight (the weight ratio is ~(100)^0.7 = 25; sampling without
    // replacement of 15% compresses it, but it stays far above 1).
    assert!(rare > 3.0 * frequent, "rare {rare} frequent {frequent}");
    assert!(w[950] > 20.0 * w[10]);
}

#[test]
fn uniform_masking_selects_15_percent_of_non_special_tokens() {
    let config = MaskingConfig {
        strategy: MaskingStrategy::Uniform,
        ..MaskingConfig::default()
    };
    let (t, _) = tally(&config, 300);
    let non_special: u64 = t.seen[5..].iter().sum();
    let share = t.targets as f64 / non_special as f64;
    assert!((share - 0.15).abs() < 0.005, "uniform share {share}");
    // Uniform: rare and frequent ids are selected at the same rate.
    let rate = |ids: std::ops::Range<usize>| {
        ids.clone().map(|i| t.selected[i]).sum::<u64>() as f64
            / ids.map(|i| t.seen[i]).sum::<u64>() as f64
    };
    assert!((rate(5..100) - rate(500..1000)).abs() < 0.01);
}

#[test]
fn tensors_hold_the_masked_rows() {
    let masker = Masker::new(&MaskingConfig::default(), &counts(), &specials()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = random_rows(&mut rng, 4);
    let out = mask(&masker, &rows, &mut rng);
    let expected = out.clone();
    let batch = out.into_batch();
    assert_eq!(batch.input_ids.size(), vec![4, expected.len as i64]);
    assert_eq!(
        batch.n_tokens,
        rows.iter().map(|r| r.len() as i64).sum::<i64>()
    );
    let flat = |t: &tch::Tensor| Vec::<i64>::try_from(t.flatten(0, -1)).unwrap();
    assert_eq!(flat(&batch.input_ids), expected.input_ids);
    assert_eq!(flat(&batch.attention_mask), expected.attention_mask);
    assert_eq!(flat(&batch.labels), expected.labels);
    assert_eq!(batch.input_ids.kind(), tch::Kind::Int64);
}

#[test]
fn config_defaults_are_the_recipe_and_bad_keys_are_named() {
    let config: distil_data::DataConfig = serde_yaml::from_str("shards: /tmp/x\n").unwrap();
    assert_eq!(config.masking, MaskingConfig::default());
    assert_eq!(config.batch_size(), distil_data::BatchSize::Sequences(5));
    assert!(config.group_by_size);
    assert_eq!(config.masking.mask_prop, 0.15);
    assert_eq!(
        (
            config.masking.word_mask,
            config.masking.word_keep,
            config.masking.word_rand
        ),
        (0.8, 0.1, 0.1)
    );
    assert_eq!(config.masking.smoothing, 0.7);
    config.validate().unwrap();

    let err =
        serde_yaml::from_str::<distil_data::DataConfig>("shards: x\nmasking:\n  word_msk: 0.8\n")
            .unwrap_err();
    assert!(err.to_string().contains("word_msk"), "{err}");
    let bad: distil_data::DataConfig =
        serde_yaml::from_str("shards: x\nmasking:\n  word_mask: 0.7\n").unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.masking.word_mask"));
    let both: distil_data::DataConfig =
        serde_yaml::from_str("shards: x\nbatch_size: 4\nmax_tokens: 99\n").unwrap();
    assert!(both
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.max_tokens"));
    let none = distil_data::DataConfig::default();
    assert!(none
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.shards"));
}
