//! The GLUE stages: every model fine-tuned on every task once per seed, keeping the median of
//! the task's main metric; and each task's majority-class score on the same dev data.

use std::collections::BTreeMap;

use anyhow::Context;
use distil_tasks::finetune::{
    finetune_glue, main_metric_key, majority_baseline, GlueDataConfig, GlueRunConfig,
};
use distil_tasks::GlueTask;
use serde_json::json;

use super::fresh_finetune;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::TaskScore;
use crate::reproduce::runner::Done;
use crate::reproduce::scores::median;

impl Pipeline<'_> {
    /// Model to task to score, fine-tuning each named model on every configured task in turn.
    pub(in crate::reproduce) fn glue(
        &mut self,
        models: &[(String, Done<ModelDir>)],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<String, TaskScore>>> {
        let tasks = self.config.finetune.tasks.clone();
        let mut glue: BTreeMap<String, BTreeMap<String, TaskScore>> = BTreeMap::new();
        for (name, model) in models {
            for task in &tasks {
                let score = self.finetune(name, model, task)?;
                glue.entry(name.clone())
                    .or_default()
                    .insert(task.clone(), score);
            }
        }
        Ok(glue)
    }

    /// The GLUE files and caps of every fine-tuning on `task`.
    fn glue_data(&self, task: GlueTask) -> GlueDataConfig {
        let section = &self.config.finetune;
        GlueDataConfig {
            dir: Some(section.glue_dir.join(task.dir_name())),
            max_train_examples: section.max_train_examples,
            max_eval_examples: section.max_eval_examples,
            predict_test: false,
        }
    }

    /// The majority-class score of each task on the dev data the fine-tunings are scored on.
    pub(in crate::reproduce) fn majority_scores(
        &self,
        tasks: &[String],
    ) -> anyhow::Result<BTreeMap<String, f64>> {
        tasks
            .iter()
            .map(|task| {
                let glue_task: GlueTask = task.parse()?;
                let config = GlueRunConfig {
                    data: self.glue_data(glue_task),
                    ..GlueRunConfig::default()
                };
                let metrics = majority_baseline(glue_task, &config)?;
                let key = main_metric_key(glue_task);
                let value = metrics
                    .get(key)
                    .copied()
                    .with_context(|| format!("no `{key}` in {task}'s majority baseline"))?;
                Ok((task.clone(), 100.0 * value))
            })
            .collect()
    }

    /// Fine-tunes `model` on `task` once per seed and keeps the median of the main metric.
    fn finetune(
        &mut self,
        name: &str,
        model: &Done<ModelDir>,
        task: &str,
    ) -> anyhow::Result<TaskScore> {
        let glue_task: GlueTask = task.parse()?;
        let section = self.config.finetune.clone();
        let mut seeds = BTreeMap::new();
        let key = main_metric_key(glue_task);
        for &seed in &section.seeds {
            let run_name = format!("{name}-{task}-seed{seed}");
            let mut training = section.training.clone();
            training.seed = seed;
            let config = GlueRunConfig {
                task: Some(task.to_string()),
                model: distil_tasks::finetune::ModelConfig {
                    source: Some(model.value.dir.display().to_string()),
                    tokenizer: Some(self.tokenizer.clone()),
                    teacher: None,
                },
                data: self.glue_data(glue_task),
                features: section.features.clone(),
                training,
                distillation: Default::default(),
                output: distil_tasks::finetune::OutputConfig {
                    dir: self.run_dir.join("finetune"),
                    run_name: Some(run_name.clone()),
                },
            };
            let inputs = json!({ "config": config, "model": model.hash });
            let device = self.device;
            let quiet = self.stages.multi().is_hidden();
            let done = self
                .stages
                .run(&format!("finetune-{run_name}"), &inputs, |_| {
                    let summary =
                        fresh_finetune(&config.output.dir.join(&run_name), quiet, |options| {
                            Ok(finetune_glue(glue_task, &config, device, options)?)
                        })?;
                    let value = summary.metrics.get(key).copied().with_context(|| {
                        format!(
                            "the run reported no `{key}` (it has {:?})",
                            summary.metrics.keys().collect::<Vec<_>>()
                        )
                    })?;
                    Ok(100.0 * value)
                })?;
            seeds.insert(seed, done.value);
        }
        let values: Vec<f64> = seeds.values().copied().collect();
        Ok(TaskScore {
            metric: key.to_string(),
            median: median(&values),
            seeds,
        })
    }
}
