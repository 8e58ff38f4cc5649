//! Checking a checkpoint's tensor shapes against the sizes its `config.json` gives: a folder
//! whose config disagrees with its weights cannot be loaded by `transformers`, so it is refused
//! before it is written, naming the config key and both shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tch::Tensor;

use super::{CheckpointError, ConfigShapeMismatch};

/// The shape a tensor must have: the end of its name (`*` for the layer index) and, for each
/// dimension, the config key that sizes it.
struct ShapeRule {
    suffix: &'static str,
    dims: &'static [&'static str],
}

const fn rule(suffix: &'static str, dims: &'static [&'static str]) -> ShapeRule {
    ShapeRule { suffix, dims }
}

/// The sizes of one architecture: its tensors, and the key counting its encoder layers with
/// the name segment before the layer index.
struct Layout {
    rules: &'static [ShapeRule],
    layers_key: &'static str,
    layer_prefix: &'static str,
}

const DISTILBERT: Layout = Layout {
    rules: &[
        rule("embeddings.word_embeddings.weight", &["vocab_size", "dim"]),
        rule(
            "embeddings.position_embeddings.weight",
            &["max_position_embeddings", "dim"],
        ),
        rule("embeddings.LayerNorm.weight", &["dim"]),
        rule(
            "transformer.layer.*.attention.q_lin.weight",
            &["dim", "dim"],
        ),
        rule(
            "transformer.layer.*.attention.k_lin.weight",
            &["dim", "dim"],
        ),
        rule(
            "transformer.layer.*.attention.v_lin.weight",
            &["dim", "dim"],
        ),
        rule(
            "transformer.layer.*.attention.out_lin.weight",
            &["dim", "dim"],
        ),
        rule(
            "transformer.layer.*.ffn.lin1.weight",
            &["hidden_dim", "dim"],
        ),
        rule(
            "transformer.layer.*.ffn.lin2.weight",
            &["dim", "hidden_dim"],
        ),
        rule("vocab_transform.weight", &["dim", "dim"]),
        rule("vocab_projector.weight", &["vocab_size", "dim"]),
        rule("vocab_projector.bias", &["vocab_size"]),
    ],
    layers_key: "n_layers",
    layer_prefix: "transformer.layer",
};

const BERT: Layout = Layout {
    rules: &[
        rule(
            "embeddings.word_embeddings.weight",
            &["vocab_size", "hidden_size"],
        ),
        rule(
            "embeddings.position_embeddings.weight",
            &["max_position_embeddings", "hidden_size"],
        ),
        rule(
            "embeddings.token_type_embeddings.weight",
            &["type_vocab_size", "hidden_size"],
        ),
        rule("embeddings.LayerNorm.weight", &["hidden_size"]),
        rule(
            "encoder.layer.*.attention.self.query.weight",
            &["hidden_size", "hidden_size"],
        ),
        rule(
            "encoder.layer.*.attention.self.key.weight",
            &["hidden_size", "hidden_size"],
        ),
        rule(
            "encoder.layer.*.attention.self.value.weight",
            &["hidden_size", "hidden_size"],
        ),
        rule(
            "encoder.layer.*.attention.output.dense.weight",
            &["hidden_size", "hidden_size"],
        ),
        rule(
            "encoder.layer.*.intermediate.dense.weight",
            &["intermediate_size", "hidden_size"],
        ),
        rule(
            "encoder.layer.*.output.dense.weight",
            &["hidden_size", "intermediate_size"],
        ),
        rule("pooler.dense.weight", &["hidden_size", "hidden_size"]),
        rule(
            "cls.predictions.transform.dense.weight",
            &["hidden_size", "hidden_size"],
        ),
        rule(
            "cls.predictions.decoder.weight",
            &["vocab_size", "hidden_size"],
        ),
        rule("cls.predictions.bias", &["vocab_size"]),
        // RoBERTa's head; its encoder has BERT's names.
        rule("lm_head.dense.weight", &["hidden_size", "hidden_size"]),
        rule("lm_head.decoder.weight", &["vocab_size", "hidden_size"]),
        rule("lm_head.bias", &["vocab_size"]),
    ],
    layers_key: "num_hidden_layers",
    layer_prefix: "encoder.layer",
};

/// Checks the tensors of a BERT, RoBERTa or DistilBERT checkpoint (by `config`'s
/// `model_type`; other types pass) against the sizes `config` (read from `config_path`) gives them, and the number
/// of encoder layers against its layer count. A size the config leaves out is not checked.
pub fn check_config_shapes(
    config_path: &Path,
    config: &serde_json::Value,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<(), CheckpointError> {
    let layout = match config.get("model_type").and_then(serde_json::Value::as_str) {
        Some("distilbert") => &DISTILBERT,
        // RoBERTa's position table also has `max_position_embeddings` rows (padding included).
        Some("bert" | "roberta") => &BERT,
        _ => return Ok(()),
    };
    let size = |key: &str| config.get(key).and_then(serde_json::Value::as_i64);
    let mut layers = BTreeSet::new();
    // The first disagreement in rule order: the word embeddings before a LayerNorm.
    let mut first: Option<(usize, CheckpointError)> = None;
    for (name, tensor) in tensors {
        let (pattern, layer) = layer_pattern(name, layout.layer_prefix);
        layers.extend(layer);
        let Some((index, rule)) = layout
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| ends_with_segments(&pattern, r.suffix))
        else {
            continue;
        };
        if first.as_ref().is_some_and(|(earlier, _)| *earlier <= index) {
            continue;
        }
        let found = tensor.size();
        let expected: Option<Vec<i64>> = rule.dims.iter().map(|key| size(key)).collect();
        let Some(expected) = expected else {
            continue;
        };
        if found == expected {
            continue;
        }
        // Name the first key whose size disagrees (a wrong rank names the first key).
        let at = (0..expected.len())
            .find(|&i| found.get(i) != Some(&expected[i]))
            .unwrap_or(0);
        let error = CheckpointError::ConfigShape(Box::new(ConfigShapeMismatch {
            path: config_path.to_path_buf(),
            key: rule.dims[at].to_string(),
            value: expected[at],
            tensor: name.clone(),
            expected,
            found,
        }));
        first = Some((index, error));
    }
    if let Some((_, error)) = first {
        return Err(error);
    }
    if let (Some(count), false) = (size(layout.layers_key), layers.is_empty()) {
        let found = layers.len() as i64;
        if found != count {
            return Err(CheckpointError::ConfigLayers {
                path: config_path.to_path_buf(),
                key: layout.layers_key.to_string(),
                value: count,
                found,
            });
        }
    }
    Ok(())
}

/// The tensor name with the layer index after `layer_prefix` replaced by `*`, and that index.
fn layer_pattern(name: &str, layer_prefix: &str) -> (String, Option<u64>) {
    let marker = format!("{layer_prefix}.");
    let Some(at) = name.find(&marker) else {
        return (name.to_string(), None);
    };
    let rest = &name[at + marker.len()..];
    let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
    match index.parse::<u64>() {
        Ok(layer) => (
            format!("{}*.{tail}", &name[..at + marker.len()]),
            Some(layer),
        ),
        Err(_) => (name.to_string(), None),
    }
}

/// Whether `name` ends with `suffix` at a `.` boundary (`bert.pooler.dense.weight` ends with
/// `pooler.dense.weight`; `attention.output.dense.weight` does not end with
/// `layer.*.output.dense.weight`).
fn ends_with_segments(name: &str, suffix: &str) -> bool {
    name == suffix
        || name
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tch::Kind;

    use super::*;

    fn distilbert(dim: i64, layers: i64) -> BTreeMap<String, Tensor> {
        let mut tensors = BTreeMap::new();
        let mut add = |name: String, shape: &[i64]| {
            tensors.insert(name, Tensor::zeros(shape, (Kind::Float, tch::Device::Cpu)));
        };
        add("distilbert.embeddings.LayerNorm.weight".into(), &[dim]);
        add(
            "distilbert.embeddings.word_embeddings.weight".into(),
            &[50, dim],
        );
        for layer in 0..layers {
            let prefix = format!("distilbert.transformer.layer.{layer}");
            add(format!("{prefix}.attention.q_lin.weight"), &[dim, dim]);
            add(format!("{prefix}.ffn.lin1.weight"), &[4 * dim, dim]);
            add(format!("{prefix}.ffn.lin2.weight"), &[dim, 4 * dim]);
        }
        add("vocab_projector.bias".into(), &[50]);
        tensors
    }

    fn config(dim: i64, layers: i64) -> serde_json::Value {
        json!({"model_type": "distilbert", "dim": dim, "hidden_dim": 4 * dim,
               "vocab_size": 50, "n_layers": layers})
    }

    #[test]
    fn a_matching_config_passes() {
        let path = Path::new("config.json");
        check_config_shapes(path, &config(8, 2), &distilbert(8, 2)).unwrap();
        // Sizes the config leaves out are not checked; other model types are not checked.
        check_config_shapes(
            path,
            &json!({"model_type": "distilbert"}),
            &distilbert(8, 2),
        )
        .unwrap();
        check_config_shapes(path, &json!({"model_type": "gpt2"}), &distilbert(8, 2)).unwrap();
    }

    #[test]
    fn a_doubled_size_names_the_key_and_both_shapes() {
        let err = check_config_shapes(
            Path::new("m/config.json"),
            &config(16, 2),
            &distilbert(8, 2),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "m/config.json says `dim` = 16, so `distilbert.embeddings.word_embeddings.weight` \
             should be [50, 16], but the checkpoint has [50, 8]"
        );
    }

    #[test]
    fn a_wrong_inner_size_or_layer_count_is_refused() {
        let mut wrong_ffn = config(8, 2);
        wrong_ffn["hidden_dim"] = json!(64);
        let err = check_config_shapes(Path::new("c.json"), &wrong_ffn, &distilbert(8, 2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`hidden_dim` = 64"), "{err}");
        assert!(err.contains("ffn.lin1.weight"), "{err}");
        assert!(err.contains("[64, 8]") && err.contains("[32, 8]"), "{err}");

        let err = check_config_shapes(Path::new("c.json"), &config(8, 3), &distilbert(8, 2))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`n_layers` = 3") && err.contains("has 2"),
            "{err}"
        );
    }

    /// RoBERTa has BERT's names under `roberta.`, and its own `lm_head`.
    #[test]
    fn roberta_is_checked_with_berts_layout_and_its_head() {
        let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, tch::Device::Cpu));
        let tensors = BTreeMap::from([
            (
                "roberta.embeddings.position_embeddings.weight".to_string(),
                zeros(&[66, 8]),
            ),
            (
                "roberta.encoder.layer.0.intermediate.dense.weight".to_string(),
                zeros(&[32, 8]),
            ),
            ("lm_head.bias".to_string(), zeros(&[50])),
        ]);
        let mut config = json!({"model_type": "roberta", "hidden_size": 8, "vocab_size": 50,
            "intermediate_size": 32, "max_position_embeddings": 66, "num_hidden_layers": 1});
        check_config_shapes(Path::new("c.json"), &config, &tensors).unwrap();
        config["vocab_size"] = json!(60);
        let err = check_config_shapes(Path::new("c.json"), &config, &tensors)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`vocab_size` = 60") && err.contains("lm_head.bias"),
            "{err}"
        );
    }

    #[test]
    fn layer_indices_are_matched_at_segment_boundaries() {
        assert_eq!(
            layer_pattern("bert.encoder.layer.11.output.dense.weight", "encoder.layer"),
            (
                "bert.encoder.layer.*.output.dense.weight".to_string(),
                Some(11)
            )
        );
        assert!(ends_with_segments(
            "bert.encoder.layer.*.output.dense.weight",
            "encoder.layer.*.output.dense.weight"
        ));
        assert!(!ends_with_segments(
            "bert.encoder.layer.*.attention.output.dense.weight",
            "encoder.layer.*.output.dense.weight"
        ));
    }
}
