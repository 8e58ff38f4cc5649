//! The STS-B dev pairs and one timed encoder pass over them: the paper's Table 3 protocol, used
//! by `distil bench infer` and by the reproduction's size-speed stage.

use std::path::Path;
use std::time::Instant;

use distil_amp::InferenceModeGuard;
use distil_core::LanguageModel;
use distil_tasks::glue::{GlueEncoder, GlueFeatureConfig};
use distil_tasks::{EncodedText, EncoderBatch, GlueSplit, GlueTask};
use serde::Serialize;

/// One timed pass over the pairs.
#[derive(Debug, Clone, Serialize)]
pub struct InferRun {
    pub model: &'static str,
    pub batch_size: usize,
    pub pairs: usize,
    /// Tokens fed, padding included.
    pub padded_tokens: i64,
    pub seconds: f64,
    pub pairs_per_s: f64,
}

/// The first `limit` (or all) STS-B pairs of `path`, each encoded as one pair, with the
/// padding id.
pub fn read_sts_b_pairs(
    tokenizer: &tokenizers::Tokenizer,
    path: &Path,
    max_seq_length: usize,
    limit: Option<usize>,
) -> anyhow::Result<(Vec<EncodedText>, i64)> {
    let encoder = GlueEncoder::new(tokenizer, &GlueFeatureConfig { max_seq_length })?;
    let mut examples = GlueTask::Stsb.read_examples(GlueSplit::Dev, path)?;
    if let Some(limit) = limit {
        examples.truncate(limit);
    }
    anyhow::ensure!(!examples.is_empty(), "no pairs in {}", path.display());
    let pairs = encoder
        .encode(&examples)?
        .into_iter()
        .map(|f| f.text)
        .collect();
    Ok((pairs, encoder.pad_id()))
}

/// Runs `warmup` batches untimed, then every batch timed, in inference mode (as the Python
/// reference's `torch.inference_mode()`): the outputs are only read, so no autograd
/// bookkeeping is spent on them.
pub fn time_pass(
    name: &'static str,
    model: &dyn LanguageModel,
    batches: &[EncoderBatch],
    batch_size: usize,
    warmup: usize,
) -> anyhow::Result<InferRun> {
    let forward = |batch: &EncoderBatch| {
        let output = model.encode(&batch.encoder_input(), false);
        // Reading one value waits for the device, without copying the output.
        let _ = output
            .last_hidden_state()
            .flatten(0, -1)
            .get(0)
            .double_value(&[]);
    };
    let _inference = InferenceModeGuard::enter()?;
    for batch in batches.iter().cycle().take(warmup) {
        forward(batch);
    }
    let started = Instant::now();
    for batch in batches {
        forward(batch);
    }
    let seconds = started.elapsed().as_secs_f64();
    let pairs: usize = batches.iter().map(|b| b.input_ids.size()[0] as usize).sum();
    Ok(InferRun {
        model: name,
        batch_size,
        pairs,
        padded_tokens: batches.iter().map(|b| b.input_ids.numel() as i64).sum(),
        seconds,
        pairs_per_s: pairs as f64 / seconds,
    })
}
