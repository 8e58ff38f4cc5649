//! The body of each stage of [`super::pipeline::Pipeline`], one file per stage, and what
//! several of them share: running a distillation and starting a fine-tuning afresh.

mod distill;
mod finetune;
mod fit_head;
mod prep;
mod representation;
mod size_speed;
mod squad;
mod teacher;
mod vocab;

use std::path::Path;

use anyhow::Context;
use distil_student::init_student::student_config;
use distil_tasks::finetune::LoopOptions;
use distil_teacher::BertConfig;
use distil_train::distill::{DistillOptions, DistillOutcome, Distiller};
use distil_train::{DistillConfig, Interrupt};

pub use prep::Shards;
pub(super) use representation::layer_key;

/// Runs `config` to the end and returns the student folder it saved; an interruption is an
/// error, since a stage either finishes or is run again.
fn run_distiller(config: DistillConfig, quiet: bool) -> anyhow::Result<std::path::PathBuf> {
    let options = DistillOptions {
        quiet,
        interrupt: Interrupt::manual(),
    };
    match Distiller::new(config, false)?.run(&options)? {
        DistillOutcome::Finished { student_dir, .. } => Ok(student_dir),
        DistillOutcome::Interrupted { step, .. } => anyhow::bail!("interrupted at step {step}"),
    }
}

/// The student's DistilBERT config for the teacher in `teacher_dir` and `layers`.
fn student_config_for(
    teacher_dir: &Path,
    layers: &[usize],
) -> anyhow::Result<distil_student::DistilBertConfig> {
    let teacher = BertConfig::from_file(&teacher_dir.join("config.json"))?;
    let layers: Vec<i64> = layers.iter().map(|&l| l as i64).collect();
    Ok(student_config(&teacher, &layers)?)
}

/// Runs one fine-tuning stage from scratch in `run`: a stage is never resumed (a re-run starts
/// it afresh), so a leftover folder is cleared first, and the finished run's resume checkpoints
/// (weights plus optimizer moments, two per run: about 10 GB over the mini-cpu config's 84
/// runs) are dropped. The fine-tuned `model/` and the results stay.
fn fresh_finetune<T>(
    run: &Path,
    quiet: bool,
    train: impl FnOnce(&LoopOptions) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let _ = std::fs::remove_dir_all(run);
    let options = LoopOptions {
        resume: false,
        quiet,
        interrupt: Interrupt::manual(),
    };
    let summary = train(&options)?;
    let checkpoints = run.join("checkpoints");
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints)
            .with_context(|| format!("removing {}", checkpoints.display()))?;
    }
    Ok(summary)
}
