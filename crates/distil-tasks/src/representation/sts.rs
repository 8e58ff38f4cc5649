//! Zero-shot semantic textual similarity: each sentence of a pair embedded on its own, the
//! pair scored by the cosine of its two vectors, and the scores ranked against the gold ones.
//! This is sentence-transformers' `EmbeddingSimilarityEvaluator` (cosine Spearman and Pearson,
//! x 100), the number the MTEB/SBERT tables report for STS-B.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::encoder::{progress_bar, SentenceEncoder, Text};
use super::{Pooling, RepresentationError};
use crate::glue::metrics::{pearson, spearman};
use crate::{GlueLabel, GlueSplit, GlueTask, TaskError};

/// How sentences are embedded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsOptions {
    pub pooling: Pooling,
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// Tokens per sentence, special tokens included (capped at the model's positions).
    pub max_seq_length: usize,
    /// Only the first N pairs of the file (null: all).
    pub max_pairs: Option<usize>,
}

impl StsOptions {
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.batch_size == 0 {
            return Err(TaskError::Config {
                key: "batch_size",
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(())
    }
}

impl Default for StsOptions {
    /// sentence-transformers' `encode` batch of 32 doubled, and BERT fine-tuning's length.
    fn default() -> Self {
        Self {
            pooling: Pooling::Mean,
            batch_size: 64,
            max_seq_length: 128,
            max_pairs: None,
        }
    }
}

/// The result of [`sts_zero_shot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StsScore {
    pub model: PathBuf,
    pub data: PathBuf,
    pub pooling: Pooling,
    /// The truncation length used (the asked one, or the model's positions when fewer).
    pub max_seq_length: usize,
    pub pairs: usize,
    /// Spearman's rho of the cosines against the gold scores, x 100.
    pub spearman: f64,
    /// Pearson's r, x 100.
    pub pearson: f64,
}

/// Scores the model in `model_dir` on the STS-B-format file `data` (GLUE's `STS-B/dev.tsv`
/// layout: header, sentences in columns 8 and 9, the 0-5 score last); see the module docs.
/// A file without pairs is an error naming it.
pub fn sts_zero_shot(
    model_dir: &Path,
    tokenizer: Option<&str>,
    data: &Path,
    options: &StsOptions,
    device: Device,
    progress: bool,
) -> Result<StsScore, RepresentationError> {
    options.validate()?;
    let mut examples = GlueTask::Stsb.read_examples(GlueSplit::Dev, data)?;
    if let Some(limit) = options.max_pairs {
        examples.truncate(limit);
    }
    if examples.is_empty() {
        return Err(RepresentationError::NoPairs {
            path: data.to_path_buf(),
        });
    }
    let mut first: Vec<Text<'_>> = Vec::with_capacity(examples.len());
    let mut second: Vec<Text<'_>> = Vec::with_capacity(examples.len());
    let mut gold = Vec::with_capacity(examples.len());
    for example in &examples {
        // The STS-B layout always reads a second sentence and a score.
        if let (Some(b), Some(GlueLabel::Score(score))) = (&example.text_b, example.label) {
            first.push((example.text_a.as_str(), None));
            second.push((b.as_str(), None));
            gold.push(score);
        }
    }
    let encoder = SentenceEncoder::load(model_dir, tokenizer, options.max_seq_length, device)?;
    let bar = progress_bar(2 * first.len(), progress);
    bar.set_message("sts");
    let a = encoder.embed(&first, options.pooling, options.batch_size, &bar)?;
    let b = encoder.embed(&second, options.pooling, options.batch_size, &bar)?;
    bar.finish_and_clear();
    let cosines = cosine_similarities(&a, &b)?;
    Ok(StsScore {
        model: model_dir.to_path_buf(),
        data: data.to_path_buf(),
        pooling: options.pooling,
        max_seq_length: encoder.max_seq_length(),
        pairs: cosines.len(),
        spearman: 100.0 * spearman(&cosines, &gold),
        pearson: 100.0 * pearson(&cosines, &gold),
    })
}

/// The cosine similarity of each row of `a` with the same row of `b` (`[n, hidden]` each),
/// in `Double`: `F.cosine_similarity(a, b, dim=1)`, without its epsilon (a zero vector gives
/// NaN rather than 0; a trained encoder gives none).
pub fn cosine_similarities(a: &Tensor, b: &Tensor) -> Result<Vec<f64>, TaskError> {
    if a.size() != b.size() || a.dim() != 2 {
        return Err(TaskError::Mismatch {
            what: "embeddings to compare",
            expected: format!("two [n, hidden] tensors, the first {:?}", a.size()),
            found: format!("{:?}", b.size()),
        });
    }
    let (a, b) = (
        a.f_to_kind(tch::Kind::Double)?,
        b.f_to_kind(tch::Kind::Double)?,
    );
    let row_sum = |t: &Tensor| t.f_sum_dim_intlist(1, false, None);
    let dot = row_sum(&a.f_mul(&b)?)?;
    let norms = row_sum(&a.f_square()?)?
        .f_mul(&row_sum(&b.f_square()?)?)?
        .f_sqrt()?;
    Ok(Vec::try_from(dot.f_div(&norms)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosines_of_closed_form_pairs() {
        let a = Tensor::from_slice(&[1.0f32, 0.0, 3.0, 4.0, 1.0, 1.0]).view([3, 2]);
        let b = Tensor::from_slice(&[0.0f32, 2.0, 6.0, 8.0, -1.0, -1.0]).view([3, 2]);
        let cosines = cosine_similarities(&a, &b).unwrap();
        let want = [0.0, 1.0, -1.0];
        for (got, want) in cosines.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{cosines:?}");
        }
        let err = cosine_similarities(&a, &b.narrow(0, 0, 2)).unwrap_err();
        assert!(err.to_string().contains("embeddings to compare"), "{err}");
    }
}
