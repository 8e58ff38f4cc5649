//! A DistilGPT2 student from chosen teacher layers, as the reference's `scripts/extract.py`
//! builds one for GPT-2: the same architecture with fewer blocks, `wte`, `wpe` and `ln_f`
//! copied (the head is `wte` itself), and student block `i` a copy of teacher block `layers[i]`.

use distil_core::nn::{copy_from_teacher, freeze_variable, ModelError, Pretrained};
use tch::nn::VarStore;
use tch::Device;

use crate::model::GPT2_PREFIX;
use crate::{Gpt2Config, Gpt2LMHeadModel};

/// The student of `teacher` (a `GPT2LMHeadModel`'s config and store) with `layers.len()`
/// blocks, on `device`. A block the teacher lacks is [`ModelError::UnknownVariable`] naming
/// the missing teacher weight.
pub fn student_from_teacher(
    teacher: &Gpt2Config,
    teacher_vs: &VarStore,
    layers: &[i64],
    device: Device,
) -> Result<Pretrained<Gpt2LMHeadModel, Gpt2Config>, ModelError> {
    let config = Gpt2Config {
        n_layer: layers.len() as i64,
        ..teacher.clone()
    };
    let vs = VarStore::new(device);
    let model = Gpt2LMHeadModel::new(vs.root(), &config);
    copy_from_teacher(&vs, teacher_vs, &format!("{GPT2_PREFIX}.h."), layers)?;
    Ok(Pretrained {
        vs,
        model,
        config,
        report: Default::default(),
    })
}

impl Gpt2LMHeadModel {
    /// Freezes the position table (`wpe`), as the reference trains DistilGPT2
    /// (`--freeze_pos_embs`).
    pub fn freeze_position_embeddings(&self, vs: &VarStore) -> Result<(), ModelError> {
        freeze_variable(vs, &format!("{GPT2_PREFIX}.wpe.weight"))
    }
}
