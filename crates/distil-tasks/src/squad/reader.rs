//! Reading the official SQuAD v1.1/v2.0 JSON into examples.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::TaskError;

/// Which SQuAD: v2.0 adds unanswerable questions, a null answer and its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SquadVersion {
    #[serde(rename = "1.1")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

impl SquadVersion {
    /// The version as SQuAD writes it (and as configs and run folder names carry it).
    pub fn as_str(self) -> &'static str {
        match self {
            SquadVersion::V1 => "1.1",
            SquadVersion::V2 => "2.0",
        }
    }
}

impl std::fmt::Display for SquadVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SQuAD version other than 1.1 and 2.0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQuAD version `{0}`; expected 1.1 or 2.0")]
pub struct UnknownSquadVersion(pub String);

impl std::str::FromStr for SquadVersion {
    type Err = UnknownSquadVersion;

    /// `1.1` or `2.0`, also written `v1.1`, `1`, `v2`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim_start_matches('v') {
            "1.1" | "1" => Ok(SquadVersion::V1),
            "2.0" | "2" => Ok(SquadVersion::V2),
            other => Err(UnknownSquadVersion(other.to_string())),
        }
    }
}

/// A gold answer: its text and where it starts in the context, in characters (Unicode scalar
/// values, as Python indexes strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SquadAnswer {
    pub text: String,
    pub char_start: usize,
}

/// One question about one paragraph.
#[derive(Debug, Clone, PartialEq)]
pub struct SquadExample {
    pub id: String,
    pub question: String,
    /// Shared by every question of the paragraph.
    pub context: Arc<str>,
    /// Index of the paragraph in the file; questions of one paragraph share its tokens.
    pub paragraph: usize,
    /// Every gold answer (the first is the training target); empty when impossible.
    pub answers: Vec<SquadAnswer>,
    pub is_impossible: bool,
}

/// What to do with a gold answer whose text is not found at its offset in the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadAnswerPolicy {
    /// Stop with an error naming the question id.
    #[default]
    Error,
    /// Drop the question and count it (in [`SquadDataset::skipped`]).
    Skip,
}

/// A question left out under [`BadAnswerPolicy::Skip`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedQuestion {
    pub id: String,
    pub reason: String,
}

/// The examples of one SQuAD file.
#[derive(Debug, Clone)]
pub struct SquadDataset {
    /// The file's own `version` field (`1.1`, `v2.0`), when present.
    pub version: Option<String>,
    pub examples: Vec<SquadExample>,
    pub skipped: Vec<SkippedQuestion>,
}

#[derive(Deserialize)]
struct RawFile {
    version: Option<String>,
    data: Vec<RawArticle>,
}

#[derive(Deserialize)]
struct RawArticle {
    paragraphs: Vec<RawParagraph>,
}

#[derive(Deserialize)]
struct RawParagraph {
    context: String,
    qas: Vec<RawQuestion>,
}

#[derive(Deserialize)]
struct RawQuestion {
    id: String,
    question: String,
    #[serde(default)]
    answers: Vec<RawAnswer>,
    #[serde(default)]
    is_impossible: bool,
}

#[derive(Deserialize)]
struct RawAnswer {
    text: String,
    answer_start: usize,
}

/// Reads a SQuAD JSON file. Every gold answer must appear verbatim at its `answer_start`;
/// one that does not is handled by `policy`.
pub fn read_squad(path: &Path, policy: BadAnswerPolicy) -> Result<SquadDataset, TaskError> {
    let bytes = std::fs::read(path).map_err(|source| TaskError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: RawFile = serde_json::from_slice(&bytes).map_err(|e| TaskError::SquadJson {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    let paragraphs = raw.data.into_iter().flat_map(|a| a.paragraphs);
    for (paragraph, raw_paragraph) in paragraphs.enumerate() {
        let context: Arc<str> = Arc::from(raw_paragraph.context);
        let char_count = context.chars().count();
        for question in raw_paragraph.qas {
            let checked: Result<Vec<SquadAnswer>, TaskError> = question
                .answers
                .into_iter()
                .map(|answer| check_answer(path, &question.id, &context, char_count, answer))
                .collect();
            match (checked, policy) {
                (Ok(answers), _) => examples.push(SquadExample {
                    id: question.id,
                    question: question.question,
                    context: Arc::clone(&context),
                    paragraph,
                    is_impossible: question.is_impossible || answers.is_empty(),
                    answers,
                }),
                (Err(error), BadAnswerPolicy::Skip) => skipped.push(SkippedQuestion {
                    id: question.id,
                    reason: error.to_string(),
                }),
                (Err(error), BadAnswerPolicy::Error) => return Err(error),
            }
        }
    }
    Ok(SquadDataset {
        version: raw.version,
        examples,
        skipped,
    })
}

fn check_answer(
    path: &Path,
    qid: &str,
    context: &str,
    char_count: usize,
    answer: RawAnswer,
) -> Result<SquadAnswer, TaskError> {
    let length = answer.text.chars().count();
    let outside = |reason: String| TaskError::AnswerOutsideContext {
        path: path.to_path_buf(),
        qid: qid.to_string(),
        text: answer.text.clone(),
        start: answer.answer_start,
        reason,
    };
    if answer.answer_start + length > char_count {
        return Err(outside(format!(
            "ends past the context's {char_count} characters"
        )));
    }
    let found: String = context
        .chars()
        .skip(answer.answer_start)
        .take(length)
        .collect();
    if found != answer.text {
        return Err(outside(format!(
            "does not match the context there ({found:?})"
        )));
    }
    Ok(SquadAnswer {
        char_start: answer.answer_start,
        text: answer.text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_print_and_parse_as_squad_writes_them() {
        for version in [SquadVersion::V1, SquadVersion::V2] {
            let text = version.to_string();
            assert_eq!(text.parse::<SquadVersion>(), Ok(version));
            // The config and results.json representation is the same text.
            assert_eq!(
                serde_json::to_value(version).ok(),
                Some(serde_json::Value::String(text))
            );
        }
        assert_eq!("v2".parse::<SquadVersion>(), Ok(SquadVersion::V2));
        let err = "3.0".parse::<SquadVersion>().unwrap_err();
        assert!(err.to_string().contains("expected 1.1 or 2.0"), "{err}");
    }
}
