//! The shipped run configs load, validate, and hold the reference recipe's defaults.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use distil_tasks::finetune::{load_run_config, GlueRunConfig, SquadRunConfig, TrainingConfig};
use distil_tasks::squad::{DocStrideMode, SquadVersion};
use distil_tasks::GlueTask;

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

#[test]
fn every_glue_config_loads_with_the_run_glue_defaults() {
    for task in GlueTask::ALL {
        let path = configs().join(format!("glue/{}.yaml", task.key()));
        let mut config: GlueRunConfig = load_run_config(Some(&path), &[]).unwrap();
        config.resolve_task(task).unwrap();
        assert_eq!(config.features.max_seq_length, 128, "{task}");
        assert_eq!(config.training, TrainingConfig::default(), "{task}");
        assert_eq!(
            config.data_dir(task),
            Path::new("data/glue").join(task.dir_name())
        );
        assert_eq!(
            (config.distillation.alpha_task, config.distillation.alpha_ce),
            (0.5, 0.5)
        );
        assert_eq!(config.distillation.temperature, 2.0);
        // A config written for one task refuses another.
        let other = if task == GlueTask::Rte {
            GlueTask::Wnli
        } else {
            GlueTask::Rte
        };
        assert!(config.resolve_task(other).is_err());
    }
    let defaults = TrainingConfig::default();
    assert_eq!(defaults.learning_rate, 5e-5);
    assert_eq!(defaults.epochs, 3);
    assert_eq!(defaults.train_batch_size, 8);
    assert_eq!(defaults.adam_epsilon, 1e-8);
    assert_eq!(defaults.weight_decay, 0.0);
    assert_eq!(defaults.max_grad_norm, 1.0);
    assert_eq!(defaults.warmup_steps, 0);
    assert_eq!(defaults.seed, 42);
}

#[test]
fn squad_configs_load_with_the_reference_windows() {
    for (file, version) in [("v1.1", SquadVersion::V1), ("v2.0", SquadVersion::V2)] {
        let path = configs().join(format!("squad/{file}.yaml"));
        let config: SquadRunConfig = load_run_config(Some(&path), &[]).unwrap();
        assert_eq!(config.version, version);
        assert_eq!(
            (
                config.features.max_seq_length,
                config.features.doc_stride,
                config.features.max_query_length
            ),
            (384, 128, 64)
        );
        assert_eq!(config.features.doc_stride_mode, DocStrideMode::Step);
        assert_eq!(
            (config.decode.n_best_size, config.decode.max_answer_length),
            (20, 30)
        );
    }
}

#[test]
fn bad_keys_and_values_are_named() {
    let path = configs().join("glue/sst-2.yaml");
    let unknown =
        load_run_config::<GlueRunConfig>(Some(&path), &["training.learning_rat=1e-4".to_string()])
            .unwrap_err()
            .to_string();
    assert!(unknown.contains("training.learning_rat"), "{unknown}");
    let invalid =
        load_run_config::<GlueRunConfig>(Some(&path), &["distillation.temperature=0".to_string()])
            .unwrap_err()
            .to_string();
    assert!(invalid.contains("distillation.temperature"), "{invalid}");
    assert!(invalid.contains("sst-2.yaml"), "{invalid}");
    let share = load_run_config::<SquadRunConfig>(None, &["data.dev_train_share=1.5".into()])
        .unwrap_err()
        .to_string();
    assert!(share.contains("data.dev_train_share"), "{share}");
}
