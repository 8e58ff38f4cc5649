//! Freezing single variables of a VarStore (tch only freezes whole stores).

use tch::nn::VarStore;

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
