//! `distil eval perplexity` on the GPT-2 fixture against what `transformers` computed for the
//! same windows (`scripts/make_gpt2_fixtures.py` wrote `expected/gpt2-perplexity.json`).

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run, stderr};
use distil_testkit::{fixture, read_json, repo_path};

/// The first `lines` lines of the shipped text, line ends kept, as the script scored them.
fn first_lines(dir: &Path, text: &str, lines: usize) -> PathBuf {
    let full = std::fs::read_to_string(repo_path(text)).unwrap();
    let head: String = full.split_inclusive('\n').take(lines).collect();
    let path = dir.join("input.txt");
    std::fs::write(&path, head).unwrap();
    path
}

/// `distil eval perplexity` of `model` on `input` on the CPU, with `options`.
fn eval_perplexity(model: &Path, input: &Path, options: &[&str]) -> Output {
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    let mut args = vec![
        "--device",
        "cpu",
        "eval",
        "perplexity",
        "--model",
        model,
        "--input",
        input,
    ];
    args.extend(options);
    run(&args)
}

#[test]
fn perplexity_matches_transformers_windows() {
    let want = read_json(&fixture("expected/gpt2-perplexity.json"));
    let dir = tempfile::tempdir().unwrap();
    let lines = want["lines"].as_u64().unwrap() as usize;
    let input = first_lines(dir.path(), want["text"].as_str().unwrap(), lines);
    let out = dir.path().join("perplexity.json");
    let (max_length, stride) = (want["max_length"].to_string(), want["stride"].to_string());
    let options = [
        "--max-length",
        &max_length,
        "--stride",
        &stride,
        "--out",
        out.to_str().unwrap(),
    ];
    let output = eval_perplexity(&fixture("gpt2-lm"), &input, &options);
    assert!(output.status.success(), "{}", stderr(&output));
    let got = read_json(&out);
    for key in ["tokens", "windows", "scored_tokens"] {
        assert_eq!(got[key], want[key], "{key}");
    }
    let (got, want) = (
        got["perplexity"].as_f64().unwrap(),
        want["perplexity"].as_f64().unwrap(),
    );
    assert!(((got - want) / want).abs() < 1e-3, "{got} vs {want}");
}

#[test]
fn bad_inputs_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(&text, "The song was in the film.\n").unwrap();
    let missing = dir.path().join("missing.txt");
    let (gpt2, bert) = (fixture("gpt2-lm"), fixture("bert-mlm"));
    for (model, input, options, says) in [
        (&gpt2, &missing, &[][..], &["--input", "missing.txt"][..]),
        (&bert, &text, &[], &["model_type", "gpt2", "bert-mlm"]),
        (&gpt2, &text, &["--max-length", "65"], &["n_positions 64"]),
        (
            &gpt2,
            &text,
            &["--max-length", "8", "--stride", "9"],
            &["stride"],
        ),
    ] {
        let output = eval_perplexity(model, input, options);
        assert!(!output.status.success());
        let err = stderr(&output);
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        for word in says {
            assert!(err.contains(word), "{word}: {err}");
        }
    }
}
