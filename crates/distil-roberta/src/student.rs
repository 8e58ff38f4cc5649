//! A DistilRoBERTa student from chosen teacher layers, as the reference's `scripts/extract.py`
//! builds one for RoBERTa: the same architecture with fewer layers, the embeddings and the whole
//! `lm_head` copied, and student layer `i` a copy of teacher layer `layers[i]`.

use distil_core::nn::{copy_from_teacher, freeze_variable, ModelError, Pretrained};
use tch::nn::VarStore;
use tch::Device;

use crate::model::ROBERTA_PREFIX;
use crate::{RobertaConfig, RobertaForMaskedLM};

/// The student of `teacher` (a `RobertaForMaskedLM`'s config and store) with `layers.len()`
/// layers, on `device`. A layer the teacher lacks is [`ModelError::UnknownVariable`] naming
/// the missing teacher weight.
pub fn student_from_teacher(
    teacher: &RobertaConfig,
    teacher_vs: &VarStore,
    layers: &[i64],
    device: Device,
) -> Result<Pretrained<RobertaForMaskedLM, RobertaConfig>, ModelError> {
    let config = RobertaConfig {
        num_hidden_layers: layers.len() as i64,
        ..teacher.clone()
    };
    let vs = VarStore::new(device);
    let model = RobertaForMaskedLM::new(vs.root(), &config);
    let layer_prefix = format!("{ROBERTA_PREFIX}.encoder.layer.");
    copy_from_teacher(&vs, teacher_vs, &layer_prefix, layers)?;
    Ok(Pretrained {
        vs,
        model,
        config,
        report: Default::default(),
    })
}

impl RobertaForMaskedLM {
    /// Freezes the position table, as the reference trains DistilRoBERTa (`--freeze_pos_embs`).
    pub fn freeze_position_embeddings(&self, vs: &VarStore) -> Result<(), ModelError> {
        freeze_variable(
            vs,
            &format!("{ROBERTA_PREFIX}.embeddings.position_embeddings.weight"),
        )
    }
}
