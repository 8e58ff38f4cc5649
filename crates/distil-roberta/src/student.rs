//! A DistilRoBERTa student from chosen teacher layers, as the reference's `scripts/extract.py`
//! builds one for RoBERTa: the same architecture with fewer layers, the embeddings and the whole
//! `lm_head` copied, and student layer `i` a copy of teacher layer `layers[i]`.

use std::collections::HashMap;

use distil_core::nn::{freeze_variable, ModelError, Pretrained};
use tch::nn::VarStore;
use tch::{Device, Tensor};

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
    let sources: HashMap<String, Tensor> = teacher_vs.variables().into_iter().collect();
    let layer_prefix = format!("{ROBERTA_PREFIX}.encoder.layer.");
    tch::no_grad(|| {
        for (name, mut variable) in vs.variables() {
            let source_name = match name.strip_prefix(&layer_prefix) {
                Some(rest) => {
                    let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
                    let teacher_layer = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| layers.get(i))
                        .copied()
                        .unwrap_or(-1);
                    format!("{layer_prefix}{teacher_layer}.{tail}")
                }
                None => name.clone(),
            };
            let source = sources
                .get(&source_name)
                .ok_or(ModelError::UnknownVariable { name: source_name })?;
            variable.copy_(source);
        }
        Ok::<(), ModelError>(())
    })?;
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
