//! The representation stages: every model's frozen encoder scored on the deterministic
//! protocol (zero-shot STS-B dev, a linear probe on SST-2), and the layer-choice table: cuts of
//! the teacher's layers, not distilled, scored on STS-B dev and on the validation pairs the
//! layer rule reads.

use std::collections::BTreeMap;
use std::path::Path;

use distil_student::{init_student, save_student};
use distil_tasks::representation::{linear_probe, sts_zero_shot, ProbeOptions, StsOptions};
use distil_tasks::GlueTask;
use serde_json::json;
use tch::Device;

use crate::reproduce::config::RepresentationSection;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::{LayerChoiceScore, RepresentationScore};
use crate::reproduce::runner::Done;

impl Pipeline<'_> {
    /// Model to its representation scores, one stage per model.
    pub(in crate::reproduce) fn representation(
        &mut self,
        section: &RepresentationSection,
        models: &[(String, Done<ModelDir>)],
    ) -> anyhow::Result<BTreeMap<String, RepresentationScore>> {
        let mut scores = BTreeMap::new();
        for (name, model) in models {
            let inputs = json!({ "representation": section, "model": model.hash,
                "tokenizer": self.tokenizer });
            let (device, tokenizer) = (self.device, self.tokenizer.clone());
            let dir = model.value.dir.clone();
            let done = self
                .stages
                .run(&format!("represent-{name}"), &inputs, |_| {
                    score_model(section, &dir, &tokenizer, device)
                })?;
            scores.insert(name.clone(), done.value);
        }
        Ok(scores)
    }

    /// Layer choice (`"0,4,5"`) to its undistilled scores: each choice cut from the teacher as
    /// the student is initialised, scored, then deleted.
    pub(in crate::reproduce) fn layer_choices(
        &mut self,
        section: &RepresentationSection,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<BTreeMap<String, LayerChoiceScore>> {
        let choices = section.choices_with(&self.config.student.teacher_layers);
        let mut scores = BTreeMap::new();
        for layers in choices {
            let key = layer_key(&layers);
            let inputs = json!({ "layers": layers, "teacher": teacher.hash,
                "sts_b_dev": section.sts_b_dev, "sts_b_validation": section.sts_b_validation,
                "validation_pairs": section.validation_pairs, "pooling": section.pooling,
                "max_dev_examples": section.max_dev_examples,
                "tokenizer": self.tokenizer });
            let out = self
                .run_dir
                .join("layer-choice")
                .join(key.replace(',', "-"));
            let (device, tokenizer) = (self.device, self.tokenizer.clone());
            let teacher_dir = teacher.value.dir.clone();
            let done = self
                .stages
                .run(&format!("layer-choice-{key}"), &inputs, |_| {
                    let layers: Vec<i64> = layers.iter().map(|&l| l as i64).collect();
                    let student = init_student(&teacher_dir, &layers, false, Device::Cpu)?;
                    save_student(&student, &out, Some(&teacher_dir))?;
                    let sts = |data: &Path, pairs| {
                        let options = StsOptions {
                            pooling: section.pooling,
                            max_pairs: pairs,
                            ..StsOptions::default()
                        };
                        sts_zero_shot(&out, Some(&tokenizer), data, &options, device, false)
                    };
                    let score = LayerChoiceScore {
                        sts_b_zero_shot: sts(&section.sts_b_dev, section.max_dev_examples)?
                            .spearman,
                        sts_b_validation: sts(&section.sts_b_validation, section.validation_pairs)?
                            .spearman,
                    };
                    // The cut is a few seconds to remake; only its scores are kept.
                    let _ = std::fs::remove_dir_all(&out);
                    Ok(score)
                })?;
            scores.insert(key, done.value);
        }
        Ok(scores)
    }
}

/// Layers as results.json keys them: `"0,4,5"`.
pub(in crate::reproduce) fn layer_key(layers: &[usize]) -> String {
    layers
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn score_model(
    section: &RepresentationSection,
    dir: &Path,
    tokenizer: &str,
    device: Device,
) -> anyhow::Result<RepresentationScore> {
    let sts = StsOptions {
        pooling: section.pooling,
        max_pairs: section.max_dev_examples,
        ..StsOptions::default()
    };
    let sts = sts_zero_shot(
        dir,
        Some(tokenizer),
        &section.sts_b_dev,
        &sts,
        device,
        false,
    )?;
    let probe = ProbeOptions {
        pooling: section.pooling,
        train_examples: section.probe_train_examples,
        max_dev_examples: section.max_dev_examples,
        ..ProbeOptions::default()
    };
    let probe = linear_probe(
        dir,
        Some(tokenizer),
        GlueTask::Sst2,
        &section.glue_dir,
        &probe,
        device,
        false,
    )?;
    Ok(RepresentationScore {
        sts_b_zero_shot: sts.spearman,
        sst2_probe: 100.0 * probe.score.accuracy,
    })
}
