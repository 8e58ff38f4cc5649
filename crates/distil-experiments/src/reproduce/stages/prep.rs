//! The prep stage: the corpus (with the task text, when given) tokenized into MLM shards, and
//! the held-out text (when given) into shards of its own.

use std::path::PathBuf;

use distil_data::{prepare, Manifest, NoProgress, PrepOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::runner::Done;

/// What the prep stage leaves: the shard folder and its size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shards {
    pub dir: PathBuf,
    pub rows: u64,
    pub tokens: u64,
    pub vocab_size: usize,
    pub max_seq_len: usize,
    /// Shards of `corpus.held_out`, when listed.
    #[serde(default)]
    pub held_out: Option<PathBuf>,
}

impl Pipeline<'_> {
    pub(in crate::reproduce) fn prep(
        &mut self,
        vocab: Option<&Done<ModelDir>>,
    ) -> anyhow::Result<Done<Shards>> {
        let corpus = self.config.corpus.clone();
        let out = self.run_dir.join("shards");
        let inputs = json!({ "corpus": corpus, "vocab": vocab.map(|v| &v.hash) });
        let tokenizer = self.tokenizer.clone();
        let held_out_dir = self.run_dir.join("held-out-shards");
        let task_text_dir = self.run_dir.join("task-text");
        self.stages.run("prep", &inputs, |_| {
            let mut texts = corpus.inputs.clone();
            if let Some(task_text) = &corpus.task_text {
                texts.extend(task_text.write(&task_text_dir)?);
            }
            let options = PrepOptions {
                inputs: texts,
                unit: corpus.unit,
                tokenizer: tokenizer.clone(),
                out: out.clone(),
                max_seq_len: corpus.max_seq_len,
                shard_tokens: corpus.shard_tokens,
                seed: corpus.seed,
            };
            let manifest: Manifest = prepare(&options, &NoProgress)?;
            let held_out = match corpus.held_out.is_empty() {
                true => None,
                false => {
                    let options = PrepOptions {
                        inputs: corpus.held_out.clone(),
                        out: held_out_dir.clone(),
                        ..options
                    };
                    prepare(&options, &NoProgress)?;
                    Some(held_out_dir.clone())
                }
            };
            Ok(Shards {
                dir: out.clone(),
                rows: manifest.rows,
                tokens: manifest.tokens,
                vocab_size: manifest.vocab_size,
                max_seq_len: manifest.max_seq_len,
                held_out,
            })
        })
    }

    /// The shards' data config: the config's batching and masking, on the prepared shards.
    pub(in crate::reproduce) fn data(&self, shards: &Shards) -> distil_data::DataConfig {
        let mut data = self.config.data.clone();
        data.shards = shards.dir.clone();
        data
    }
}
