//! The majority-class baseline: the dev metrics of always predicting the training split's most
//! frequent label, the score a model reaches without learning anything about the inputs.

use std::collections::BTreeMap;

use super::error::FinetuneError;
use super::glue_config::GlueRunConfig;
use crate::glue::{GlueLabel, GlueSplit, GlueTask};

/// The majority-class metrics of `task` over the data `config` reads (its caps included),
/// keyed as a fine-tuning run's are. A constant score has no correlation with STS-B's gold
/// scores, so the regression task's baseline is 0.
pub fn majority_baseline(
    task: GlueTask,
    config: &GlueRunConfig,
) -> Result<BTreeMap<String, f64>, FinetuneError> {
    let dir = config.data_dir(task);
    let labels = |split: GlueSplit, cap: Option<usize>| -> Result<Vec<GlueLabel>, FinetuneError> {
        let examples = task.read_examples(split, &task.split_path(&dir, split)?)?;
        Ok(examples
            .into_iter()
            .take(cap.unwrap_or(usize::MAX))
            .filter_map(|e| e.label)
            .collect())
    };
    let mut metrics = BTreeMap::new();
    if task.is_regression() {
        for key in ["pearson", "spearmanr", "corr"] {
            metrics.insert(key.to_string(), 0.0);
        }
        return Ok(metrics);
    }
    let train = labels(GlueSplit::Train, config.data.max_train_examples)?;
    let mut counts = vec![0usize; task.num_labels()];
    for label in &train {
        if let GlueLabel::Class(c) = label {
            counts[*c] += 1;
        }
    }
    // Ties go to the lower class id, as an argmax over equal logits would.
    let majority = (0..counts.len())
        .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
        .unwrap_or(0);
    for &split in task.dev_splits() {
        let gold = labels(split, config.data.max_eval_examples)?;
        let predicted = vec![GlueLabel::Class(majority); gold.len()];
        metrics.extend(task.metrics(split, &gold, &predicted)?);
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finetune::GlueDataConfig;

    fn config(dir: &std::path::Path) -> GlueRunConfig {
        GlueRunConfig {
            data: GlueDataConfig {
                dir: Some(dir.to_path_buf()),
                ..GlueDataConfig::default()
            },
            ..GlueRunConfig::default()
        }
    }

    #[test]
    fn mrpc_majority_is_the_closed_form_accuracy_and_f1() {
        let dir = tempfile::tempdir().unwrap();
        let header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";
        let rows = |labels: &[u8]| -> String {
            labels
                .iter()
                .map(|l| format!("{l}\t1\t2\ta\tb\n"))
                .collect()
        };
        // Train: three paraphrases, one not; dev: two paraphrases of three.
        std::fs::write(
            dir.path().join("train.tsv"),
            header.to_string() + &rows(&[1, 0, 1, 1]),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("dev.tsv"),
            header.to_string() + &rows(&[1, 0, 1]),
        )
        .unwrap();
        let m = majority_baseline(GlueTask::Mrpc, &config(dir.path())).unwrap();
        let (acc, f1) = (2.0 / 3.0, 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0));
        assert!((m["acc"] - acc).abs() < 1e-12);
        assert!((m["f1"] - f1).abs() < 1e-12);
        assert!((m["acc_and_f1"] - (acc + f1) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn shipped_sst2_and_stsb_baselines() {
        let glue = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/glue");
        let sst2 = majority_baseline(GlueTask::Sst2, &config(&glue.join("SST-2"))).unwrap();
        // SST-2 train is 56% positive; 444 of the 872 dev sentences are positive.
        assert!((sst2["acc"] - 444.0 / 872.0).abs() < 1e-12, "{sst2:?}");
        let stsb = majority_baseline(GlueTask::Stsb, &config(&glue.join("STS-B"))).unwrap();
        assert_eq!(stsb["corr"], 0.0);
    }
}
