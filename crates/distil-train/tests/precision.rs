//! `training.precision` and `training.tf32`: the autocast spellings (and the old `bf16` /
//! `fp16` ones), fp16 refused on the CPU naming the key, TF32 off unless asked and kept in
//! the resolved config.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::Path;

use distil_amp::AutocastDtype;
use distil_core::config::{parse_config, save_config};
use distil_train::config::Precision;
use distil_train::{DistillConfig, TrainingPrecision};

fn load(overrides: &[&str]) -> Result<DistillConfig, String> {
    let overrides: Vec<String> = std::iter::once("data.shards=shards")
        .chain(overrides.iter().copied())
        .map(str::to_string)
        .collect();
    let path = Path::new("run.yaml");
    let cfg: DistillConfig = parse_config("", path, &overrides).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.in_file(path).to_string())?;
    Ok(cfg)
}

#[test]
fn autocast_precisions_and_their_old_spellings_parse() {
    let cases = [
        ("fp32", TrainingPrecision::Fp32, None, Precision::Fp32),
        (
            "bf16-autocast",
            TrainingPrecision::Bf16Autocast,
            Some(AutocastDtype::BFloat16),
            Precision::Bf16,
        ),
        (
            "bf16",
            TrainingPrecision::Bf16Autocast,
            Some(AutocastDtype::BFloat16),
            Precision::Bf16,
        ),
        (
            "fp16-autocast",
            TrainingPrecision::Fp16Autocast,
            Some(AutocastDtype::Half),
            Precision::Fp16,
        ),
        (
            "fp16",
            TrainingPrecision::Fp16Autocast,
            Some(AutocastDtype::Half),
            Precision::Fp16,
        ),
    ];
    for (text, precision, autocast, teacher) in cases {
        let cfg = load(&[
            &format!("training.precision={text}"),
            "training.device=cuda:0",
        ])
        .unwrap();
        assert_eq!(cfg.training.precision, precision, "{text}");
        assert_eq!(precision.autocast_dtype(), autocast, "{text}");
        assert_eq!(precision.teacher_dtype(), teacher, "{text}");
    }
}

#[test]
fn fp16_autocast_on_the_cpu_is_refused_naming_the_key() {
    for text in ["fp16-autocast", "fp16"] {
        let err =
            load(&[&format!("training.precision={text}"), "training.device=cpu"]).unwrap_err();
        assert!(!err.contains('\n'), "not one line: {err}");
        assert!(err.contains("`training.precision`"), "{err}");
        assert!(err.contains("CUDA"), "{err}");
    }
    load(&["training.precision=bf16-autocast", "training.device=cpu"]).unwrap();
}

#[test]
fn tf32_is_off_by_default_and_recorded_in_the_resolved_config() {
    assert!(!load(&[]).unwrap().training.tf32);
    let cfg = load(&["training.tf32=true", "training.precision=bf16-autocast"]).unwrap();
    assert!(cfg.training.tf32);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    save_config(&cfg, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("tf32: true"), "{text}");
    assert!(text.contains("precision: bf16-autocast"), "{text}");
    assert_eq!(DistillConfig::load(&path, &[]).unwrap(), cfg);
}
