//! Head outputs to predictions, and the prediction files: the GLUE-submission TSV for test
//! splits.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use tch::{Device, Kind, Tensor};

use super::reader::{GlueExample, GlueLabel};
use super::task::{GlueSplit, GlueTask};
use crate::TaskError;

impl GlueTask {
    /// Predictions from a head's logits `[batch, num_labels]`: the arg-max class, or for
    /// STS-B (`num_labels` 1) the score itself.
    pub fn predictions_from_logits(self, logits: &Tensor) -> Result<Vec<GlueLabel>, TaskError> {
        let size = logits.size();
        if size.len() != 2 || size[1] != self.num_labels() as i64 {
            return Err(TaskError::Mismatch {
                what: "logits shape",
                expected: format!("[batch, {}]", self.num_labels()),
                found: format!("{size:?}"),
            });
        }
        let to_vec = |t: Tensor| {
            Vec::<f64>::try_from(
                t.to_device(Device::Cpu)
                    .to_kind(Kind::Double)
                    .flatten(0, -1),
            )
        };
        Ok(if self.is_regression() {
            to_vec(logits.squeeze_dim(1))?
                .into_iter()
                .map(GlueLabel::Score)
                .collect()
        } else {
            to_vec(logits.argmax(-1, false))?
                .into_iter()
                .map(|c| GlueLabel::Class(c as usize))
                .collect()
        })
    }

    /// The submission line's prediction: the label name the GLUE server expects
    /// (`entailment`, `0`, ...) or an STS-B score with three decimals.
    pub fn prediction_text(self, prediction: GlueLabel) -> Result<String, TaskError> {
        match (self.labels(), prediction) {
            (None, GlueLabel::Score(s)) => Ok(format!("{s:.3}")),
            (Some(labels), GlueLabel::Class(c)) if c < labels.len() => Ok(labels[c].to_string()),
            (_, other) => Err(TaskError::Mismatch {
                what: "prediction",
                expected: format!("a {self} label"),
                found: format!("{other:?}"),
            }),
        }
    }

    /// Writes `dir/<CoLA.tsv, MNLI-m.tsv, ...>` as the GLUE server takes it: a header
    /// `index<TAB>prediction`, then one row per test example with its GLUE index.
    pub fn write_submission(
        self,
        dir: &Path,
        split: GlueSplit,
        examples: &[GlueExample],
        predictions: &[GlueLabel],
    ) -> Result<PathBuf, TaskError> {
        if examples.len() != predictions.len() {
            return Err(TaskError::Mismatch {
                what: "predictions for the test examples",
                expected: examples.len().to_string(),
                found: predictions.len().to_string(),
            });
        }
        let mut text = String::from("index\tprediction\n");
        for (row, (example, &prediction)) in examples.iter().zip(predictions).enumerate() {
            let index = example.index.clone().unwrap_or_else(|| row.to_string());
            let _ = writeln!(text, "{index}\t{}", self.prediction_text(prediction)?);
        }
        let path = dir.join(self.submission_file_name(split));
        write_atomically(&path, text.as_bytes())?;
        Ok(path)
    }
}
