//! `distil encode --dtype`: bf16 runs the forward in bf16 yet writes fp32 tensors of the same
//! names and shapes as the fp32 run, close to them; an unknown dtype is one clap error.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::path::Path;
use std::process::{Command, Output};

use distil_core::checkpoint::read_tensors;
use distil_testkit::fixture;
use tch::Kind;

fn encode(out: &Path, dtype: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distil"))
        .args(["--device", "cpu", "encode", "--model"])
        .arg(fixture("bert-mlm"))
        .arg("--input")
        .arg(out.parent().unwrap().join("lines.txt"))
        .arg("--out")
        .arg(out)
        .args(["--dtype", dtype])
        .output()
        .unwrap()
}

#[test]
fn bf16_encodes_in_bf16_and_writes_fp32() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lines.txt"),
        "the cat sat on the mat .\nhello\n",
    )
    .unwrap();
    let mut files = Vec::new();
    for dtype in ["fp32", "bf16"] {
        let out = dir.path().join(format!("{dtype}.safetensors"));
        let run = encode(&out, dtype);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        files.push(read_tensors(&out).unwrap());
    }
    let (fp32, bf16) = (&files[0], &files[1]);
    assert_eq!(
        fp32.keys().collect::<Vec<_>>(),
        bf16.keys().collect::<Vec<_>>()
    );
    for (name, ours) in bf16 {
        let reference = &fp32[name];
        assert_eq!(ours.size(), reference.size(), "{name}");
        if name.starts_with("input_ids.") {
            assert!(ours.equal(reference), "{name}");
            continue;
        }
        assert_eq!(ours.kind(), Kind::Float, "{name}");
        // Every value came out of a bf16 forward, so it survives a round trip through bf16.
        let round_trip = ours.to_kind(Kind::BFloat16).to_kind(Kind::Float);
        assert!(ours.equal(&round_trip), "{name} did not run in bf16");
        let scale = reference.abs().max().double_value(&[]);
        let diff = (ours - reference).abs().max().double_value(&[]);
        assert!(
            diff > 0.0 && diff <= 0.05 * scale,
            "{name}: {diff} of {scale}"
        );
    }
}

#[test]
fn an_unknown_dtype_is_one_clap_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = encode(&dir.path().join("out.safetensors"), "fp16");
    assert_eq!(run.status.code(), Some(2));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("invalid value 'fp16' for '--dtype <DTYPE>'")
            && said.contains("[possible values: fp32, bf16]"),
        "{said}"
    );
}
