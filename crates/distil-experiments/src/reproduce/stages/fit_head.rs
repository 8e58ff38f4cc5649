//! The head stage: an MLM head fitted on the frozen teacher when the teacher ships without one
//! (`teacher.fit_head`), so the distillation has soft targets. The fitted masked LM is the
//! distillation's teacher; GLUE still fine-tunes the teacher as given.

use anyhow::Context;
use distil_core::DeviceSpec;
use distil_train::head_fit::{
    HeadEvalConfig, HeadFitConfig, HeadFitter, HeadOutputConfig, HeadTrainingConfig,
};
use distil_train::{HeadFitOutcome, Interrupt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tch::Device;

use super::Shards;
use crate::reproduce::config::FitHeadSection;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::HeadFitScore;
use crate::reproduce::runner::Done;

/// The fitted masked LM and its held-out score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedHead {
    pub model: ModelDir,
    pub score: HeadFitScore,
}

impl Pipeline<'_> {
    pub(in crate::reproduce) fn fit_head(
        &mut self,
        section: &FitHeadSection,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<FittedHead>> {
        let inputs = json!({ "fit_head": section, "shards": shards.hash, "teacher": teacher.hash });
        let held_out = shards
            .value
            .held_out
            .clone()
            .context("teacher.fit_head needs corpus.held_out shards")?;
        let mut data = section
            .data
            .clone()
            .unwrap_or_else(|| HeadFitConfig::default().data);
        data.shards = shards.value.dir.clone();
        let config = HeadFitConfig {
            teacher: teacher.value.dir.display().to_string(),
            data,
            eval: HeadEvalConfig {
                shards: held_out,
                batches: section.eval_batches,
            },
            training: HeadTrainingConfig {
                device: match self.device {
                    Device::Cuda(index) => DeviceSpec::Cuda(index),
                    _ => DeviceSpec::Cpu,
                },
                ..section.training.clone()
            },
            output: HeadOutputConfig {
                dir: self.run_dir.clone(),
                run_name: "teacher-head".to_string(),
                log_interval: 10,
            },
        };
        let quiet = self.stages.multi().is_hidden();
        self.stages.run("teacher-head", &inputs, |_| {
            // A rerun starts afresh: its config changed.
            let _ = std::fs::remove_dir_all(config.run_dir());
            let steps = config.training.steps;
            match HeadFitter::new(config.clone())?.run(quiet, &Interrupt::manual())? {
                HeadFitOutcome::Finished {
                    model_dir,
                    head,
                    unigram,
                } => Ok(FittedHead {
                    model: ModelDir { dir: model_dir },
                    score: HeadFitScore {
                        steps,
                        held_out_targets: head.targets,
                        head_accuracy: head.accuracy,
                        head_loss: head.loss,
                        unigram_accuracy: unigram.accuracy,
                        unigram_loss: unigram.loss,
                    },
                }),
                HeadFitOutcome::Interrupted { step } => {
                    anyhow::bail!("the head fit was interrupted at step {step}")
                }
            }
        })
    }
}
