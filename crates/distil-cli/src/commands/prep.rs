//! `distil prep`: corpus files to parquet token shards, token counts and a manifest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use distil_data::{prepare, Manifest, PrepOptions, PrepProgress, TextUnit, DEFAULT_SHARD_TOKENS};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::cli::GlobalOpts;

/// The corpus text `prep` and `vocab` read.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// Corpus files or directories (.txt, .jsonl and .parquet with a `text` field);
    /// directories are searched recursively.
    #[arg(long = "input", required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// `line`: one sequence per line (the reference's rule); `paragraph`: lines up to a
    /// blank line, joined (for hard-wrapped books).
    #[arg(long, default_value = "line")]
    pub unit: TextUnit,
}

#[derive(Debug, Args)]
pub struct PrepArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Tokenizer directory, tokenizer.json file or Hugging Face Hub id.
    #[arg(long)]
    pub tokenizer: String,
    /// Output directory for the shards, token_counts.json and manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Longer sequences are split into chunks of at most this many tokens.
    #[arg(long, default_value_t = 512)]
    pub max_seq_len: usize,
    /// Tokens per shard (memory use grows with it, not with the corpus).
    #[arg(long, default_value_t = DEFAULT_SHARD_TOKENS)]
    pub shard_tokens: usize,
    /// Seed of the row shuffle inside each shard.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the run's figures (counts, seconds, tokens/s, peak memory) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Progress bar over input bytes, with tokens written and their rate in the message.
struct Bar {
    bar: ProgressBar,
    tokens: AtomicU64,
    started: Instant,
}

impl PrepProgress for Bar {
    fn start(&self, total_bytes: u64) {
        self.bar.set_length(total_bytes);
    }

    fn advance(&self, bytes: u64, tokens: u64) {
        let total = self.tokens.fetch_add(tokens, Ordering::Relaxed) + tokens;
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.inc(bytes);
        self.bar
            .set_message(format!("{total} tokens, {:.0}k tokens/s", rate / 1e3));
    }
}

/// What `--report` writes.
#[derive(Debug, Serialize)]
pub struct PrepReport {
    pub rows: u64,
    pub tokens: u64,
    pub shards: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub peak_rss_bytes: Option<u64>,
}

pub fn run(global: &GlobalOpts, args: &PrepArgs) -> anyhow::Result<()> {
    let options = PrepOptions {
        inputs: args.corpus.inputs.clone(),
        unit: args.corpus.unit,
        tokenizer: args.tokenizer.clone(),
        out: args.out.clone(),
        max_seq_len: args.max_seq_len,
        shard_tokens: args.shard_tokens,
        seed: args.seed,
    };
    let bar = global.progress_bar(
        "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} \
         {binary_bytes_per_sec} ETA {eta} {msg}",
    )?;
    let progress = Bar {
        bar,
        tokens: AtomicU64::new(0),
        started: Instant::now(),
    };
    let manifest = prepare(&options, &progress)
        .with_context(|| format!("preparing shards in {}", args.out.display()))?;
    progress.bar.finish_and_clear();
    let seconds = progress.started.elapsed().as_secs_f64();
    let report = PrepReport {
        rows: manifest.rows,
        tokens: manifest.tokens,
        shards: manifest.shards.len(),
        seconds,
        tokens_per_second: manifest.tokens as f64 / seconds.max(1e-9),
        peak_rss_bytes: distil_core::process::peak_rss_bytes(),
    };
    if !global.quiet {
        print_summary(&args.out, &manifest, &report);
    }
    if let Some(path) = &args.report {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn print_summary(out: &Path, manifest: &Manifest, report: &PrepReport) {
    let input = &manifest.input;
    println!("wrote {} in {:.1} s", out.display(), report.seconds);
    println!(
        "  {} shards, {} sequences, {} tokens ({:.0}k tokens/s), ids as {:?}",
        report.shards,
        manifest.rows,
        manifest.tokens,
        report.tokens_per_second / 1e3,
        manifest.id_type
    );
    println!(
        "  dropped: {} of <= 11 tokens, {} at least half [UNK]",
        manifest.dropped.short, manifest.dropped.unknown
    );
    println!(
        "  input: {} lines, {} blank, {} skipped, {} empty files",
        input.lines,
        input.blank_lines,
        input.skipped_lines,
        input.empty_files.len()
    );
    for skip in input.skipped.iter().take(20) {
        println!(
            "    skipped {}:{}: {}",
            skip.path.display(),
            skip.line,
            skip.reason
        );
    }
    if input.skipped_lines > 20 {
        println!("    ... all listed (up to 1000) in manifest.json");
    }
    for file in &input.empty_files {
        println!("    empty file {}", file.display());
    }
    if let Some(rss) = report.peak_rss_bytes {
        println!("  peak memory {:.0} MiB", rss as f64 / (1 << 20) as f64);
    }
}
