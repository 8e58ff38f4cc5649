//! The nine GLUE tasks: their files, column layouts, labels and submission names.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::TaskError;

/// A GLUE task, named as in the GLUE data folders (`CoLA`, `SST-2`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlueTask {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    Mnli,
    Qnli,
    Rte,
    Wnli,
}

/// A split of a task. Only MNLI has the mismatched dev and test sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlueSplit {
    Train,
    Dev,
    DevMismatched,
    Test,
    TestMismatched,
}

impl GlueSplit {
    /// Test files carry an index column and no label.
    pub fn is_test(self) -> bool {
        matches!(self, GlueSplit::Test | GlueSplit::TestMismatched)
    }
}

/// Where a label sits in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelColumn {
    At(usize),
    /// The last field (STS-B's score, MNLI's `gold_label` after a varying number of
    /// annotator labels: 12 columns in train, 16 in dev).
    Last,
}

/// The column layout of one kind of file (train/dev, or test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnLayout {
    pub header: bool,
    /// The column holding the GLUE index, written back in submissions (test files only).
    pub index: Option<usize>,
    pub text_a: usize,
    pub text_b: Option<usize>,
    pub label: Option<LabelColumn>,
}

impl ColumnLayout {
    /// The fewest fields a row must have to hold every column read.
    pub fn min_columns(&self) -> usize {
        let last_text = self.text_b.unwrap_or(self.text_a).max(self.text_a);
        let mut needed = last_text.max(self.index.unwrap_or(0)) + 1;
        match self.label {
            Some(LabelColumn::At(i)) => needed = needed.max(i + 1),
            Some(LabelColumn::Last) => needed += 1,
            None => {}
        }
        needed
    }
}

const BINARY: &[&str] = &["0", "1"];
const ENTAILMENT: &[&str] = &["entailment", "not_entailment"];
const NLI: &[&str] = &["contradiction", "entailment", "neutral"];

impl GlueTask {
    pub const ALL: [GlueTask; 9] = [
        GlueTask::Cola,
        GlueTask::Sst2,
        GlueTask::Mrpc,
        GlueTask::Stsb,
        GlueTask::Qqp,
        GlueTask::Mnli,
        GlueTask::Qnli,
        GlueTask::Rte,
        GlueTask::Wnli,
    ];

    /// The name of the task's data folder in the GLUE distribution.
    pub fn dir_name(self) -> &'static str {
        match self {
            GlueTask::Cola => "CoLA",
            GlueTask::Sst2 => "SST-2",
            GlueTask::Mrpc => "MRPC",
            GlueTask::Stsb => "STS-B",
            GlueTask::Qqp => "QQP",
            GlueTask::Mnli => "MNLI",
            GlueTask::Qnli => "QNLI",
            GlueTask::Rte => "RTE",
            GlueTask::Wnli => "WNLI",
        }
    }

    /// Class names in label-id order, as the files and the GLUE server spell them; `None`
    /// for STS-B, a regression on a 0-5 score.
    pub fn labels(self) -> Option<&'static [&'static str]> {
        match self {
            GlueTask::Stsb => None,
            GlueTask::Mnli => Some(NLI),
            GlueTask::Qnli | GlueTask::Rte => Some(ENTAILMENT),
            GlueTask::Cola | GlueTask::Sst2 | GlueTask::Mrpc | GlueTask::Qqp | GlueTask::Wnli => {
                Some(BINARY)
            }
        }
    }

    /// The head's output width: 1 for regression (trained with MSE), else the class count.
    pub fn num_labels(self) -> usize {
        self.labels().map_or(1, <[_]>::len)
    }

    pub fn is_regression(self) -> bool {
        self.labels().is_none()
    }

    /// The labelled splits evaluated after training (MNLI: matched, then mismatched).
    pub fn dev_splits(self) -> &'static [GlueSplit] {
        match self {
            GlueTask::Mnli => &[GlueSplit::Dev, GlueSplit::DevMismatched],
            _ => &[GlueSplit::Dev],
        }
    }

    /// The unlabelled splits predicted for a GLUE submission.
    pub fn test_splits(self) -> &'static [GlueSplit] {
        match self {
            GlueTask::Mnli => &[GlueSplit::Test, GlueSplit::TestMismatched],
            _ => &[GlueSplit::Test],
        }
    }

    /// The split's file name in the task folder, or an error for MNLI-only splits.
    pub fn file_name(self, split: GlueSplit) -> Result<&'static str, TaskError> {
        Ok(match (self, split) {
            (_, GlueSplit::Train) => "train.tsv",
            (GlueTask::Mnli, GlueSplit::Dev) => "dev_matched.tsv",
            (GlueTask::Mnli, GlueSplit::DevMismatched) => "dev_mismatched.tsv",
            (GlueTask::Mnli, GlueSplit::Test) => "test_matched.tsv",
            (GlueTask::Mnli, GlueSplit::TestMismatched) => "test_mismatched.tsv",
            (_, GlueSplit::Dev) => "dev.tsv",
            (_, GlueSplit::Test) => "test.tsv",
            (_, GlueSplit::DevMismatched | GlueSplit::TestMismatched) => {
                return Err(TaskError::Config {
                    key: "split",
                    reason: format!("{self} has no mismatched split (only MNLI has)"),
                })
            }
        })
    }

    /// `task_dir/<file of split>`; `task_dir` is the task's folder (e.g. `data/glue/SST-2`).
    pub fn split_path(self, task_dir: &Path, split: GlueSplit) -> Result<PathBuf, TaskError> {
        Ok(task_dir.join(self.file_name(split)?))
    }

    /// The name a split's metrics carry, as `run_glue.py` reports them (`mnli-mm` for the
    /// mismatched dev set).
    pub fn metric_prefix(self, split: GlueSplit) -> &'static str {
        match (self, split) {
            (GlueTask::Mnli, GlueSplit::DevMismatched | GlueSplit::TestMismatched) => "mnli-mm",
            (GlueTask::Mnli, _) => "mnli",
            _ => self.key(),
        }
    }

    /// The file the GLUE server expects for a test split's predictions.
    pub fn submission_file_name(self, split: GlueSplit) -> &'static str {
        match (self, split) {
            (GlueTask::Mnli, GlueSplit::DevMismatched | GlueSplit::TestMismatched) => "MNLI-mm.tsv",
            (GlueTask::Mnli, _) => "MNLI-m.tsv",
            (GlueTask::Cola, _) => "CoLA.tsv",
            (GlueTask::Sst2, _) => "SST-2.tsv",
            (GlueTask::Mrpc, _) => "MRPC.tsv",
            (GlueTask::Stsb, _) => "STS-B.tsv",
            (GlueTask::Qqp, _) => "QQP.tsv",
            (GlueTask::Qnli, _) => "QNLI.tsv",
            (GlueTask::Rte, _) => "RTE.tsv",
            (GlueTask::Wnli, _) => "WNLI.tsv",
        }
    }

    /// The lower-case key used on the command line and in config files.
    pub fn key(self) -> &'static str {
        match self {
            GlueTask::Cola => "cola",
            GlueTask::Sst2 => "sst-2",
            GlueTask::Mrpc => "mrpc",
            GlueTask::Stsb => "sts-b",
            GlueTask::Qqp => "qqp",
            GlueTask::Mnli => "mnli",
            GlueTask::Qnli => "qnli",
            GlueTask::Rte => "rte",
            GlueTask::Wnli => "wnli",
        }
    }

    /// Column layouts as in the GLUE distribution (and `run_glue.py`'s processors).
    pub(crate) fn layout(self, split: GlueSplit) -> ColumnLayout {
        let test = split.is_test();
        let pair = |a: usize, b: usize, label: LabelColumn| ColumnLayout {
            header: true,
            index: test.then_some(0),
            text_a: a,
            text_b: Some(b),
            label: (!test).then_some(label),
        };
        // Every test file starts with the index column, then the text.
        let single_test = ColumnLayout {
            header: true,
            index: Some(0),
            text_a: 1,
            text_b: None,
            label: None,
        };
        match self {
            GlueTask::Cola | GlueTask::Sst2 if test => single_test,
            // CoLA train/dev: source, label, original mark, sentence; no header.
            GlueTask::Cola => ColumnLayout {
                header: false,
                index: None,
                text_a: 3,
                text_b: None,
                label: Some(LabelColumn::At(1)),
            },
            GlueTask::Sst2 => ColumnLayout {
                header: true,
                index: None,
                text_a: 0,
                text_b: None,
                label: Some(LabelColumn::At(1)),
            },
            // Quality (or index), #1 ID, #2 ID, #1 String, #2 String.
            GlueTask::Mrpc => pair(3, 4, LabelColumn::At(0)),
            GlueTask::Stsb => pair(7, 8, LabelColumn::Last),
            // Train/dev: id, qid1, qid2, question1, question2, is_duplicate; test: id,
            // question1, question2.
            GlueTask::Qqp if test => pair(1, 2, LabelColumn::Last),
            GlueTask::Qqp => pair(3, 4, LabelColumn::At(5)),
            // index, promptID, pairID, genre, 4 parses, sentence1, sentence2, labels...
            GlueTask::Mnli => pair(8, 9, LabelColumn::Last),
            GlueTask::Qnli | GlueTask::Rte | GlueTask::Wnli => pair(1, 2, LabelColumn::Last),
        }
    }
}

impl fmt::Display for GlueTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

impl FromStr for GlueTask {
    type Err = TaskError;

    /// Accepts the folder name or the key in any case, with or without the dash
    /// (`SST-2`, `sst2`, `STS-B`, `stsb`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        GlueTask::ALL
            .into_iter()
            .find(|task| task.key().replace('-', "") == wanted)
            .ok_or_else(|| TaskError::UnknownTask(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_every_spelling() {
        for task in GlueTask::ALL {
            assert_eq!(task.key().parse::<GlueTask>().unwrap(), task);
            assert_eq!(task.dir_name().parse::<GlueTask>().unwrap(), task);
        }
        assert_eq!("sst2".parse::<GlueTask>().unwrap(), GlueTask::Sst2);
        assert!("squad".parse::<GlueTask>().is_err());
    }

    #[test]
    fn layouts_need_the_columns_they_read() {
        assert_eq!(GlueTask::Cola.layout(GlueSplit::Train).min_columns(), 4);
        assert_eq!(GlueTask::Qqp.layout(GlueSplit::Dev).min_columns(), 6);
        assert_eq!(GlueTask::Qqp.layout(GlueSplit::Test).min_columns(), 3);
        assert_eq!(GlueTask::Mnli.layout(GlueSplit::Train).min_columns(), 11);
        assert_eq!(GlueTask::Mnli.layout(GlueSplit::Test).min_columns(), 10);
        assert_eq!(GlueTask::Stsb.layout(GlueSplit::Dev).min_columns(), 10);
        assert!(GlueTask::Rte.file_name(GlueSplit::DevMismatched).is_err());
        assert_eq!(
            GlueTask::Mnli.file_name(GlueSplit::DevMismatched).unwrap(),
            "dev_mismatched.tsv"
        );
    }
}
