//! The distillation stages: the student with the run's recipe, each of its ablations, the
//! optional student of the paper's loss and of another shape, and the two baselines: no distillation (the student's teacher-layer initialisation alone) and no
//! pretraining (the student architecture with fresh random weights).

use distil_core::checkpoint::{save_hf_dir, SaveOptions};
use distil_student::{init_student, save_student, DistilBertForMaskedLM};
use distil_train::config::{OutputConfig, StudentConfig, StudentInit, TeacherConfig};
use distil_train::{DistillConfig, LossConfig, TeacherSource};
use serde_json::json;
use tch::Device;

use super::{run_distiller, student_config_for, Shards};
use crate::reproduce::ablation::Ablation;
use crate::reproduce::config::NarrowStudentSection;
use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::results::{
    NARROW_STUDENT, NO_DISTILLATION, NO_PRETRAINING, PAPER_LOSS, STUDENT,
};
use crate::reproduce::runner::Done;

impl Pipeline<'_> {
    /// Distils a student with the triple loss (`None`) or one of Table 4's ablations.
    pub(in crate::reproduce) fn distill(
        &mut self,
        ablation: Option<Ablation>,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let name = ablation.map_or(STUDENT, Ablation::name);
        let section = self.config.distill.clone();
        let mut loss = section.loss.clone();
        let mut student = StudentConfig {
            teacher_layers: self.config.student.teacher_layers.clone(),
            ..StudentConfig::default()
        };
        if let Some(ablation) = ablation {
            let random_config = self.run_dir.join("student-config.json");
            ablation.apply(&mut loss, &mut student, &random_config);
        }
        let random_config = student.config.clone();
        let layers = self.config.student.teacher_layers.clone();
        let teacher_dir = teacher.value.dir.clone();
        let inputs = json!({ "name": name, "section": section, "student": self.config.student,
            "data": self.config.data, "shards": shards.hash, "teacher": teacher.hash });
        self.distill_stage(name, &inputs, student, loss, shards, teacher, move || {
            if let Some(path) = &random_config {
                // The random-init ablation's student: the teacher-layers student's shape.
                let student = student_config_for(&teacher_dir, &layers)?;
                distil_core::fs::write_atomically(path, &serde_json::to_vec_pretty(&student)?)?;
            }
            Ok(())
        })
    }

    /// The student's layers distilled with `paper_loss:` in place of the run's recipe.
    pub(in crate::reproduce) fn distill_paper_loss(
        &mut self,
        loss: &LossConfig,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let student = StudentConfig {
            teacher_layers: self.config.student.teacher_layers.clone(),
            ..StudentConfig::default()
        };
        let inputs = json!({ "name": PAPER_LOSS, "section": self.config.distill,
            "paper_loss": loss, "student": self.config.student, "data": self.config.data,
            "shards": shards.hash, "teacher": teacher.hash });
        self.distill_stage(
            PAPER_LOSS,
            &inputs,
            student,
            loss.clone(),
            shards,
            teacher,
            || Ok(()),
        )
    }

    /// The student of `narrow_student:`'s shape, from random weights, with its own loss.
    pub(in crate::reproduce) fn distill_narrow(
        &mut self,
        section: &NarrowStudentSection,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let student = StudentConfig {
            init: StudentInit::Config,
            shape: Some(section.shape),
            // A fresh position table must train.
            freeze_position_embeddings: false,
            ..StudentConfig::default()
        };
        let inputs = json!({ "name": NARROW_STUDENT, "section": self.config.distill,
            "narrow_student": section, "data": self.config.data, "shards": shards.hash,
            "teacher": teacher.hash });
        let loss = section.loss.clone();
        self.distill_stage(
            NARROW_STUDENT,
            &inputs,
            student,
            loss,
            shards,
            teacher,
            || Ok(()),
        )
    }

    /// Runs stage `distill-<name>`: `distil distill` on the shards with `distill:`'s optimizer
    /// and length, after `prepare` (which writes any file the student config reads).
    #[allow(clippy::too_many_arguments)]
    fn distill_stage(
        &mut self,
        name: &str,
        inputs: &serde_json::Value,
        student: StudentConfig,
        loss: LossConfig,
        shards: &Done<Shards>,
        teacher: &Done<ModelDir>,
        prepare: impl FnOnce() -> anyhow::Result<()>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let section = &self.config.distill;
        let config = DistillConfig {
            teacher: TeacherConfig {
                source: TeacherSource::Model(teacher.value.dir.display().to_string()),
                ..TeacherConfig::default()
            },
            student,
            data: self.data(&shards.value),
            loss,
            optimizer: section.optimizer.clone(),
            training: section.training.clone(),
            output: OutputConfig {
                dir: self.run_dir.clone(),
                run_name: format!("distill-{name}"),
                log_interval: section.log_interval.unwrap_or(10),
                checkpoint_interval: u64::MAX,
                keep_last: 1,
            },
            ..DistillConfig::default()
        };
        let quiet = self.stages.multi().is_hidden();
        self.stages.run(&format!("distill-{name}"), inputs, |_| {
            prepare()?;
            // A rerun starts the run folder afresh: its config changed.
            let _ = std::fs::remove_dir_all(config.run_dir());
            let dir = run_distiller(config.clone(), quiet)?;
            Ok(ModelDir { dir })
        })
    }

    /// The student initialised from the teacher's layers and not trained: the no-distillation
    /// baseline, which isolates what distillation adds over the initialisation.
    pub(in crate::reproduce) fn undistilled_student(
        &mut self,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let inputs = json!({ "student": self.config.student, "teacher": teacher.hash });
        let out = self.run_dir.join(NO_DISTILLATION);
        let teacher_dir = teacher.value.dir.clone();
        let layers: Vec<i64> = self
            .config
            .student
            .teacher_layers
            .iter()
            .map(|&l| l as i64)
            .collect();
        self.stages.run(NO_DISTILLATION, &inputs, |_| {
            let student = init_student(&teacher_dir, &layers, false, Device::Cpu)?;
            save_student(&student, &out, Some(&teacher_dir))?;
            Ok(ModelDir { dir: out.clone() })
        })
    }

    /// The student architecture with fresh random weights: the no-pretraining baseline.
    pub(in crate::reproduce) fn random_student(
        &mut self,
        teacher: &Done<ModelDir>,
    ) -> anyhow::Result<Done<ModelDir>> {
        let inputs = json!({ "student": self.config.student, "teacher": teacher.hash, "seed": self.config.distill.training.seed });
        let out = self.run_dir.join(NO_PRETRAINING);
        let teacher_dir = teacher.value.dir.clone();
        let layers = self.config.student.teacher_layers.clone();
        let seed = self.config.distill.training.seed;
        self.stages.run(NO_PRETRAINING, &inputs, |_| {
            let config = student_config_for(&teacher_dir, &layers)?;
            tch::manual_seed(seed as i64);
            let vs = tch::nn::VarStore::new(Device::Cpu);
            let _model = DistilBertForMaskedLM::new(vs.root(), &config);
            let options = SaveOptions {
                dtype: None,
                tokenizer_dir: Some(teacher_dir.clone()),
            };
            save_hf_dir(&out, &serde_json::to_value(&config)?, &vs, &options)?;
            Ok(ModelDir { dir: out.clone() })
        })
    }
}
