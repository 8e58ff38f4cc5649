//! The vocab stage: a WordPiece vocabulary trained on the corpus, when the config asks for one
//! (later stages then tokenize with it).

use distil_data::{train_vocab, VocabOptions};
use serde_json::json;

use crate::reproduce::pipeline::{ModelDir, Pipeline};
use crate::reproduce::runner::Done;

impl Pipeline<'_> {
    /// Trains the corpus vocabulary when the config asks for one; later stages then use it.
    pub(in crate::reproduce) fn vocab(&mut self) -> anyhow::Result<Option<Done<ModelDir>>> {
        let corpus = self.config.corpus.clone();
        let Some(section) = corpus.train_vocab.clone() else {
            return Ok(None);
        };
        let out = self.run_dir.join("vocab");
        // Only what the vocabulary depends on: a new sequence length keeps it.
        let inputs = json!({ "inputs": corpus.inputs, "unit": corpus.unit, "vocab": section });
        let done = self.stages.run("vocab", &inputs, |_| {
            let options = VocabOptions {
                inputs: corpus.inputs.clone(),
                unit: corpus.unit,
                vocab_size: section.vocab_size,
                min_frequency: section.min_frequency,
                lowercase: section.lowercase,
                out: out.clone(),
            };
            Ok(ModelDir {
                dir: train_vocab(&options)?.dir,
            })
        })?;
        self.tokenizer = done.value.dir.display().to_string();
        Ok(Some(done))
    }
}
