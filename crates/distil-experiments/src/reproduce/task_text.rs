//! Unlabeled task text for the distillation corpus: the sentences of GLUE training sets,
//! labels dropped, one sequence each, as TinyBERT distils on task-domain text. Sentence-length
//! text is what a sentence-embedding teacher was trained on, so it is what its student needs
//! to see; the dev sets are never read.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use distil_core::config::InvalidKey;
use distil_tasks::{GlueSplit, GlueTask};
use serde::{Deserialize, Serialize};

/// `corpus.task_text`: which tasks' training text joins the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTextSection {
    /// The folder holding one folder per GLUE task.
    #[serde(default = "TaskTextSection::default_glue_dir")]
    pub glue_dir: PathBuf,
    /// Task keys (`sts-b`, `sst-2`, ...); each needs `train.tsv`.
    pub tasks: Vec<String>,
    /// The first N training examples of each task (null: all).
    #[serde(default)]
    pub max_examples: Option<usize>,
}

impl TaskTextSection {
    fn default_glue_dir() -> PathBuf {
        PathBuf::from("data/glue")
    }

    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.tasks.is_empty() {
            return Err(InvalidKey::new(
                "corpus.task_text.tasks",
                "list at least one GLUE task",
            ));
        }
        for task in &self.tasks {
            task.parse::<GlueTask>()
                .map_err(|e| InvalidKey::new("corpus.task_text.tasks", e.to_string()))?;
        }
        if self.max_examples == Some(0) {
            return Err(InvalidKey::new(
                "corpus.task_text.max_examples",
                "must be at least 1 (or null for the whole training set)",
            ));
        }
        Ok(())
    }

    /// Writes each task's training sentences to `<out>/<task>.txt`, a blank line after each so
    /// that a sentence is one sequence under either text unit, and returns the files.
    pub fn write(&self, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let mut files = Vec::with_capacity(self.tasks.len());
        for key in &self.tasks {
            let task: GlueTask = key.parse()?;
            let train = self.glue_dir.join(task.dir_name()).join("train.tsv");
            let mut examples = task.read_examples(GlueSplit::Train, &train)?;
            if let Some(limit) = self.max_examples {
                examples.truncate(limit);
            }
            let path = out.join(format!("{key}.txt"));
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            for example in &examples {
                for sentence in std::iter::once(&example.text_a).chain(&example.text_b) {
                    writeln!(file, "{}\n", sentence.trim())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            file.flush()
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glue_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/glue")
    }

    #[test]
    fn writes_each_sentence_of_the_first_examples_as_its_own_sequence() {
        let out = tempfile::tempdir().unwrap();
        let section = TaskTextSection {
            glue_dir: glue_dir(),
            tasks: vec!["sts-b".into(), "sst-2".into()],
            max_examples: Some(3),
        };
        let files = section.write(out.path()).unwrap();
        let sts = std::fs::read_to_string(&files[0]).unwrap();
        let sentences: Vec<&str> = sts.split("\n\n").filter(|s| !s.is_empty()).collect();
        // Three pairs, two sentences each, in file order.
        assert_eq!(sentences.len(), 6);
        assert_eq!(sentences[0], "A plane is taking off.");
        assert_eq!(sentences[1], "An air plane is taking off.");
        let sst = std::fs::read_to_string(&files[1]).unwrap();
        assert_eq!(sst.matches("\n\n").count(), 3);
        assert!(!sst.contains("\t"), "labels must be dropped");
    }

    #[test]
    fn a_bad_task_or_limit_is_named() {
        let mut section = TaskTextSection {
            glue_dir: glue_dir(),
            tasks: vec!["sts-c".into()],
            max_examples: None,
        };
        assert_eq!(
            section.validate().unwrap_err().key,
            "corpus.task_text.tasks"
        );
        section.tasks = vec!["sts-b".into()];
        section.max_examples = Some(0);
        assert_eq!(
            section.validate().unwrap_err().key,
            "corpus.task_text.max_examples"
        );
    }
}
