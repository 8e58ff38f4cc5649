//! The teacher stage: the configured teacher's folder, or a BERT pretrained here with the MLM
//! loss alone (the distiller with no teacher).

use std::path::{Path, PathBuf};

use anyhow::Context;
use distil_core::checkpoint::copy_tokenizer_files;
use distil_train::config::{OutputConfig, StudentConfig, StudentInit, TeacherConfig};
use distil_train::{DistillConfig, LossConfig, TeacherSource};
use serde_json::json;

use super::{run_distiller, Shards};
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::runner::Done;

impl Pipeline<'_> {
    pub(in crate::reproduce) fn teacher(
        &mut self,
        shards: &Done<Shards>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let section = self.config.teacher.clone();
        let inputs = json!({ "teacher": section, "data": self.config.data, "shards": shards.hash });
        let mut data = self.data(&shards.value);
        if let Some(masking) = section.pretrain.as_ref().and_then(|p| p.masking.clone()) {
            data.masking = masking;
        }
        let out = self.run_dir.join("teacher");
        let tokenizer = tokenizer_dir(&self.tokenizer);
        let vocab = shards.value.vocab_size;
        // Positions cover the longest sequence the shards hold, [CLS] and [SEP] included.
        let positions = shards.value.max_seq_len;
        let config_path = self.run_dir.join("teacher-config.json");
        let quiet = self.stages.multi().is_hidden();
        let run_dir = self.run_dir.clone();
        self.stages.run("teacher", &inputs, |_| {
            if let Some(source) = &section.source {
                let dir = distil_train::distill::models::teacher_dir(source)?;
                return Ok(ModelDir { dir });
            }
            let pretrain = section
                .pretrain
                .as_ref()
                .context("teacher.pretrain is required without teacher.source")?;
            // A fresh BERT trained by the distiller without a teacher: the MLM loss alone
            // (BERT's objective without NSP, as the corpus has no sentence pairs).
            let bert = json!({
                "architectures": ["BertForMaskedLM"],
                "model_type": "bert",
                "vocab_size": vocab,
                "hidden_size": pretrain.hidden_size,
                "num_hidden_layers": pretrain.num_hidden_layers,
                "num_attention_heads": pretrain.num_attention_heads,
                "intermediate_size": pretrain.intermediate_size,
                "max_position_embeddings": positions,
            });
            distil_core::fs::write_atomically(&config_path, &serde_json::to_vec_pretty(&bert)?)?;
            let train = &pretrain.train;
            let config = DistillConfig {
                teacher: TeacherConfig {
                    source: TeacherSource::None,
                    ..TeacherConfig::default()
                },
                student: StudentConfig {
                    init: StudentInit::Config,
                    config: Some(config_path.clone()),
                    freeze_position_embeddings: false,
                    ..StudentConfig::default()
                },
                data: data.clone(),
                loss: LossConfig {
                    alpha_ce: 0.0,
                    alpha_mlm: 1.0,
                    alpha_cos: 0.0,
                    alpha_mse: 0.0,
                    ..LossConfig::default()
                },
                optimizer: train.optimizer.clone(),
                training: train.training.clone(),
                output: OutputConfig {
                    dir: run_dir.clone(),
                    run_name: "teacher-pretrain".to_string(),
                    log_interval: train.log_interval.unwrap_or(10),
                    checkpoint_interval: u64::MAX,
                    keep_last: 1,
                },
                ..DistillConfig::default()
            };
            // A rerun starts afresh: its config changed.
            let _ = std::fs::remove_dir_all(config.run_dir());
            let _ = std::fs::remove_dir_all(&out);
            let trained = run_distiller(config.clone(), quiet)?;
            // The teacher folder holds the model, its tokenizer and its loss curve.
            std::fs::rename(&trained, &out)
                .with_context(|| format!("moving {} to {}", trained.display(), out.display()))?;
            std::fs::copy(
                config.run_dir().join("metrics.jsonl"),
                out.join("metrics.jsonl"),
            )
            .context("copying the teacher's metrics")?;
            if let Some(tokenizer) = &tokenizer {
                copy_tokenizer_files(tokenizer, &out)?;
            }
            Ok(ModelDir { dir: out.clone() })
        })
    }
}

/// The tokenizer's folder when it is a local path (its files go into saved models).
fn tokenizer_dir(tokenizer: &str) -> Option<PathBuf> {
    let path = Path::new(tokenizer);
    if path.is_dir() {
        Some(path.to_path_buf())
    } else {
        path.parent().filter(|p| p.is_dir()).map(Path::to_path_buf)
    }
}
