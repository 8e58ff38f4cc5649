//! Run directory, JSONL metrics with resume truncation, TensorBoard event files, device-side
//! running means and per-step dropout seeding.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use distil_train::rng::seed_micro_batch;
use distil_train::running_means::first_non_finite;
use distil_train::{ExistingRun, MetricsLogger, RunDir, RunningMeans, TrainError};
use tch::{Device, Kind, Tensor};

const SCALARS: [&str; 9] = [
    "losses/loss",
    "losses/loss_ce",
    "losses/loss_mlm",
    "losses/loss_cos",
    "losses/loss_mse",
    "learning_rate/lr",
    "grad_norm",
    "tokens_per_s",
    "memory",
];

fn metrics(step: u64) -> BTreeMap<String, f64> {
    SCALARS
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), step as f64 + i as f64 / 10.0))
        .collect()
}

fn jsonl_steps(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn run_dir_refuses_to_overwrite_unless_resuming() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("run");
    let run = RunDir::open(&root, ExistingRun::Refuse).unwrap();
    run.save_config(&distil_train::DistillConfig::default())
        .unwrap();
    assert!(run.config_path().is_file());
    let err = RunDir::open(&root, ExistingRun::Refuse).unwrap_err();
    assert!(matches!(err, TrainError::RunExists { .. }), "{err}");
    assert!(err.to_string().contains("--resume"));
    assert!(RunDir::open(&root, ExistingRun::Resume).is_ok());
}

#[test]
fn jsonl_holds_one_object_per_log_step_and_resume_drops_later_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut logger = MetricsLogger::open(&path, None, None).unwrap();
    for step in [10, 20, 30] {
        logger.log(step, &metrics(step)).unwrap();
    }
    drop(logger);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["losses/loss_ce"], 10.1);
    assert_eq!(first.as_object().unwrap().len(), SCALARS.len() + 1);
    // A kill mid-line leaves a torn line behind.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"step\": 40, \"losses/lo");
    std::fs::write(&path, text).unwrap();

    let mut logger = MetricsLogger::open(&path, None, Some(20)).unwrap();
    logger.log(30, &metrics(30)).unwrap();
    drop(logger);
    assert_eq!(jsonl_steps(&path), [10, 20, 30]);
}

/// Reads the TFRecord framing of an event file: each record is a little-endian u64 length,
/// a 4-byte CRC, the payload and a 4-byte CRC. Returns the payloads.
fn tf_records(bytes: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        records.push(&bytes[at + 12..at + 12 + len]);
        at += 12 + len + 4;
    }
    assert_eq!(at, bytes.len(), "trailing bytes after the last record");
    records
}

#[test]
fn tensorboard_event_files_hold_every_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let tb = std::env::var_os("DISTIL_KEEP_TENSORBOARD")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("tensorboard"));
    let mut logger = MetricsLogger::open(&dir.path().join("m.jsonl"), Some(&tb), None).unwrap();
    for step in [10, 20, 30] {
        logger.log(step, &metrics(step)).unwrap();
    }
    drop(logger); // joins the writer thread, so the file is complete
    let files: Vec<_> = std::fs::read_dir(&tb).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(files[0].path()).unwrap();
    let records = tf_records(&bytes);
    // The file-version header, then one event per scalar per step.
    assert_eq!(records.len(), 1 + 3 * SCALARS.len());
    for name in SCALARS {
        // Summary.Value.tag is protobuf field 1: 0x0a, the length, then the bytes.
        let tag: Vec<u8> = [0x0a, name.len() as u8]
            .into_iter()
            .chain(name.bytes())
            .collect();
        let hits = records
            .iter()
            .filter(|r| r.windows(tag.len()).any(|w| w == tag))
            .count();
        assert_eq!(hits, 3, "{name}");
    }

    // With Python TensorBoard at hand, its own reader must list them too.
    let python = std::env::var("DISTIL_VENV")
        .map(|v| Path::new(&v).join("bin/python"))
        .unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/read_tensorboard.py");
    let has_tensorboard = Command::new(&python)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tensorboard {
        eprintln!("Python tensorboard not installed: checked the record framing only");
        return;
    }
    let out = Command::new(&python)
        .arg(&script)
        .arg(&tb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listing}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in SCALARS {
        let line = listing
            .lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{listing}"));
        assert!(line.contains("3 points"), "{line}");
    }
}

#[test]
fn running_means_average_on_the_device_and_flag_non_finite_values() {
    let mut means = RunningMeans::new();
    for x in [1f32, 2.0, 6.0] {
        let loss = Tensor::from(x);
        let doubled = Tensor::from(2.0 * x);
        means.add([("losses/loss", &loss), ("grad_norm", &doubled)]);
    }
    assert_eq!(means.count(), 3);
    let taken = means.take();
    assert_eq!(taken["losses/loss"], 3.0);
    assert_eq!(taken["grad_norm"], 6.0);
    assert_eq!(means.count(), 0);
    assert_eq!(first_non_finite(&taken), None);

    let nan = Tensor::from(f32::NAN);
    means.add([("losses/loss_ce", &nan)]);
    let taken = means.take();
    assert_eq!(
        first_non_finite(&taken).map(|(k, _)| k),
        Some("losses/loss_ce")
    );
}

#[test]
fn dropout_masks_depend_only_on_seed_and_micro_step() {
    let draw = |step| {
        seed_micro_batch(56, step);
        Tensor::ones([64], (Kind::Float, Device::Cpu)).dropout(0.5, true)
    };
    let a = draw(7);
    let _ = draw(8);
    assert!(a.equal(&draw(7)));
    assert!(!a.equal(&draw(8)));
}
