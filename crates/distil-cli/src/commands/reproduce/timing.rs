//! Table 3's protocol on the run's own models: one pass over the STS-B dev pairs on CPU at
//! batch size 1, encoder forward only, timed after a short warm-up. The pair reading and the
//! timed pass are `distil bench infer`'s.

use std::path::Path;

use anyhow::Context;
use distil_student::AnyMaskedLm;
use distil_tasks::{EncoderBatch, SegmentIds};
use tch::Device;

use super::config::BenchSection;
use crate::commands::bench::infer::{read_sts_b_pairs, time_pass};

/// Batches run untimed first, so that allocations and thread start-up are not timed.
const WARMUP: usize = 5;

/// The encoded STS-B dev pairs as batches of one.
pub fn sts_b_pairs(
    bench: &BenchSection,
    tokenizer: &str,
    max_seq_length: usize,
) -> anyhow::Result<Vec<EncoderBatch>> {
    let tokenizer = distil_data::load_tokenizer(tokenizer)?;
    let (pairs, pad_id) = read_sts_b_pairs(
        &tokenizer,
        &bench.sts_b_dev,
        max_seq_length,
        bench.max_examples,
    )?;
    Ok(pairs
        .iter()
        .map(|p| EncoderBatch::pad(&[p], pad_id, SegmentIds::Keep))
        .collect())
}

/// Seconds for one pass of the model in `dir` over `batches`, and the pairs timed.
pub fn time_cpu_pass(
    dir: &Path,
    batches: &[EncoderBatch],
    threads: Option<i32>,
) -> anyhow::Result<(f64, usize)> {
    if let Some(n) = threads {
        tch::set_num_threads(n);
    }
    let model = AnyMaskedLm::from_pretrained(dir, Device::Cpu)
        .with_context(|| format!("loading {}", dir.display()))?;
    let run = time_pass("reproduce", &model.model, batches, 1, WARMUP);
    Ok((run.seconds, run.pairs))
}
