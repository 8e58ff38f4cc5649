//! A DistilBERT student initialised from chosen BERT teacher layers, as the reference
//! `scripts/extract_distilbert.py` does: embeddings (without token types), the chosen
//! layers renamed, and the MLM head's bias (and, optionally, its transform). A teacher saved
//! as a bare `BertModel` (no `cls.predictions.*`, like sentence-embedding checkpoints) gives
//! the student a fresh head: its projection is tied to the word embeddings anyway, the bias
//! starts at zero.

use std::collections::BTreeMap;
use std::path::Path;

use distil_core::checkpoint::{has_mlm_head, save_hf_dir, SaveOptions};
use distil_core::nn::{
    build_and_load, read_config_file, read_weights, ModelError, Pretrained, PretrainedModel,
};
use distil_teacher::{BertConfig, BertForMaskedLM};
use serde_json::Value;
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::config::LAYER_NORM_EPS;
use crate::shape::StudentShape;
use crate::{DistilBertConfig, DistilBertForMaskedLM};

/// The paper's choice for a 6-layer student of a 12-layer teacher ("one layer out of two").
pub const PAPER_LAYERS: [i64; 6] = [0, 2, 4, 7, 9, 11];

/// Where the student's MLM head comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudentHead {
    /// The teacher's `cls.predictions` bias, and its transform when `vocab_transform` is set
    /// (otherwise the transform starts from a fresh init).
    FromTeacher { vocab_transform: bool },
    /// The teacher has no MLM head: transform and LayerNorm fresh, bias zero.
    Fresh,
}

/// Teacher sub-module (under `bert.encoder.layer.N.`) to student sub-module (under
/// `distilbert.transformer.layer.i.`); each has a `weight` and a `bias`.
const LAYER_MAP: [(&str, &str); 8] = [
    ("attention.self.query", "attention.q_lin"),
    ("attention.self.key", "attention.k_lin"),
    ("attention.self.value", "attention.v_lin"),
    ("attention.output.dense", "attention.out_lin"),
    ("attention.output.LayerNorm", "sa_layer_norm"),
    ("intermediate.dense", "ffn.lin1"),
    ("output.dense", "ffn.lin2"),
    ("output.LayerNorm", "output_layer_norm"),
];

/// Why a student cannot be made from a teacher.
#[derive(Debug, thiserror::Error)]
pub enum InitStudentError {
    #[error("--layers is empty: name at least one teacher layer")]
    NoLayers,
    #[error(
        "teacher layer {layer} does not exist: the teacher has {n_layers} layers (0..{n_layers})"
    )]
    LayerOutOfRange { layer: i64, n_layers: i64 },
    #[error(
        "the teacher's layer_norm_eps is {found}, but DistilBERT's LayerNorm eps is fixed at \
         {LAYER_NORM_EPS}: the student would not compute what the teacher's layers compute"
    )]
    LayerNormEps { found: f64 },
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The student's config: the teacher's widths, heads, activation, dropouts and positions,
/// with `layers.len()` layers (HF's key renaming: `hidden_size` to `dim`, and so on).
pub fn student_config(
    teacher: &BertConfig,
    layers: &[i64],
) -> Result<DistilBertConfig, InitStudentError> {
    check_teacher_layers(layers, teacher.num_hidden_layers)?;
    if teacher.layer_norm_eps != LAYER_NORM_EPS {
        return Err(InitStudentError::LayerNormEps {
            found: teacher.layer_norm_eps,
        });
    }
    Ok(StudentShape::of_teacher(teacher, layers.len() as i64).config(teacher))
}

/// A layer list for a teacher of `n_layers` layers (of any family): not empty, every layer
/// one the teacher has.
pub fn check_teacher_layers(layers: &[i64], n_layers: i64) -> Result<(), InitStudentError> {
    if layers.is_empty() {
        return Err(InitStudentError::NoLayers);
    }
    match layers.iter().find(|&&l| !(0..n_layers).contains(&l)) {
        Some(&layer) => Err(InitStudentError::LayerOutOfRange { layer, n_layers }),
        None => Ok(()),
    }
}

/// Student tensors from teacher tensors named as a `BertForMaskedLM`'s variables: student
/// layer `i` takes teacher layer `layers[i]`; the head's tensors as `head` says (those left
/// out keep the student's fresh init).
pub fn student_tensors(
    teacher: &BTreeMap<String, Tensor>,
    layers: &[i64],
    head: StudentHead,
) -> BTreeMap<String, Tensor> {
    let mut names: Vec<(String, String)> = Vec::new();
    for part in ["word_embeddings.weight", "position_embeddings.weight"]
        .into_iter()
        .chain(["LayerNorm.weight", "LayerNorm.bias"])
    {
        names.push((
            format!("bert.embeddings.{part}"),
            format!("distilbert.embeddings.{part}"),
        ));
    }
    for (student, &layer) in layers.iter().enumerate() {
        for (from, to) in LAYER_MAP {
            for suffix in ["weight", "bias"] {
                names.push((
                    format!("bert.encoder.layer.{layer}.{from}.{suffix}"),
                    format!("distilbert.transformer.layer.{student}.{to}.{suffix}"),
                ));
            }
        }
    }
    if matches!(head, StudentHead::FromTeacher { .. }) {
        names.push((
            "cls.predictions.bias".to_string(),
            "vocab_projector.bias".to_string(),
        ));
    }
    if head
        == (StudentHead::FromTeacher {
            vocab_transform: true,
        })
    {
        for (from, to) in [
            ("cls.predictions.transform.dense", "vocab_transform"),
            ("cls.predictions.transform.LayerNorm", "vocab_layer_norm"),
        ] {
            for suffix in ["weight", "bias"] {
                names.push((format!("{from}.{suffix}"), format!("{to}.{suffix}")));
            }
        }
    }
    names
        .into_iter()
        .filter_map(|(from, to)| teacher.get(&from).map(|t| (to, t.shallow_clone())))
        .collect()
}

/// Loads the teacher's checkpoint from `teacher_dir` (a BERT MLM, or a bare `BertModel`) and
/// builds the student in a new store on `device`; every student variable is the teacher's,
/// except a fresh MLM transform when `vocab_transform` is off and a fresh head when the
/// teacher has none (the load report lists the fresh variables).
pub fn init_student(
    teacher_dir: &Path,
    layers: &[i64],
    vocab_transform: bool,
    device: Device,
) -> Result<Pretrained<DistilBertForMaskedLM, DistilBertConfig>, InitStudentError> {
    let config: BertConfig = read_config_file(&teacher_dir.join("config.json"))?;
    let (file, tensors) = read_weights(teacher_dir)?;
    let head = match has_mlm_head(&tensors) {
        true => StudentHead::FromTeacher { vocab_transform },
        false => StudentHead::Fresh,
    };
    let spec = BertForMaskedLM::load_spec().allow_missing(["cls.predictions"]);
    let teacher = build_and_load(config, &tensors, &file, &spec, Device::Cpu, |p, c| {
        BertForMaskedLM::new(p, c)
    })?;
    student_from_teacher(&teacher.config, &teacher.vs, &file, layers, head, device)
}

/// [`init_student`] from a teacher already loaded into `teacher_vs` from `weights_file` (its
/// weights file or folder, named in errors): the student's config and tensors mapped from the
/// teacher's, in a new store on `device`.
pub fn student_from_teacher(
    teacher_config: &BertConfig,
    teacher_vs: &VarStore,
    weights_file: &Path,
    layers: &[i64],
    head: StudentHead,
    device: Device,
) -> Result<Pretrained<DistilBertForMaskedLM, DistilBertConfig>, InitStudentError> {
    let config = student_config(teacher_config, layers)?;
    let teacher_tensors = teacher_vs.variables().into_iter().collect();
    let tensors = student_tensors(&teacher_tensors, layers, head);
    let spec = match head {
        StudentHead::FromTeacher {
            vocab_transform: true,
        } => DistilBertForMaskedLM::load_spec(),
        StudentHead::FromTeacher {
            vocab_transform: false,
        } => DistilBertForMaskedLM::load_spec()
            .allow_missing(["vocab_transform", "vocab_layer_norm"]),
        StudentHead::Fresh => DistilBertForMaskedLM::load_spec().allow_missing([
            "vocab_transform",
            "vocab_layer_norm",
            "vocab_projector",
        ]),
    };
    Ok(build_and_load(
        config,
        &tensors,
        weights_file,
        &spec,
        device,
        DistilBertForMaskedLM::new,
    )?)
}

/// Writes a student as an HF directory (its config, `model.safetensors`, and the tokenizer
/// files found in `tokenizer_dir`).
pub fn save_student<M, C: serde::Serialize>(
    student: &Pretrained<M, C>,
    out_dir: &Path,
    tokenizer_dir: Option<&Path>,
) -> Result<(), ModelError> {
    let config: Value =
        serde_json::to_value(&student.config).map_err(|e| ModelError::ParseConfig {
            path: out_dir.join("config.json"),
            message: e.to_string(),
        })?;
    let options = SaveOptions {
        dtype: None,
        tokenizer_dir: tokenizer_dir.map(Path::to_path_buf),
    };
    save_hf_dir(out_dir, &config, &student.vs, &options)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teacher_config() -> BertConfig {
        serde_json::from_value(serde_json::json!({
            "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 4,
            "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32,
            "hidden_act": "gelu_new", "attention_probs_dropout_prob": 0.05
        }))
        .unwrap()
    }

    #[test]
    fn config_follows_the_teacher_and_the_layer_list() {
        let student = student_config(&teacher_config(), &[0, 3]).unwrap();
        assert_eq!(
            (
                student.dim,
                student.n_layers,
                student.n_heads,
                student.hidden_dim
            ),
            (8, 2, 2, 16)
        );
        assert_eq!(student.activation, distil_core::nn::Activation::GeluNew);
        assert_eq!(student.attention_dropout, 0.05);
        assert_eq!(student.max_position_embeddings, 32);
    }

    #[test]
    fn bad_layer_lists_are_refused() {
        let config = teacher_config();
        let err = student_config(&config, &[0, 4]).unwrap_err().to_string();
        assert!(err.contains("layer 4") && err.contains("4 layers"), "{err}");
        assert!(matches!(
            student_config(&config, &[]),
            Err(InitStudentError::NoLayers)
        ));
    }
}
