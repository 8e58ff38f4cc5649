//! The SQuAD stages (Table 2): the teacher and the student fine-tuned once per seed, and with
//! `distillation` set, the student again against the same seed's fine-tuned teacher ("D").

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use distil_tasks::finetune::{finetune_squad, SquadRunConfig};
use distil_tasks::squad::SquadVersion;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fresh_finetune;
use crate::reproduce::config::SquadSection;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::{SquadScore, STUDENT, STUDENT_D, TEACHER};
use crate::reproduce::runner::Done;
use crate::reproduce::scores::median;

/// One SQuAD fine-tuning's scores and the model it saved (a "D" run's teacher).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SquadRun {
    exact_match: f64,
    f1: f64,
    model_dir: PathBuf,
}

impl Pipeline<'_> {
    /// Model to SQuAD score; empty when the config has no `squad:` section.
    pub(in crate::reproduce) fn squad_scores(
        &mut self,
        teacher: &Done<ModelDir>,
        student: &Done<ModelDir>,
    ) -> anyhow::Result<BTreeMap<String, SquadScore>> {
        let mut squad = BTreeMap::new();
        let Some(section) = self.config.squad.clone() else {
            return Ok(squad);
        };
        let (score, teacher_runs) = self.squad(TEACHER, teacher, &section, None)?;
        squad.insert(TEACHER.to_string(), score);
        let (score, _) = self.squad(STUDENT, student, &section, None)?;
        squad.insert(STUDENT.to_string(), score);
        if section.distillation.is_some() {
            let (score, _) = self.squad(STUDENT_D, student, &section, Some(&teacher_runs))?;
            squad.insert(STUDENT_D.to_string(), score);
        }
        Ok(squad)
    }

    /// Fine-tunes `model` on SQuAD once per seed; with `teachers` (the teacher's SQuAD runs by
    /// seed) each run adds the soft-target loss against the same seed's teacher.
    fn squad(
        &mut self,
        name: &str,
        model: &Done<ModelDir>,
        section: &SquadSection,
        teachers: Option<&BTreeMap<u64, Done<SquadRun>>>,
    ) -> anyhow::Result<(SquadScore, BTreeMap<u64, Done<SquadRun>>)> {
        let seeds = section
            .seeds
            .clone()
            .unwrap_or_else(|| self.config.finetune.seeds.clone());
        let mut runs = BTreeMap::new();
        for seed in seeds {
            let run_name = format!("{name}-squad-seed{seed}");
            let teacher = match teachers {
                Some(t) => Some(t.get(&seed).context("no teacher SQuAD run for this seed")?),
                None => None,
            };
            let config = SquadRunConfig {
                version: section.version,
                model: distil_tasks::finetune::ModelConfig {
                    source: Some(model.value.dir.display().to_string()),
                    tokenizer: Some(self.tokenizer.clone()),
                    teacher: teacher.map(|t| t.value.model_dir.display().to_string()),
                },
                data: section.data.clone(),
                features: section.features.clone(),
                decode: section.decode.clone(),
                training: distil_tasks::finetune::TrainingConfig {
                    seed,
                    ..section.training.clone()
                },
                distillation: section.distillation.unwrap_or_default(),
                output: distil_tasks::finetune::OutputConfig {
                    dir: self.run_dir.join("finetune"),
                    run_name: Some(run_name.clone()),
                },
            };
            let inputs = json!({ "config": config, "model": model.hash,
                "teacher": teacher.map(|t| &t.hash) });
            let device = self.device;
            let quiet = self.stages.multi().is_hidden();
            let (em_key, f1_key) = match section.version {
                SquadVersion::V1 => ("exact_match", "f1"),
                SquadVersion::V2 => ("exact", "f1"),
            };
            let done = self
                .stages
                .run(&format!("finetune-{run_name}"), &inputs, |_| {
                    let summary =
                        fresh_finetune(&config.output.dir.join(&run_name), quiet, |options| {
                            Ok(finetune_squad(&config, device, options)?)
                        })?;
                    let metric = |key: &str| {
                        summary
                            .metrics
                            .get(key)
                            .copied()
                            .with_context(|| format!("the SQuAD run reported no `{key}`"))
                    };
                    Ok(SquadRun {
                        exact_match: metric(em_key)?,
                        f1: metric(f1_key)?,
                        model_dir: summary.dir.join("model"),
                    })
                })?;
            runs.insert(seed, done);
        }
        let seeds: BTreeMap<u64, (f64, f64)> = runs
            .iter()
            .map(|(&seed, r)| (seed, (r.value.exact_match, r.value.f1)))
            .collect();
        let column = |f: fn(&(f64, f64)) -> f64| median(&seeds.values().map(f).collect::<Vec<_>>());
        let score = SquadScore {
            exact_match: column(|s| s.0),
            f1: column(|s| s.1),
            seeds,
        };
        Ok((score, runs))
    }
}
