//! What every run does around its loop: open the run folder, load the model (and a teacher
//! that can teach it) with their load reports logged, check them against the config, train
//! and evaluate, and save the fine-tuned model.

use std::path::{Path, PathBuf};

use distil_core::ModelSource;
use distil_data::tokenizer::tokenizer_file;
use distil_train::{ExistingRun, RunDir};
use tch::nn::VarStore;

use super::config::{ModelConfig, OutputConfig, TrainingConfig};
use super::error::FinetuneError;
use super::existing_run;
use super::model::{HeadState, TaskModel};
use super::trainer::{train, FineTuneTask, LoopOptions};
use crate::TaskError;

/// What a run's config tells the shared start-up.
pub(crate) struct RunSpec<'c> {
    pub model: &'c ModelConfig,
    pub output: &'c OutputConfig,
    /// The run folder's prefix (`finetune-rte`, `eval-squad2.0`).
    pub name: String,
    pub max_seq_length: usize,
    /// The head the task needs (`classification`), for messages.
    pub head: &'static str,
}

/// A run with its folder open and its models loaded and checked.
pub(crate) struct StartedRun<'c, M> {
    pub source: &'c str,
    pub run: RunDir,
    pub student: TaskModel<M>,
    pub teacher: Option<TaskModel<M>>,
    /// Where the tokenizer comes from: `model.tokenizer`, else the model.
    pub tokenizer_spec: &'c str,
}

/// Opens a training run's folder (continued only when resuming), seeds, and loads the student
/// and its optional teacher with `load`.
pub(crate) fn start_training<'c, M>(
    spec: RunSpec<'c>,
    seed: u64,
    options: &LoopOptions,
    load: impl Fn(&str) -> Result<TaskModel<M>, FinetuneError>,
) -> Result<StartedRun<'c, M>, FinetuneError> {
    let source = model_source(spec.model)?;
    let run = open_run(spec.output, &spec.name, source, existing_run(options))?;
    tch::manual_seed(seed as i64);
    let (student, teacher) =
        load_student_and_teacher(spec.model, spec.max_seq_length, spec.head, load)?;
    Ok(StartedRun {
        source,
        run,
        student,
        teacher,
        tokenizer_spec: spec.model.tokenizer_spec().unwrap_or(source),
    })
}

/// Opens an evaluation's folder (over its earlier results) and loads the fine-tuned model,
/// which must have a trained head.
pub(crate) fn start_evaluation<'c, M>(
    spec: RunSpec<'c>,
    load: impl FnOnce(&str) -> Result<TaskModel<M>, FinetuneError>,
) -> Result<StartedRun<'c, M>, FinetuneError> {
    let source = model_source(spec.model)?;
    let run = open_run(spec.output, &spec.name, source, ExistingRun::Resume)?;
    let student = load(source)?;
    student.require_trained_head(spec.head)?;
    check_lengths(spec.max_seq_length, &student)?;
    Ok(StartedRun {
        source,
        run,
        student,
        teacher: None,
        tokenizer_spec: spec.model.tokenizer_spec().unwrap_or(source),
    })
}

/// A trained model's final evaluation.
pub(crate) struct Evaluated<E> {
    pub evaluation: E,
    /// The epoch and main metric of the best evaluation during training.
    pub best: Option<(u64, f64)>,
}

/// Trains `objective`, then evaluates it without gradients; `None` when Ctrl-C stopped the
/// loop (a checkpoint was saved).
pub(crate) fn train_then_evaluate<T: FineTuneTask>(
    objective: &T,
    vs: &mut VarStore,
    training: &TrainingConfig,
    run: &RunDir,
    options: &LoopOptions,
) -> Result<Option<Evaluated<T::Evaluation>>, FinetuneError> {
    let outcome = train(objective, vs, training, run, options)?;
    if outcome.interrupted {
        return Ok(None);
    }
    let evaluation = match outcome.final_evaluation {
        Some(evaluation) => evaluation,
        None => tch::no_grad(|| objective.evaluate())?,
    };
    Ok(Some(Evaluated {
        evaluation,
        best: outcome.best,
    }))
}

/// Saves the fine-tuned model as `<run>/model` with the tokenizer files of `tokenizer_spec`.
pub(crate) fn save_model<M>(
    model: &TaskModel<M>,
    architecture: &str,
    run: &RunDir,
    tokenizer_spec: &str,
) -> Result<(), FinetuneError> {
    model.save(
        &run.root().join("model"),
        architecture,
        tokenizer_dir(tokenizer_spec)?.as_deref(),
    )
}

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
fn tokenizer_dir(spec: &str) -> Result<Option<PathBuf>, FinetuneError> {
    Ok(tokenizer_file(spec)?.parent().map(Path::to_path_buf))
}

/// `<output.dir>/<run name>`: a training run refuses a folder that holds a run unless it
/// resumes; an evaluation writes over its earlier results.
fn open_run(
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
    let dir = ModelSource::parse(spec).model_dir()?;
    let model = load(&dir)?;
    log::info!("{}: {}", dir.display(), model.report);
    if let HeadState::Fresh(reason) = &model.head {
        log::warn!("{}: {head} head {reason}", dir.display());
    }
    Ok(model)
}

/// The student and, when `model.teacher` names one, a teacher that can teach it (a trained
/// head, the same vocabulary); both must take `max_seq_length` tokens.
fn load_student_and_teacher<M>(
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
