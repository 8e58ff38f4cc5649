//! Which teacher layer each student layer learns from in the intermediate-layer losses
//! (`loss.layer_map`): TinyBERT's uniform map `g(m) = m * N / M` (Jiao et al. 2020, eq. 6) by
//! default, or an explicit list. Layers are counted from 1, as hidden states are indexed: 0 is
//! the embeddings' output, which always maps to the teacher's.

use distil_core::config::InvalidKey;
use serde::{Deserialize, Serialize};

const KEY: &str = "loss.layer_map";

/// `uniform`, or the teacher layer (1..=N) for each student layer 1..=M.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "LayerMapSpec", into = "LayerMapSpec")]
pub enum LayerMap {
    #[default]
    Uniform,
    Explicit(Vec<usize>),
}

/// The YAML spelling: the word `uniform` or a list of layers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum LayerMapSpec {
    Named(UniformName),
    Layers(Vec<usize>),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UniformName {
    Uniform,
}

impl From<LayerMapSpec> for LayerMap {
    fn from(spec: LayerMapSpec) -> Self {
        match spec {
            LayerMapSpec::Named(UniformName::Uniform) => LayerMap::Uniform,
            LayerMapSpec::Layers(layers) => LayerMap::Explicit(layers),
        }
    }
}

impl From<LayerMap> for LayerMapSpec {
    fn from(map: LayerMap) -> Self {
        match map {
            LayerMap::Uniform => LayerMapSpec::Named(UniformName::Uniform),
            LayerMap::Explicit(layers) => LayerMapSpec::Layers(layers),
        }
    }
}

impl LayerMap {
    pub fn is_uniform(&self) -> bool {
        *self == LayerMap::Uniform
    }

    /// Hidden-state index pairs `(student, teacher)`: `(0, 0)` for the embeddings, then
    /// `(m, g(m))` for every student layer `m` in 1..=`student_layers`.
    pub fn hidden_state_pairs(
        &self,
        student_layers: usize,
        teacher_layers: usize,
    ) -> Result<Vec<(usize, usize)>, InvalidKey> {
        let targets: Vec<usize> = match self {
            LayerMap::Uniform => {
                if student_layers > teacher_layers {
                    return Err(InvalidKey::new(
                        KEY,
                        format!(
                            "uniform needs no more student layers ({student_layers}) than \
                             teacher layers ({teacher_layers}); list the teacher layers instead"
                        ),
                    ));
                }
                (1..=student_layers)
                    .map(|m| m * teacher_layers / student_layers)
                    .collect()
            }
            LayerMap::Explicit(layers) => {
                if layers.len() != student_layers {
                    return Err(InvalidKey::new(
                        KEY,
                        format!(
                            "lists {} teacher layers but the student has {student_layers} layers",
                            layers.len()
                        ),
                    ));
                }
                if let Some(bad) = layers.iter().find(|&&l| !(1..=teacher_layers).contains(&l)) {
                    return Err(InvalidKey::new(
                        KEY,
                        format!(
                            "teacher layer {bad} does not exist: layers are counted from 1 to \
                             {teacher_layers} (0, the embeddings, is always mapped)"
                        ),
                    ));
                }
                layers.clone()
            }
        };
        Ok(std::iter::once((0, 0))
            .chain(targets.into_iter().enumerate().map(|(i, t)| (i + 1, t)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_tinybert_g_of_m() {
        let pairs = LayerMap::Uniform.hidden_state_pairs(4, 12).unwrap();
        assert_eq!(pairs, [(0, 0), (1, 3), (2, 6), (3, 9), (4, 12)]);
        let pairs = LayerMap::Uniform.hidden_state_pairs(3, 6).unwrap();
        assert_eq!(pairs, [(0, 0), (1, 2), (2, 4), (3, 6)]);
        // Not a divisor: floor, and the last student layer still meets the last teacher layer.
        let pairs = LayerMap::Uniform.hidden_state_pairs(5, 12).unwrap();
        assert_eq!(pairs, [(0, 0), (1, 2), (2, 4), (3, 7), (4, 9), (5, 12)]);
    }

    #[test]
    fn explicit_lists_are_checked_against_both_models() {
        let map = LayerMap::Explicit(vec![2, 4]);
        assert_eq!(
            map.hidden_state_pairs(2, 4).unwrap(),
            [(0, 0), (1, 2), (2, 4)]
        );
        let err = map.hidden_state_pairs(3, 4).unwrap_err();
        assert!(err.message.contains("student has 3 layers"), "{err}");
        let err = LayerMap::Explicit(vec![0, 4])
            .hidden_state_pairs(2, 4)
            .unwrap_err();
        assert!(err.message.contains("counted from 1"), "{err}");
        let err = LayerMap::Uniform.hidden_state_pairs(5, 4).unwrap_err();
        assert_eq!(err.key, KEY);
    }

    #[test]
    fn yaml_spellings_round_trip() {
        let uniform: LayerMap = serde_yaml::from_str("uniform").unwrap();
        assert_eq!(uniform, LayerMap::Uniform);
        let listed: LayerMap = serde_yaml::from_str("[3, 6, 9, 12]").unwrap();
        assert_eq!(listed, LayerMap::Explicit(vec![3, 6, 9, 12]));
        assert_eq!(
            serde_yaml::to_string(&listed).unwrap().trim(),
            "- 3\n- 6\n- 9\n- 12"
        );
        assert!(serde_yaml::from_str::<LayerMap>("linear").is_err());
    }
}
