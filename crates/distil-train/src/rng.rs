//! Model-side randomness (dropout) as a pure function of `(seed, micro_step)`: libtorch's
//! generator is re-seeded before each micro-batch, so a resumed run draws the same dropout
//! masks as an uninterrupted one without saving generator state.

/// Seeds libtorch's CPU and CUDA generators for micro-batch `micro_step`.
pub fn seed_micro_batch(seed: u64, micro_step: u64) {
    tch::manual_seed(micro_batch_seed(seed, micro_step));
}

/// The dropout seed of data-parallel rank `rank`: rank 0 (and a single process) keeps `seed`,
/// so a one-rank run draws exactly what a plain run does; other ranks get their own masks.
pub fn rank_seed(seed: u64, rank: usize) -> u64 {
    seed ^ (rank as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// SplitMix64 of the pair, so neighbouring steps get unrelated streams.
pub fn micro_batch_seed(seed: u64, micro_step: u64) -> i64 {
    let mut z = seed ^ micro_step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 1) as i64
}
