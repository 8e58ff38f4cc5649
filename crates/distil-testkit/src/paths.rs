//! Paths of the files committed with the repository, independent of the test's crate.

use std::path::{Path, PathBuf};

/// `rel` below the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    // This crate sits at `crates/distil-testkit`, two levels below the root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// `data/fixtures`: the tiny models and reference outputs of `scripts/make_fixtures.py`.
pub fn fixtures_dir() -> PathBuf {
    repo_path("data/fixtures")
}

/// The fixture `name` (a model folder such as `bert-mlm`, or a file) in `data/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// [`fixture`] as text, for a command-line argument or a config value.
pub fn fixture_arg(name: &str) -> String {
    fixture(name).display().to_string()
}

/// The shipped bert-base-uncased tokenizer (and its golden encodings).
pub fn vocab_dir() -> PathBuf {
    repo_path("data/vocab/bert-base-uncased")
}
