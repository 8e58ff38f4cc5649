//! YAML run configs shared by distillation and fine-tuning: read a file, apply `--set a.b=c`
//! overrides, deserialise into the caller's `deny_unknown_fields` structs with errors that name
//! the file and the key, and save the resolved config next to the run.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::fs::write_atomically;

/// Why a run config could not be read, overridden, understood or saved. Every message is one
/// line and names the file and, where there is one, the key path (`loss.alpha_ce`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config `{}`", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config `{}` is not valid YAML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("bad override `--set {spec}`: {reason}")]
    Override { spec: String, reason: String },
    #[error("config `{}`, key `{key}`{origin}: {message}", path.display())]
    Key {
        path: PathBuf,
        key: String,
        /// Empty, or ` (set by --set ...)` when an override wrote the key.
        origin: String,
        message: String,
    },
    #[error("config `{}`, key `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot write config `{}`: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// A config check that failed, naming the key; `validate()` methods return these and the
/// loader attaches the file name.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidKey {
    pub key: String,
    pub message: String,
}

impl InvalidKey {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Attaches the config file the key came from.
    pub fn in_file(self, path: &Path) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: self.key,
            message: self.message,
        }
    }
}

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for InvalidKey {}

/// Reads a YAML config, applies `overrides` (each `a.b.c=value`, the value parsed as YAML so
/// `5e-4`, `true`, `null` and `[0, 2, 4]` keep their types) and deserialises it into `T`.
pub fn load_config<T: DeserializeOwned>(
    path: &Path,
    overrides: &[String],
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config(&text, path, overrides)
}

/// Like [`load_config`] on text already in memory; `path` only names the origin in errors.
pub fn parse_config<T: DeserializeOwned>(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<T, ConfigError> {
    let mut root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: one_line(&e.to_string()),
    })?;
    if root.is_null() {
        // An empty file means "all defaults".
        root = Value::Mapping(Mapping::new());
    }
    let mut overridden = Vec::with_capacity(overrides.len());
    for spec in overrides {
        overridden.push((apply_override(&mut root, spec)?, spec.as_str()));
    }
    serde_path_to_error::deserialize(root).map_err(|e| {
        let key = e.path().to_string();
        let message = one_line(&e.inner().to_string());
        let key = unknown_field_key(&key, &message);
        let origin = overridden
            .iter()
            .find(|(set, _)| key == *set || key.starts_with(&format!("{set}.")))
            .map(|(_, spec)| format!(" (set by --set {spec})"))
            .unwrap_or_default();
        ConfigError::Key {
            path: path.to_path_buf(),
            key,
            origin,
            message,
        }
    })
}

/// Writes the resolved config as YAML, through a temporary file renamed into place.
pub fn save_config<T: Serialize>(config: &T, path: &Path) -> Result<(), ConfigError> {
    let write_error = |message: String| ConfigError::Write {
        path: path.to_path_buf(),
        message,
    };
    let text = serde_yaml::to_string(config).map_err(|e| write_error(e.to_string()))?;
    write_atomically(path, text.as_bytes()).map_err(|e| write_error(e.source.to_string()))
}

/// Sets `a.b.c=value` in `root`, creating missing mappings (unknown keys are then reported by
/// the typed deserialisation, which knows the schema). Returns the key path.
fn apply_override(root: &mut Value, spec: &str) -> Result<String, ConfigError> {
    let bad = |reason: String| ConfigError::Override {
        spec: spec.to_string(),
        reason,
    };
    let (key, raw) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected KEY.PATH=VALUE".to_string()))?;
    let key = key.trim();
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad(format!("`{key}` is not a dotted key path")));
    }
    let value: Value = serde_yaml::from_str(raw)
        .map_err(|e| bad(format!("value is not YAML: {}", one_line(&e.to_string()))))?;
    let mut node = root;
    for (depth, segment) in segments.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            return Err(bad(format!(
                "`{}` is a value, not a section, so it has no key `{segment}`",
                segments[..depth].join(".")
            )));
        };
        node = map
            .entry(Value::String((*segment).to_string()))
            .or_insert(Value::Null);
    }
    *node = value;
    Ok(key.to_string())
}

/// serde reports an unknown field at its parent's path; append the field so the key is exact.
fn unknown_field_key(path: &str, message: &str) -> String {
    let field = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match (field, path) {
        (Some(field), "." | "") => field.to_string(),
        (Some(field), parent) if !parent.ends_with(field) => format!("{parent}.{field}"),
        _ => path.to_string(),
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        rate: f64,
        layers: Vec<i64>,
        on: bool,
    }

    impl Default for Inner {
        fn default() -> Self {
            Self {
                rate: 0.5,
                layers: vec![1],
                on: false,
            }
        }
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    fn parse(text: &str, overrides: &[&str]) -> Result<Outer, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        parse_config(text, Path::new("run.yaml"), &overrides)
    }

    #[test]
    fn overrides_keep_yaml_types_and_create_sections() {
        let cfg = parse(
            "name: a\n",
            &["inner.rate=5e-4", "inner.layers=[0, 2, 4]", "inner.on=true"],
        )
        .unwrap();
        assert_eq!(cfg.name, "a");
        assert_eq!(cfg.inner.rate, 5e-4);
        assert_eq!(cfg.inner.layers, vec![0, 2, 4]);
        assert!(cfg.inner.on);
        assert_eq!(parse("", &[]).unwrap(), Outer::default());
    }

    #[test]
    fn unknown_key_wrong_type_and_bad_override_are_one_line_errors_naming_the_key() {
        let unknown = parse("inner:\n  rat: 1.0\n", &[]).unwrap_err().to_string();
        assert!(unknown.contains("`inner.rat`"), "{unknown}");
        assert!(unknown.contains("run.yaml"), "{unknown}");
        let wrong = parse("inner:\n  rate: fast\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains("`inner.rate`") && wrong.contains("invalid type"),
            "{wrong}"
        );
        let via_set = parse("", &["inner.speed=3"]).unwrap_err().to_string();
        assert!(
            via_set.contains("`inner.speed`") && via_set.contains("--set inner.speed=3"),
            "{via_set}"
        );
        let into_scalar = parse("name: a\n", &["name.x=1"]).unwrap_err().to_string();
        assert!(into_scalar.contains("`name` is a value"), "{into_scalar}");
        let no_equals = parse("", &["inner.rate"]).unwrap_err().to_string();
        assert!(no_equals.contains("KEY.PATH=VALUE"), "{no_equals}");
        for msg in [unknown, wrong, via_set, into_scalar, no_equals] {
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn saved_config_loads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolved.yaml");
        let cfg = parse("name: b\n", &["inner.layers=[3]"]).unwrap();
        save_config(&cfg, &path).unwrap();
        let back: Outer = load_config(&path, &[]).unwrap();
        assert_eq!(back, cfg);
        let missing = load_config::<Outer>(&dir.path().join("nope.yaml"), &[]).unwrap_err();
        assert!(missing.to_string().contains("nope.yaml"), "{missing}");
    }
}
