//! What every run does before its loop: open the run folder, load the model (and a teacher
//! that can teach it) with their load reports logged, and check them against the config.

use std::path::{Path, PathBuf};

use distil_data::tokenizer::tokenizer_file;
use distil_train::{ExistingRun, RunDir};

use super::config::{ModelConfig, OutputConfig};
use super::error::FinetuneError;
use super::model::{resolve_model_dir, HeadState, TaskModel};
use crate::TaskError;

/// The model source, which `--model` must have set.
pub(crate) fn model_source(model: &ModelConfig) -> Result<&str, FinetuneError> {
    model.source.as_deref().ok_or_else(|| {
        FinetuneError::Task(TaskError::Config {
            key: "model.source",
            reason: "no model given (pass --model)".into(),
        })
    })
}

/// The folder holding the tokenizer, copied next to the saved model.
pub(crate) fn tokenizer_dir(spec: &str) -> Result<Option<PathBuf>, FinetuneError> {
    Ok(tokenizer_file(spec)?.parent().map(Path::to_path_buf))
}

/// `<output.dir>/<run name>`: a training run refuses a folder that holds a run unless it
/// resumes; an evaluation writes over its earlier results.
pub(crate) fn open_run(
    output: &OutputConfig,
    prefix: &str,
    source: &str,
    existing: ExistingRun,
) -> Result<RunDir, FinetuneError> {
    Ok(RunDir::open(
        output.run_dir(prefix, Some(source)),
        existing,
    )?)
}

/// Loads the model `spec` names with `load`, logging its load report, and warning when its
/// `head` starts fresh.
pub(crate) fn load_logged<M>(
    spec: &str,
    head: &str,
    load: impl FnOnce(&Path) -> Result<TaskModel<M>, FinetuneError>,
) -> Result<TaskModel<M>, FinetuneError> {
    let dir = resolve_model_dir(spec)?;
    let model = load(&dir)?;
    log::info!("{}: {}", dir.display(), model.report);
    if let HeadState::Fresh(reason) = &model.head {
        log::warn!("{}: {head} head {reason}", dir.display());
    }
    Ok(model)
}

/// The student and, when `model.teacher` names one, a teacher that can teach it (a trained
/// head, the same vocabulary); both must take `max_seq_length` tokens.
pub(crate) fn load_student_and_teacher<M>(
    model: &ModelConfig,
    max_seq_length: usize,
    head: &'static str,
    load: impl Fn(&str) -> Result<TaskModel<M>, FinetuneError>,
) -> Result<(TaskModel<M>, Option<TaskModel<M>>), FinetuneError> {
    let student = load(model_source(model)?)?;
    check_lengths(max_seq_length, &student)?;
    let teacher = match &model.teacher {
        Some(spec) => {
            let teacher = load(spec)?;
            check_teacher(&teacher, &student, head)?;
            check_lengths(max_seq_length, &teacher)?;
            Some(teacher)
        }
        None => None,
    };
    Ok((student, teacher))
}

/// An error unless windows of `max_seq_length` tokens fit the model's position table.
pub(crate) fn check_lengths<M>(
    max_seq_length: usize,
    model: &TaskModel<M>,
) -> Result<(), FinetuneError> {
    if max_seq_length as i64 > model.max_positions() {
        return Err(TaskError::Mismatch {
            what: "features.max_seq_length",
            expected: format!(
                "at most the {} positions of `{}`",
                model.max_positions(),
                model.dir.display()
            ),
            found: max_seq_length.to_string(),
        }
        .into());
    }
    Ok(())
}

/// A loaded teacher that can teach `student`: a trained head and the same vocabulary.
fn check_teacher<M, N>(
    teacher: &TaskModel<M>,
    student: &TaskModel<N>,
    head: &'static str,
) -> Result<(), FinetuneError> {
    teacher.require_trained_head(head)?;
    if teacher.vocab_size() != student.vocab_size() {
        return Err(FinetuneError::Teacher {
            dir: teacher.dir.clone(),
            reason: format!(
                "its vocabulary has {} entries, the student's {}; both must read the same ids",
                teacher.vocab_size(),
                student.vocab_size()
            ),
        });
    }
    Ok(())
}
