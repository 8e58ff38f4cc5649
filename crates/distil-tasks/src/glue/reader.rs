//! Reading GLUE TSV files into examples.

use std::path::Path;

use super::task::{GlueSplit, GlueTask, LabelColumn};
use crate::tsv::{TsvFile, TsvRow};
use crate::TaskError;

/// A gold label: a class id (an index into [`GlueTask::labels`]) or an STS-B score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GlueLabel {
    Class(usize),
    Score(f64),
}

/// One sentence or sentence pair.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueExample {
    /// 1-based line in the source file.
    pub line: usize,
    /// The GLUE index of a test row, echoed in the submission file.
    pub index: Option<String>,
    pub text_a: String,
    pub text_b: Option<String>,
    /// `None` for test rows.
    pub label: Option<GlueLabel>,
}

impl GlueTask {
    /// Reads `path` as this task's `split` file. A row with too few columns, an unknown label
    /// or an unparsable score is an error naming the file and line.
    pub fn read_examples(
        self,
        split: GlueSplit,
        path: &Path,
    ) -> Result<Vec<GlueExample>, TaskError> {
        let file = TsvFile::read(path)?;
        let layout = self.layout(split);
        let columns = layout.min_columns();
        file.rows(layout.header)
            .map(|row| {
                file.require_columns(&row, columns)?;
                let label = match layout.label {
                    None => None,
                    Some(LabelColumn::At(i)) => {
                        Some(self.parse_label(&file, &row, row.fields[i])?)
                    }
                    Some(LabelColumn::Last) => {
                        let last = row.fields[row.fields.len() - 1];
                        Some(self.parse_label(&file, &row, last)?)
                    }
                };
                Ok(GlueExample {
                    line: row.line,
                    index: layout.index.map(|i| row.fields[i].to_string()),
                    text_a: row.fields[layout.text_a].to_string(),
                    text_b: layout.text_b.map(|i| row.fields[i].to_string()),
                    label,
                })
            })
            .collect()
    }

    fn parse_label(
        self,
        file: &TsvFile,
        row: &TsvRow<'_>,
        value: &str,
    ) -> Result<GlueLabel, TaskError> {
        match self.labels() {
            None => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|score| score.is_finite())
                .map(GlueLabel::Score)
                .ok_or_else(|| TaskError::BadScore {
                    path: file.path().to_path_buf(),
                    line: row.line,
                    value: value.to_string(),
                }),
            Some(labels) => labels
                .iter()
                .position(|name| *name == value)
                .map(GlueLabel::Class)
                .ok_or_else(|| TaskError::UnknownLabel {
                    path: file.path().to_path_buf(),
                    line: row.line,
                    label: value.to_string(),
                    task: self.to_string(),
                    expected: labels.iter().map(|l| l.to_string()).collect(),
                }),
        }
    }
}
