//! Randomly initialised teacher and student at chosen shapes (default: the published BERT-base
//! and DistilBERT), built the way `transformers` initialises them and written as HF
//! directories, so that the Python reference loads exactly the weights distil measures.

use std::path::Path;

use anyhow::Context;
use distil_core::checkpoint::{save_hf_dir, SaveOptions};
use distil_student::{DistilBertConfig, DistilBertForMaskedLM, StudentShape};
use distil_teacher::{BertConfig, BertForMaskedLM};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Device;

/// Model shapes; the defaults are BERT-base (12 x 768 x 3072) and DistilBERT (6 layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShapes {
    /// Teacher (BERT) layers.
    pub teacher_layers: i64,
    /// Student (DistilBERT) layers; at most the teacher's.
    pub student_layers: i64,
    /// Hidden width of the teacher (and of the student unless `student_hidden` is set).
    pub hidden: i64,
    /// Feed-forward width of the teacher (and of the student unless `student_intermediate`).
    pub intermediate: i64,
    /// Attention heads of the teacher (and of the student unless `student_heads`).
    pub heads: i64,
    /// A narrower (or wider) student: its hidden width.
    pub student_hidden: Option<i64>,
    pub student_intermediate: Option<i64>,
    pub student_heads: Option<i64>,
    /// Vocabulary size (30522: bert-base-uncased, whose tokenizer encodes the inputs).
    pub vocab: i64,
    /// Seed of the random initialisation.
    pub seed: i64,
}

impl Default for ModelShapes {
    fn default() -> Self {
        Self {
            teacher_layers: 12,
            student_layers: 6,
            hidden: 768,
            intermediate: 3072,
            heads: 12,
            student_hidden: None,
            student_intermediate: None,
            student_heads: None,
            vocab: 30522,
            seed: 0,
        }
    }
}

/// A model, its store and its config.
pub struct Built<M, C> {
    pub vs: VarStore,
    pub model: M,
    pub config: C,
}

/// The teacher and the student, freshly initialised on `device`.
pub struct RandomModels {
    pub teacher: Built<BertForMaskedLM, BertConfig>,
    pub student: Built<DistilBertForMaskedLM, DistilBertConfig>,
}

impl ModelShapes {
    /// The student's sizes: the teacher's unless set.
    pub fn student_shape(&self) -> StudentShape {
        StudentShape {
            n_layers: self.student_layers,
            dim: self.student_hidden.unwrap_or(self.hidden),
            n_heads: self.student_heads.unwrap_or(self.heads),
            hidden_dim: self.student_intermediate.unwrap_or(self.intermediate),
        }
    }

    /// Whether the student is as wide as the teacher (DistilBERT's shape).
    pub fn same_width(&self) -> bool {
        self.student_shape().dim == self.hidden
    }

    pub fn build(&self, device: Device) -> anyhow::Result<RandomModels> {
        anyhow::ensure!(
            (1..=self.teacher_layers).contains(&self.student_layers),
            "--student-layers must be between 1 and --teacher-layers ({})",
            self.teacher_layers
        );
        let teacher_config: BertConfig = serde_json::from_value(serde_json::json!({
            "architectures": ["BertForMaskedLM"],
            "model_type": "bert",
            "vocab_size": self.vocab,
            "hidden_size": self.hidden,
            "num_hidden_layers": self.teacher_layers,
            "num_attention_heads": self.heads,
            "intermediate_size": self.intermediate,
            "max_position_embeddings": 512,
        }))
        .context("building the teacher config")?;
        let shape = self.student_shape();
        shape
            .validate("student")
            .map_err(|e| anyhow::anyhow!("--{}", e))?;
        let student_config = shape.config(&teacher_config);
        // Drawn on the CPU whatever the device, so a seed gives the same weights everywhere.
        tch::manual_seed(self.seed);
        let mut teacher_vs = VarStore::new(Device::Cpu);
        let teacher = BertForMaskedLM::new(teacher_vs.root(), &teacher_config);
        let mut student_vs = VarStore::new(Device::Cpu);
        let student = DistilBertForMaskedLM::new(student_vs.root(), &student_config);
        teacher_vs.set_device(device);
        student_vs.set_device(device);
        Ok(RandomModels {
            teacher: Built {
                vs: teacher_vs,
                model: teacher,
                config: teacher_config,
            },
            student: Built {
                vs: student_vs,
                model: student,
                config: student_config,
            },
        })
    }
}

impl RandomModels {
    /// Writes `dir/teacher` and `dir/student` as HF directories (fp32 weights as they are).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let options = SaveOptions::default();
        let teacher_dir = dir.join("teacher");
        save_hf_dir(
            &teacher_dir,
            &serde_json::to_value(&self.teacher.config)?,
            &self.teacher.vs,
            &options,
        )
        .with_context(|| format!("writing {}", teacher_dir.display()))?;
        let student_dir = dir.join("student");
        save_hf_dir(
            &student_dir,
            &serde_json::to_value(&self.student.config)?,
            &self.student.vs,
            &options,
        )
        .with_context(|| format!("writing {}", student_dir.display()))?;
        Ok(())
    }
}
