//! `distil vocab`: trains a WordPiece vocabulary (BERT's normalisation and special tokens) on a
//! corpus and writes a Hugging Face tokenizer folder for `distil prep` and fine-tuning.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use distil_data::{train_vocab, VocabOptions};

use super::prep::CorpusArgs;

#[derive(Debug, Args)]
pub struct VocabArgs {
    #[command(flatten)]
    pub corpus: CorpusArgs,
    /// Tokens in the vocabulary, the five special tokens included.
    #[arg(long, default_value_t = 8192)]
    pub vocab_size: usize,
    /// Merges seen fewer times are not learnt.
    #[arg(long, default_value_t = 2)]
    pub min_frequency: u64,
    /// Keep case and accents (the default lowercases and strips them, as bert-base-uncased).
    #[arg(long)]
    pub cased: bool,
    /// The tokenizer folder to write (tokenizer.json, vocab.txt, tokenizer_config.json,
    /// special_tokens_map.json).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &VocabArgs) -> anyhow::Result<()> {
    let options = VocabOptions {
        inputs: args.corpus.inputs.clone(),
        unit: args.corpus.unit,
        vocab_size: args.vocab_size,
        min_frequency: args.min_frequency,
        lowercase: !args.cased,
        out: args.out.clone(),
    };
    let trained = train_vocab(&options)
        .with_context(|| format!("training a vocabulary into {}", args.out.display()))?;
    println!(
        "trained a {}-token WordPiece vocabulary on {} sequences; wrote {}",
        trained.vocab_size,
        trained.sequences,
        trained.dir.display()
    );
    Ok(())
}
