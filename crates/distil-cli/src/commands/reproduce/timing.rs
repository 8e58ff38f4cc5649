//! Table 3's protocol: one pass over the STS-B dev pairs on CPU at batch size 1, encoder
//! forward only, timed after a short warm-up.
//!
//! `distil bench infer` (commands/bench/infer.rs) times the same protocol on random weights;
//! its pair reader and timed pass are private to it, so this is the loaded-model variant.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use distil_core::MaskedLanguageModel;
use distil_student::AnyMaskedLm;
use distil_tasks::glue::{GlueEncoder, GlueFeatureConfig};
use distil_tasks::{EncodedText, EncoderBatch, GlueSplit, GlueTask, SegmentIds};
use tch::Device;

use super::config::BenchSection;

/// Batches run untimed first, so that allocations and thread start-up are not timed.
const WARMUP: usize = 5;

/// The encoded STS-B dev pairs as batches of one, with the padding id.
pub fn sts_b_pairs(
    bench: &BenchSection,
    tokenizer: &str,
    max_seq_length: usize,
) -> anyhow::Result<Vec<EncoderBatch>> {
    let tokenizer = distil_data::load_tokenizer(tokenizer)?;
    let encoder = GlueEncoder::new(&tokenizer, &GlueFeatureConfig { max_seq_length })?;
    let mut examples = GlueTask::Stsb.read_examples(GlueSplit::Dev, &bench.sts_b_dev)?;
    if let Some(limit) = bench.max_examples {
        examples.truncate(limit);
    }
    anyhow::ensure!(
        !examples.is_empty(),
        "no pairs in {}",
        bench.sts_b_dev.display()
    );
    let pairs: Vec<EncodedText> = encoder
        .encode(&examples)?
        .into_iter()
        .map(|f| f.text)
        .collect();
    Ok(pairs
        .iter()
        .map(|p| EncoderBatch::pad(&[p], encoder.pad_id(), SegmentIds::Keep))
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
    let model: &dyn MaskedLanguageModel = &model.model;
    let forward = |batch: &EncoderBatch| {
        let _ = model.encode(&batch.encoder_input(), false);
    };
    let seconds = tch::no_grad(|| {
        batches.iter().cycle().take(WARMUP).for_each(forward);
        let started = Instant::now();
        batches.iter().for_each(forward);
        started.elapsed().as_secs_f64()
    });
    Ok((seconds, batches.len()))
}
