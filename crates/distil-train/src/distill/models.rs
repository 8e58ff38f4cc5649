//! The two models of a distillation run: the frozen teacher (a BERT, RoBERTa or GPT-2 language
//! model, from a local directory or a Hub id; absent for pretraining without one) and the
//! trainable student (a DistilBERT, DistilRoBERTa or DistilGPT2 from teacher layers, or any
//! language model its config or checkpoint names), then checked against the teacher and the
//! shards.

use std::path::{Path, PathBuf};

use distil_core::config::InvalidKey;
use distil_core::nn::{read_weights, Pretrained};
use distil_core::ModelSource;
use distil_data::Manifest;
use distil_gpt2::student_from_teacher as gpt2_student;
use distil_models::{AnyConfig, AnyLanguageModel};
use distil_roberta::student_from_teacher as roberta_student;
use distil_student::init_student::student_from_teacher;
use distil_student::{InitStudentError, StudentHead};
use distil_teacher::BertConfig;
use tch::Device;

use crate::config::{
    check_compatibility, check_objectives, ModelDims, Precision, StudentInit, TeacherConfig,
    TrainingPrecision,
};
use crate::error::TrainError;
use crate::DistillConfig;

pub type Teacher = Pretrained<AnyLanguageModel, AnyConfig>;
pub type Student = Pretrained<AnyLanguageModel, AnyConfig>;

/// The teacher's local directory: the path itself, or the Hub snapshot holding its
/// `config.json`, weights and tokenizer files (fetched when missing and allowed).
pub fn teacher_dir(source: &str) -> Result<PathBuf, TrainError> {
    Ok(ModelSource::parse(source).model_dir()?)
}

/// Loads the teacher in fp32 (the student may copy its layers first; see [`freeze_teacher`]).
/// A checkpoint without an MLM head (a bare `BertModel`) loads with a fresh, unused head when
/// the loss reads no teacher logits (`needs_logits` false: only hidden states are matched);
/// otherwise it is refused with the way out.
pub fn load_teacher(dir: &Path, device: Device, needs_logits: bool) -> Result<Teacher, TrainError> {
    let (teacher, has_head) = AnyLanguageModel::from_pretrained_head_optional(dir, device)?;
    if !has_head && needs_logits {
        return Err(TrainError::Incompatible(InvalidKey::new(
            "teacher.source",
            format!(
                "`{}` has no MLM head (no cls.predictions.* weights: a bare BertModel), so it \
                 gives no soft targets for loss.alpha_ce or loss.alpha_mse: fit one with \
                 `distil fit-head --teacher {}` and use its `teacher/` folder, or set both \
                 weights to 0",
                dir.display(),
                dir.display()
            ),
        )));
    }
    Ok(teacher)
}

/// Whether the teacher's MLM head came from its checkpoint (not freshly initialised).
fn has_trained_head(teacher: &Teacher) -> bool {
    teacher.report.missing_allowed.is_empty()
}

/// The teacher's dtype: `teacher.dtype`, or the run's autocast dtype when the teacher is
/// left at fp32 (a teacher without gradients loses little in bf16 and halves its memory).
pub fn teacher_precision(teacher: &TeacherConfig, training: TrainingPrecision) -> Precision {
    match teacher.dtype {
        Precision::Fp32 => training.teacher_dtype(),
        other => other,
    }
}

/// Freezes the teacher and casts it to `dtype`: it only runs forward, in eval mode, without
/// gradients.
pub fn freeze_teacher(teacher: &mut Teacher, dtype: Precision) {
    teacher.vs.freeze();
    match dtype {
        Precision::Fp32 => {}
        Precision::Bf16 => teacher.vs.bfloat16(),
        Precision::Fp16 => teacher.vs.half(),
    }
}

/// Builds the student as `student.init` says, on `device`, in fp32 (the optimizer's master
/// weights), with the position table frozen when asked. `teacher` is `None` for a run without
/// one (validation then rules out `init: teacher_layers`).
pub fn build_student(
    config: &DistillConfig,
    teacher: Option<(&Teacher, &Path)>,
    device: Device,
) -> Result<Student, TrainError> {
    let cfg = &config.student;
    let student = match cfg.init {
        StudentInit::TeacherLayers => {
            let Some((teacher, teacher_dir)) = teacher else {
                return Err(TrainError::Unsupported(InvalidKey::new(
                    "student.init",
                    "teacher_layers needs a teacher",
                )));
            };
            let layers: Vec<i64> = cfg.teacher_layers.iter().map(|&l| l as i64).collect();
            match &teacher.config {
                // DistilRoBERTa (the reference's scripts/extract.py): RoBERTa with fewer layers.
                AnyConfig::Roberta(roberta) => {
                    check_teacher_layers(&layers, roberta.num_hidden_layers)?;
                    AnyLanguageModel::from_roberta(roberta_student(
                        roberta,
                        &teacher.vs,
                        &layers,
                        device,
                    )?)
                }
                // DistilGPT2: GPT-2 with fewer blocks, from the same extract.py.
                AnyConfig::Gpt2(gpt2) => {
                    check_teacher_layers(&layers, gpt2.n_layer)?;
                    AnyLanguageModel::from_gpt2(gpt2_student(gpt2, &teacher.vs, &layers, device)?)
                }
                _ => {
                    let bert = bert_teacher(Some(teacher), "student.init")?;
                    let head = match has_trained_head(teacher) {
                        true => StudentHead::FromTeacher {
                            vocab_transform: cfg.copy_vocab_transform,
                        },
                        false => StudentHead::Fresh,
                    };
                    AnyLanguageModel::from_distilbert(
                        student_from_teacher(bert, &teacher.vs, teacher_dir, &layers, head, device)
                            .map_err(teacher_layers_key)?,
                    )
                }
            }
        }
        StudentInit::Config => {
            let student_cfg = match &cfg.shape {
                Some(shape) => AnyConfig::DistilBert(
                    shape.config(bert_teacher(teacher.map(|(t, _)| t), "student.shape")?),
                ),
                None => {
                    let path = required_path(cfg.config.as_deref(), "student.config")?;
                    AnyConfig::from_file(path)?
                }
            };
            let vs = tch::nn::VarStore::new(device);
            let model = AnyLanguageModel::new(vs.root(), &student_cfg);
            Pretrained {
                vs,
                model,
                config: student_cfg,
                report: Default::default(),
            }
        }
        StudentInit::Checkpoint => {
            let path = required_path(cfg.checkpoint.as_deref(), "student.checkpoint")?;
            let dir = if path.is_file() {
                path.parent().unwrap_or(Path::new("."))
            } else {
                path
            };
            let student_cfg = AnyConfig::from_dir(dir)?;
            let (file, tensors) = read_weights(path)?;
            AnyLanguageModel::from_tensors(student_cfg, &tensors, &file, device)?
        }
    };
    if cfg.freeze_position_embeddings {
        match &student.model {
            AnyLanguageModel::DistilBert(model) => model.freeze_position_embeddings(&student.vs)?,
            AnyLanguageModel::Roberta(model) => model.freeze_position_embeddings(&student.vs)?,
            AnyLanguageModel::Gpt2(model) => model.freeze_position_embeddings(&student.vs)?,
            AnyLanguageModel::Bert(_) => {
                return Err(TrainError::Unsupported(InvalidKey::new(
                    "student.freeze_position_embeddings",
                    "applies to DistilBERT, RoBERTa and GPT-2 students; set it to false for a \
                     BERT student",
                )))
            }
        }
    }
    Ok(student)
}

/// The teacher's BERT config, which `key` (a student made from the teacher's layers or its
/// sizes) needs.
fn bert_teacher<'t>(teacher: Option<&'t Teacher>, key: &str) -> Result<&'t BertConfig, TrainError> {
    match teacher.map(|t| &t.config) {
        Some(AnyConfig::Bert(bert)) => Ok(bert),
        Some(_) => Err(TrainError::Unsupported(InvalidKey::new(
            key,
            "needs a BERT teacher (config.json model_type \"bert\"); use init: config with \
             student.config, or init: checkpoint",
        ))),
        None => Err(TrainError::Unsupported(InvalidKey::new(
            key,
            "needs a teacher (its vocabulary and positions); without one use student.config",
        ))),
    }
}

/// Every listed layer exists in a teacher of `n_layers` layers.
fn check_teacher_layers(layers: &[i64], n_layers: i64) -> Result<(), TrainError> {
    distil_student::check_teacher_layers(layers, n_layers).map_err(teacher_layers_key)
}

/// A layer the teacher lacks is a mistake in `student.teacher_layers` (validation has already
/// refused an empty list).
fn teacher_layers_key(error: InitStudentError) -> TrainError {
    match error {
        InitStudentError::LayerOutOfRange { .. } => {
            TrainError::Incompatible(InvalidKey::new("student.teacher_layers", error.to_string()))
        }
        other => other.into(),
    }
}

fn required_path<'a>(path: Option<&'a Path>, key: &str) -> Result<&'a Path, TrainError> {
    path.ok_or_else(|| TrainError::Unsupported(InvalidKey::new(key, "is required by student.init")))
}

pub fn model_dims(config: &AnyConfig) -> ModelDims {
    match config {
        AnyConfig::Bert(c) => ModelDims {
            vocab_size: c.vocab_size,
            hidden_size: c.hidden_size,
            max_position_embeddings: c.max_position_embeddings,
            n_layers: c.num_hidden_layers,
            n_heads: c.num_attention_heads,
        },
        AnyConfig::DistilBert(c) => ModelDims {
            vocab_size: c.vocab_size,
            hidden_size: c.dim,
            max_position_embeddings: c.max_position_embeddings,
            n_layers: c.n_layers,
            n_heads: c.n_heads,
        },
        AnyConfig::Roberta(c) => ModelDims {
            vocab_size: c.vocab_size,
            hidden_size: c.hidden_size,
            // The positions a token can take, without the padding index's rows.
            max_position_embeddings: config.max_position_embeddings(),
            n_layers: c.num_hidden_layers,
            n_heads: c.num_attention_heads,
        },
        AnyConfig::Gpt2(c) => ModelDims {
            vocab_size: c.vocab_size,
            hidden_size: c.n_embd,
            max_position_embeddings: c.n_positions,
            n_layers: c.n_layer,
            n_heads: c.n_head,
        },
    }
}

/// `train.py`'s sanity checks between the models, and between the models and the shards
/// (every id must be in the vocabulary, every sequence within the position table).
pub fn check_models(
    config: &DistillConfig,
    teacher: Option<&Teacher>,
    student: &Student,
    manifest: &Manifest,
) -> Result<(), TrainError> {
    check_objectives(
        teacher.map(|t| t.config.objective()),
        student.config.objective(),
        &config.loss,
    )
    .map_err(TrainError::Incompatible)?;
    let student = model_dims(&student.config);
    let (model, teacher) = match teacher {
        Some(teacher) => {
            let teacher = model_dims(&teacher.config);
            check_compatibility(&teacher, &student, &config.loss)?;
            ("teacher", teacher)
        }
        None => ("student", student),
    };
    if manifest.vocab_size as i64 != teacher.vocab_size {
        return Err(TrainError::Incompatible(InvalidKey::new(
            "data.shards",
            format!(
                "`{}` was tokenised with a vocabulary of {} ids but the {model} has {}",
                config.data.shards.display(),
                manifest.vocab_size,
                teacher.vocab_size
            ),
        )));
    }
    if manifest.max_seq_len as i64 > teacher.max_position_embeddings {
        return Err(TrainError::Incompatible(InvalidKey::new(
            "data.shards",
            format!(
                "`{}` holds sequences of up to {} tokens but the models have {} positions \
                 (prepare the shards with --max-seq-len {})",
                config.data.shards.display(),
                manifest.max_seq_len,
                teacher.max_position_embeddings,
                teacher.max_position_embeddings
            ),
        )));
    }
    Ok(())
}
