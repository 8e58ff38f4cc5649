//! `distil prep`: corpus files to shuffled parquet token shards, token counts and a manifest.
//!
//! A reader thread hands blocks of lines over a bounded channel; each block is tokenised on all
//! cores (order kept, so the output does not depend on the thread count); sequences collect
//! into one shard at a time, which is shuffled with a seeded RNG and written atomically. Memory
//! is bounded by the shard size and the channel depth, not by the corpus.

use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::input::{discover_inputs, read_inputs, TextBlock, TextUnit};
use crate::manifest::{
    save_token_counts, sha256_hex, FileDigest, IdType, Manifest, ShardEntry, FORMAT, MANIFEST_FILE,
};
use crate::sequence::{DropCounts, SequenceRules, SpecialTokens, MIN_KEPT_LEN};
use crate::shard::write_shard;
use crate::tokenizer::{load_tokenizer_file, tokenizer_file};
use crate::DataError;

/// Tokens per shard unless told otherwise (about 20 MB of ids in memory).
pub const DEFAULT_SHARD_TOKENS: usize = 10_000_000;
/// Text handed from the reader thread at a time.
const BLOCK_BYTES: usize = 1 << 20;
/// Blocks in flight between the reader and the tokeniser.
const BLOCKS_IN_FLIGHT: usize = 4;

/// What `distil prep` was asked to do.
#[derive(Debug, Clone)]
pub struct PrepOptions {
    pub inputs: Vec<PathBuf>,
    /// What one sequence of the text is: a line, or a paragraph.
    pub unit: TextUnit,
    /// A tokenizer directory, `tokenizer.json` file or Hub id.
    pub tokenizer: String,
    pub out: PathBuf,
    pub max_seq_len: usize,
    pub shard_tokens: usize,
    pub seed: u64,
}

/// Receives progress from [`prepare`]: input bytes read and tokens kept.
pub trait PrepProgress: Sync {
    fn start(&self, total_bytes: u64);
    fn advance(&self, bytes: u64, tokens: u64);
}

/// Progress reporting that does nothing.
#[derive(Debug, Clone, Copy)]
pub struct NoProgress;

impl PrepProgress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64, _: u64) {}
}

/// The shard being filled, with the totals so far.
struct ShardBuffer<'a> {
    options: &'a PrepOptions,
    id_type: IdType,
    rows: Vec<Vec<u32>>,
    tokens: usize,
    shards: Vec<ShardEntry>,
    counts: Vec<u64>,
}

impl ShardBuffer<'_> {
    fn push(&mut self, row: Vec<u32>) -> Result<(), DataError> {
        for &id in &row {
            self.counts[id as usize] += 1;
        }
        self.tokens += row.len();
        self.rows.push(row);
        if self.tokens >= self.options.shard_tokens {
            self.flush()?;
        }
        Ok(())
    }

    /// Shuffles the rows with an RNG seeded by (seed, shard index) and writes them.
    fn flush(&mut self) -> Result<(), DataError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let index = self.shards.len();
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed);
        rng.set_stream(index as u64);
        self.rows.shuffle(&mut rng);
        let entry = write_shard(&self.options.out, index, &self.rows, self.id_type)?;
        self.shards.push(entry);
        self.rows.clear();
        self.tokens = 0;
        Ok(())
    }
}

fn check_options(options: &PrepOptions) -> Result<(), DataError> {
    if options.inputs.is_empty() {
        return Err(DataError::config(
            "--input",
            "give at least one file or directory",
        ));
    }
    if options.max_seq_len < MIN_KEPT_LEN {
        return Err(DataError::config(
            "--max-seq-len",
            format!("must be at least {MIN_KEPT_LEN}: shorter sequences are dropped"),
        ));
    }
    if options.shard_tokens < options.max_seq_len || options.shard_tokens > i32::MAX as usize {
        return Err(DataError::config(
            "--shard-tokens",
            format!(
                "must be between --max-seq-len ({}) and {}",
                options.max_seq_len,
                i32::MAX
            ),
        ));
    }
    Ok(())
}

fn encode_block(
    tokenizer: &Tokenizer,
    rules: &SequenceRules,
    block: &TextBlock,
) -> Result<(Vec<Vec<u32>>, DropCounts), DataError> {
    block
        .lines
        .par_iter()
        .with_min_len(64)
        .map(|line| {
            let encoding =
                tokenizer
                    .encode_fast(line.as_str(), false)
                    .map_err(|e| DataError::Encode {
                        start: line.chars().take(60).collect(),
                        reason: e.to_string(),
                    })?;
            let mut out = Vec::new();
            let mut drops = DropCounts::default();
            rules.split(encoding.get_ids(), &mut out, &mut drops);
            Ok((out, drops))
        })
        .try_fold(
            || (Vec::new(), DropCounts::default()),
            |(mut rows, mut drops), item: Result<_, DataError>| {
                let (more, more_drops) = item?;
                rows.extend(more);
                drops.add(more_drops);
                Ok((rows, drops))
            },
        )
        .try_reduce(
            || (Vec::new(), DropCounts::default()),
            |(mut rows, mut drops), (more, more_drops)| {
                rows.extend(more);
                drops.add(more_drops);
                Ok((rows, drops))
            },
        )
}

/// Runs the whole preparation and returns the manifest it wrote.
pub fn prepare(options: &PrepOptions, progress: &dyn PrepProgress) -> Result<Manifest, DataError> {
    check_options(options)?;
    let tokenizer_path = tokenizer_file(&options.tokenizer)?;
    let tokenizer = load_tokenizer_file(&tokenizer_path)?;
    let specials = SpecialTokens::of_tokenizer(&tokenizer, &tokenizer_path)?;
    let tokenizer_bytes = std::fs::read(&tokenizer_path).map_err(|source| DataError::Read {
        path: tokenizer_path.clone(),
        source,
    })?;
    let vocab_size = tokenizer.get_vocab_size(true);
    let inputs = discover_inputs(&options.inputs)?;

    std::fs::create_dir_all(&options.out).map_err(|source| DataError::Write {
        path: options.out.clone(),
        source,
    })?;
    // Without a manifest the directory reads as unfinished until this run completes.
    let stale = options.out.join(MANIFEST_FILE);
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|source| DataError::Write {
            path: stale.clone(),
            source,
        })?;
    }

    let rules = SequenceRules {
        cls: specials.cls,
        sep: specials.sep,
        unk: specials.unk,
        max_len: options.max_seq_len,
    };
    let id_type = IdType::for_vocab(vocab_size);
    let mut buffer = ShardBuffer {
        options,
        id_type,
        rows: Vec::new(),
        tokens: 0,
        shards: Vec::new(),
        counts: vec![0; vocab_size],
    };
    let mut dropped = DropCounts::default();
    progress.start(inputs.iter().map(|i| i.bytes).sum());

    let (sender, receiver) = crossbeam_channel::bounded::<TextBlock>(BLOCKS_IN_FLIGHT);
    let summary = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            read_inputs(&inputs, options.unit, BLOCK_BYTES, move |block| {
                sender.send(block).is_ok()
            })
        });
        let tokenised = (|| {
            for block in &receiver {
                let (rows, drops) = encode_block(&tokenizer, &rules, &block)?;
                dropped.add(drops);
                let tokens: usize = rows.iter().map(Vec::len).sum();
                for row in rows {
                    buffer.push(row)?;
                }
                progress.advance(block.bytes, tokens as u64);
            }
            Ok::<_, DataError>(())
        })();
        // Stop the reader before waiting for it when tokenising failed.
        drop(receiver);
        let summary = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        tokenised?;
        summary
    })?;
    buffer.flush()?;
    if buffer.shards.is_empty() {
        return Err(DataError::NoSequences {
            inputs: inputs.len(),
        });
    }

    let token_counts = save_token_counts(&options.out, &buffer.counts)?;
    let manifest = Manifest {
        format: FORMAT,
        rows: buffer.shards.iter().map(|s| s.rows).sum(),
        tokens: buffer.shards.iter().map(|s| s.tokens).sum(),
        max_seq_len: options.max_seq_len,
        text_unit: options.unit,
        vocab_size,
        id_type,
        special_tokens: specials,
        tokenizer: FileDigest {
            path: tokenizer_path,
            sha256: sha256_hex(&tokenizer_bytes),
        },
        seed: options.seed,
        shards: buffer.shards,
        token_counts,
        dropped,
        input: summary,
    };
    manifest.save(&options.out)?;
    Ok(manifest)
}
