//! `distil distill` on the GPT-2 family as a user runs it: the shipped tiny config with the
//! fixture GPT-2 teacher and a 2-block DistilGPT2 from its blocks 0 and 2, on shards that
//! `distil prep` writes with the fixture's byte-level BPE (`<|endoftext|>` around every
//! sequence). Batches are not masked; the causal-LM, soft-target and cosine losses all fall; a
//! run killed with SIGKILL resumes bit for bit; the student loads in `transformers`
//! (AutoModelForCausalLM) with distil's logits. A GPT-2 teacher refuses a masked-LM weight and a
//! masked-LM student.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::Path;

use common::{
    assert_killed_run_resumes_bit_for_bit, assert_loads_in_transformers, assert_losses_fall,
    distill, distill_ok, fixture_sets, metrics, shards_of_lines, shipped_config, stderr,
};
use distil_core::checkpoint::read_tensors;
use distil_testkit::fixture;

const TERMS: [&str; 3] = ["losses/loss_ce", "losses/loss_clm", "losses/loss_cos"];

fn config() -> std::path::PathBuf {
    shipped_config("tiny-gpt2-cpu.yaml")
}

/// The shipped config's overrides: shards, output folder, the fixture teacher, and `extra`.
fn sets(dir: &Path, shards: &Path, extra: &[&str]) -> Vec<String> {
    fixture_sets(dir, shards, "gpt2-lm", extra)
}

#[test]
fn the_tiny_gpt2_config_distils_and_exports_a_distilgpt2() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards_of_lines(dir.path(), "shards", 0..1200, &fixture("gpt2-lm"));
    let sets = sets(dir.path(), &shards, &["output.log_interval=1"]);
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    distill_ok(&config(), &sets);
    let run_dir = dir.path().join("runs/tiny-gpt2-cpu");
    let logged = metrics(&run_dir);
    assert_eq!(logged.len(), 150);
    assert!(!logged[&1].contains_key("losses/loss_mlm"));
    let terms: Vec<&str> = TERMS.iter().copied().chain(["losses/loss"]).collect();
    assert_losses_fall(&logged, &terms, 10);
    let student = run_dir.join("student");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model_type"], "gpt2");
    assert_eq!(config["n_layer"], 2);
    // The position table stayed the teacher's (frozen); the head is tied, so not saved.
    let exported = read_tensors(&student.join("model.safetensors")).unwrap();
    let teacher = read_tensors(&fixture("gpt2-lm").join("model.safetensors")).unwrap();
    let key = "transformer.wpe.weight";
    assert!(exported[key].equal(&teacher[key]), "{key} moved");
    assert!(!exported["transformer.wte.weight"].equal(&teacher["transformer.wte.weight"]));
    assert!(!exported.contains_key("lm_head.weight"));

    assert_loads_in_transformers(&student);
}

#[test]
fn a_killed_gpt2_run_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards_of_lines(dir.path(), "shards", 0..600, &fixture("gpt2-lm"));
    let sets = sets(
        dir.path(),
        &shards,
        &[
            "training.max_steps=40",
            "output.log_interval=1",
            "output.checkpoint_interval=20",
        ],
    );
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let keys: Vec<&str> = TERMS.iter().copied().chain(["optim/grad_norm"]).collect();
    assert_killed_run_resumes_bit_for_bit(
        &config(),
        &sets,
        &dir.path().join("runs"),
        20,
        40,
        &keys,
    );
}

#[test]
fn a_causal_run_refuses_masked_lm_settings_and_a_masked_student() {
    let dir = tempfile::tempdir().unwrap();
    let shards = shards_of_lines(dir.path(), "shards", 0..300, &fixture("gpt2-lm"));
    let refused = |extra: &[&str]| {
        let sets = sets(dir.path(), &shards, extra);
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let out = distill(&config(), &sets).output().unwrap();
        assert!(!out.status.success(), "{extra:?} was accepted");
        stderr(&out)
    };
    let err = refused(&["loss.alpha_clm=0", "loss.alpha_mlm=2"]);
    assert!(
        err.contains("loss.alpha_mlm") && err.contains("causal LM"),
        "{err}"
    );
    let err = refused(&["loss.alpha_mlm=2"]);
    assert!(
        err.contains("loss.alpha_clm") && err.contains("not both"),
        "{err}"
    );
    let bert_student = fixture("distilbert-mlm");
    let err = refused(&[
        "student.init=checkpoint",
        &format!("student.checkpoint={}", bert_student.display()),
    ]);
    assert!(
        err.contains("teacher.source") && err.contains("the student a masked LM"),
        "{err}"
    );
}

/// `distil init-student` takes a teacher of any family: GPT-2 and RoBERTa teachers give their
/// own family's student (extract.py), which loads in `transformers` with distil's logits; a
/// layer the teacher lacks is named.
#[test]
fn init_student_extracts_a_student_of_the_teachers_family() {
    let dir = tempfile::tempdir().unwrap();
    for (teacher, block) in [
        ("gpt2-lm", "transformer.h.1.attn.c_attn.weight"),
        (
            "roberta-mlm",
            "roberta.encoder.layer.1.attention.self.query.weight",
        ),
    ] {
        let out = dir.path().join(teacher);
        let teacher_dir = fixture(teacher);
        let args = [
            "init-student",
            "--teacher",
            teacher_dir.to_str().unwrap(),
            "--layers",
            "0,2",
            "--out",
            out.to_str().unwrap(),
        ];
        let written = common::run(&args);
        assert!(written.status.success(), "{}", stderr(&written));
        let student = read_tensors(&out.join("model.safetensors")).unwrap();
        let source = read_tensors(&fixture(teacher).join("model.safetensors")).unwrap();
        let teacher_block = block.replace(".1.", ".2.");
        assert!(student[block].equal(&source[&teacher_block]), "{teacher}");
        assert_loads_in_transformers(&out);
    }
    let out = dir.path().join("too-deep");
    let gpt2 = fixture("gpt2-lm");
    let refused = common::run(&[
        "init-student",
        "--teacher",
        gpt2.to_str().unwrap(),
        "--layers",
        "0,7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("teacher layer 7 does not exist"));
    assert!(!out.exists());
}

/// fill-mask needs a masked LM: a GPT-2 folder is one clear error naming it.
#[test]
fn fill_mask_refuses_a_causal_lm() {
    let gpt2 = fixture("gpt2-lm");
    let out = common::run(&["fill-mask", "--model", gpt2.to_str().unwrap(), "a <mask>"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("causal LM") && err.contains(gpt2.to_str().unwrap()),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
