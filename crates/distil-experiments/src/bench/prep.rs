//! `distil bench prep`: `distil prep` tokens/s and peak memory beside the Python reference
//! tokenizer on the same corpus, each in a child process so that its peak memory is its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Deserialize;

/// What `bench prep` runs.
#[derive(Debug, Clone)]
pub struct PrepBenchOptions {
    /// The `distil` program whose `prep` is measured (usually the running one).
    pub distil: PathBuf,
    /// Corpus files or directories.
    pub inputs: Vec<PathBuf>,
    /// Tokenizer directory holding tokenizer.json.
    pub tokenizer: PathBuf,
    /// Python with the `tokenizers` package (default: $DISTIL_VENV/bin/python, else python3).
    pub python: Option<PathBuf>,
    /// The reference script.
    pub script: PathBuf,
    /// Also run `distil prep` on the corpus repeated this many times, for peak memory.
    pub repeat: usize,
    /// Tokens per shard for `distil prep`.
    pub shard_tokens: usize,
    /// Threads for Python's `encode_batch`.
    pub python_threads: usize,
    /// Where outputs go (default: a temporary directory, removed afterwards).
    pub work_dir: Option<PathBuf>,
}

/// One measured run.
#[derive(Debug, Deserialize)]
struct Figures {
    tokens: u64,
    seconds: f64,
    peak_rss_bytes: Option<u64>,
}

fn run_child(mut command: Command, what: &str) -> anyhow::Result<(std::process::Output, f64)> {
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((output, seconds))
}

/// `distil prep` in a child process (so peak memory is its own), timed from spawn to exit.
fn distil_prep(inputs: &[PathBuf], args: &PrepBenchOptions, out: &Path) -> anyhow::Result<Figures> {
    let report = out.with_extension("report.json");
    let mut command = Command::new(&args.distil);
    command
        .args(["-q", "prep", "--tokenizer"])
        .arg(&args.tokenizer);
    command.args(["--shard-tokens", &args.shard_tokens.to_string()]);
    for input in inputs {
        command.arg("--input").arg(input);
    }
    command.arg("--out").arg(out).arg("--report").arg(&report);
    let (_, seconds) = run_child(command, "distil prep")?;
    let text = std::fs::read_to_string(&report)?;
    let mut figures: Figures = serde_json::from_str(&text)?;
    figures.seconds = seconds;
    Ok(figures)
}

fn python_reference(
    args: &PrepBenchOptions,
    python: &Path,
    mode: &str,
    out: &Path,
) -> anyhow::Result<Figures> {
    let mut command = Command::new(python);
    command
        .arg(&args.script)
        .arg("--tokenizer")
        .arg(args.tokenizer.join("tokenizer.json"))
        .args(["--mode", mode])
        .arg("--out")
        .arg(out)
        .env("RAYON_NUM_THREADS", args.python_threads.to_string())
        .env("TOKENIZERS_PARALLELISM", "true");
    for input in &args.inputs {
        command.arg("--input").arg(input);
    }
    let (output, seconds) = run_child(command, &format!("{} ({mode})", args.script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let mut figures: Figures = serde_json::from_str(last)
        .with_context(|| format!("reading the script's output {last:?}"))?;
    figures.seconds = seconds;
    Ok(figures)
}

fn print_row(name: &str, f: &Figures) {
    let rss = f
        .peak_rss_bytes
        .map(|b| format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64))
        .unwrap_or_else(|| "?".to_string());
    println!(
        "{name:<44} {:>11} {:>8.2} {:>11.0} {:>9}",
        f.tokens,
        f.seconds,
        f.tokens as f64 / f.seconds,
        rss
    );
}

/// Runs `distil prep` once on the corpus and once on it repeated, then the reference per line
/// and in batches, and prints their tokens/s and peak memory.
pub fn run(args: &PrepBenchOptions) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    let python = args.python.clone().unwrap_or_else(|| {
        std::env::var_os("DISTIL_VENV")
            .map(|venv| PathBuf::from(venv).join("bin/python"))
            .unwrap_or_else(|| PathBuf::from("python3"))
    });
    println!(
        "corpus: {}; tokenizer {}; {} cores; shards of {} tokens; times from process start \
         to output written",
        args.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        args.tokenizer.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.shard_tokens
    );
    println!(
        "{:<44} {:>11} {:>8} {:>11} {:>9}",
        "run", "tokens", "seconds", "tokens/s", "peak RSS"
    );
    let once = distil_prep(&args.inputs, args, &work.join("distil-1x"))?;
    print_row("distil prep (tokens written)", &once);
    let repeated: Vec<PathBuf> = (0..args.repeat).flat_map(|_| args.inputs.clone()).collect();
    let many = distil_prep(&repeated, args, &work.join("distil-nx"))?;
    print_row(&format!("distil prep, corpus x{}", args.repeat), &many);
    let per_line = python_reference(args, &python, "per-line", &work.join("reference.pickle"))?;
    print_row("reference: per-line encode + pickle", &per_line);
    let batch = python_reference(args, &python, "batch", &work.join("batch.pickle"))?;
    print_row(
        &format!(
            "python encode_batch, {} threads + pickle",
            args.python_threads
        ),
        &batch,
    );
    println!(
        "distil prep / reference: {:.2}x; / encode_batch: {:.2}x",
        (once.tokens as f64 / once.seconds) / (per_line.tokens as f64 / per_line.seconds),
        (once.tokens as f64 / once.seconds) / (batch.tokens as f64 / batch.seconds)
    );
    Ok(())
}
