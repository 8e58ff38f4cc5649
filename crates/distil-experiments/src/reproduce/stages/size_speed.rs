//! The size-speed stage (Table 3) on the run's own models: encoder parameters, and one pass
//! over the STS-B dev pairs on CPU at batch size 1, encoder forward only, timed after a short
//! warm-up, as `distil bench infer` times it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use distil_models::AnyLanguageModel;
use distil_tasks::{EncoderBatch, SegmentIds};
use serde_json::json;
use tch::Device;

use crate::reproduce::config::BenchSection;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::{SizeSpeed, NARROW_STUDENT, STUDENT, TEACHER};
use crate::reproduce::runner::Done;
use crate::sts_b::{read_sts_b_pairs, time_pass};

/// Batches run untimed first, so that allocations and thread start-up are not timed.
const WARMUP: usize = 5;

impl Pipeline<'_> {
    /// Table 3: encoder parameters, and CPU time over the STS-B dev pairs at batch size 1.
    pub(in crate::reproduce) fn size_speed(
        &mut self,
        teacher: &Done<ModelDir>,
        student: &Done<ModelDir>,
        narrow: Option<&Done<ModelDir>>,
    ) -> anyhow::Result<Done<BTreeMap<String, SizeSpeed>>> {
        let mut inputs = json!({ "bench": self.config.bench, "teacher": teacher.hash, "student": student.hash,
            "max_seq_length": self.config.finetune.features.max_seq_length });
        let mut models = vec![
            (TEACHER, teacher.value.dir.clone()),
            (STUDENT, student.value.dir.clone()),
        ];
        if let Some(narrow) = narrow {
            // Only a run with a narrow student has the key, so other runs keep their hash.
            inputs[NARROW_STUDENT] = json!(narrow.hash);
            models.push((NARROW_STUDENT, narrow.value.dir.clone()));
        }
        let bench = self.config.bench.clone();
        let tokenizer = self.tokenizer.clone();
        let max_seq_length = self.config.finetune.features.max_seq_length;
        self.stages.run("size-speed", &inputs, |_| {
            let pairs = sts_b_pairs(&bench, &tokenizer, max_seq_length)?;
            let mut out = BTreeMap::new();
            for (name, dir) in models {
                let (seconds, examples) = time_cpu_pass(&dir, &pairs, bench.threads)?;
                out.insert(
                    name.to_string(),
                    SizeSpeed {
                        parameters: encoder_parameters(&dir)?,
                        seconds,
                        examples,
                    },
                );
            }
            Ok(out)
        })
    }
}

/// The encoded STS-B dev pairs as batches of one.
fn sts_b_pairs(
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
fn time_cpu_pass(
    dir: &Path,
    batches: &[EncoderBatch],
    threads: Option<i32>,
) -> anyhow::Result<(f64, usize)> {
    if let Some(n) = threads {
        tch::set_num_threads(n);
    }
    // A teacher without an MLM head (a bare encoder) times the same: the pass reads the encoder.
    let (model, _) = AnyLanguageModel::from_pretrained_head_optional(dir, Device::Cpu)
        .with_context(|| format!("loading {}", dir.display()))?;
    let run = time_pass("reproduce", &model.model, batches, 1, WARMUP)?;
    Ok((run.seconds, run.pairs))
}

/// Parameters of the encoder (embeddings and layers), leaving out the MLM head, as the
/// paper's 110M and 66M count them.
fn encoder_parameters(dir: &Path) -> anyhow::Result<u64> {
    let (model, _) = AnyLanguageModel::from_pretrained_head_optional(dir, Device::Cpu)
        .with_context(|| format!("loading {}", dir.display()))?;
    Ok(model
        .vs
        .variables()
        .iter()
        .filter(|(name, _)| !model.config.is_mlm_head_variable(name))
        .map(|(_, t)| t.numel() as u64)
        .sum())
}
