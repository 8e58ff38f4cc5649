//! Freezing single variables of a VarStore (tch only freezes whole stores), and filling a
//! shallower student's store from a teacher's.

use std::collections::HashMap;

use tch::nn::VarStore;
use tch::Tensor;

use super::ModelError;

/// Stops training the variable `name`: it no longer requires a gradient and leaves the
/// store's trainable list, so optimisers built afterwards and `VarStore::unfreeze` skip it.
/// Loading weights still fills it.
pub fn freeze_variable(vs: &VarStore, name: &str) -> Result<(), ModelError> {
    let mut variables = vs
        .variables_
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tensor = variables
        .named_variables
        .get(name)
        .map(|t| t.shallow_clone())
        .ok_or_else(|| ModelError::UnknownVariable {
            name: name.to_string(),
        })?;
    let _ = tensor.set_requires_grad(false);
    let ptr = tensor.data_ptr();
    variables
        .trainable_variables
        .retain(|var| var.tensor.data_ptr() != ptr);
    Ok(())
}

/// Fills every variable of `student` from the teacher's variable of the same name, except that
/// layer `i` under `layer_prefix` (`roberta.encoder.layer.`, `transformer.h.`) is a copy of
/// teacher layer `layers[i]`: the reference's `scripts/extract.py` for every family. A name the
/// teacher lacks is [`ModelError::UnknownVariable`] naming the teacher weight.
pub fn copy_from_teacher(
    student: &VarStore,
    teacher: &VarStore,
    layer_prefix: &str,
    layers: &[i64],
) -> Result<(), ModelError> {
    let sources: HashMap<String, Tensor> = teacher.variables().into_iter().collect();
    tch::no_grad(|| {
        for (name, mut variable) in student.variables() {
            let source_name = match name.strip_prefix(layer_prefix) {
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
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    #[test]
    fn frozen_variable_leaves_the_trainable_list_and_stays_frozen() {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().zeros("a", &[2]);
        let _b = vs.root().zeros("b", &[2]);
        freeze_variable(&vs, "a").unwrap();
        assert!(!a.requires_grad());
        assert_eq!(vs.trainable_variables().len(), 1);
        vs.unfreeze();
        assert!(!a.requires_grad());
        assert_eq!(vs.variables().len(), 2);
        let err = freeze_variable(&vs, "c").unwrap_err().to_string();
        assert!(err.contains("`c`"), "{err}");
    }
}
