//! Corpus inputs: plain text, JSON lines and parquet files with a `text` field or column,
//! directories expanded. A sequence is a line (the reference's rule) or a paragraph (lines up
//! to a blank line, joined); text is handed on in blocks of sequences.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde::{Deserialize, Serialize};

use crate::DataError;

/// How many skipped lines are listed one by one in the report; all are counted.
pub const LISTED_SKIPS: usize = 1000;

/// The format of one input file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Text,
    Jsonl,
    Parquet,
}

impl InputKind {
    /// The kind a file found inside a directory has; `None` for files that are not corpus text
    /// (`.txt`, and WikiText's `.raw` and `.tokens`, are text).
    fn in_directory(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("txt" | "raw" | "tokens") => Some(InputKind::Text),
            Some("jsonl") => Some(InputKind::Jsonl),
            Some("parquet") => Some(InputKind::Parquet),
            _ => None,
        }
    }

    /// The kind of a file named on the command line: any other extension is read as text.
    fn named(path: &Path) -> Self {
        Self::in_directory(path).unwrap_or(InputKind::Text)
    }
}

/// What one sequence of a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextUnit {
    /// Every non-blank line (the reference's binarisation).
    #[default]
    Line,
    /// Consecutive non-blank lines up to a blank line or the end of a document, joined with
    /// spaces: hard-wrapped books (Gutenberg) otherwise give sequences of a dozen words.
    Paragraph,
}

impl std::str::FromStr for TextUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "line" => Ok(TextUnit::Line),
            "paragraph" => Ok(TextUnit::Paragraph),
            other => Err(format!("unknown text unit `{other}` (line or paragraph)")),
        }
    }
}

/// One corpus file to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub kind: InputKind,
    pub bytes: u64,
}

/// Expands directories (recursively, in name order) and checks every file up front, so a bad
/// input (missing, or a parquet file without a `text` column) fails before any shard is written.
pub fn discover_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>, DataError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            expand_dir(path, &mut files)?;
        } else if path.is_file() {
            files.push((path.clone(), InputKind::named(path)));
        } else {
            return Err(DataError::MissingInput { path: path.clone() });
        }
    }
    files
        .into_iter()
        .map(|(path, kind)| {
            let bytes = std::fs::metadata(&path)
                .map_err(|source| DataError::Read {
                    path: path.clone(),
                    source,
                })?
                .len();
            if kind == InputKind::Parquet && bytes > 0 {
                parquet_text_reader(&path, 1)?;
            }
            Ok(InputFile { path, kind, bytes })
        })
        .collect()
}

fn expand_dir(dir: &Path, files: &mut Vec<(PathBuf, InputKind)>) -> Result<(), DataError> {
    let read_err = |source| DataError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            expand_dir(&path, files)?;
        } else if let Some(kind) = InputKind::in_directory(&path) {
            files.push((path, kind));
        }
    }
    Ok(())
}

/// A line that was skipped, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedLine {
    pub path: PathBuf,
    pub line: u64,
    pub reason: String,
}

/// What reading the inputs found besides the text itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadSummary {
    /// Non-empty text lines handed on.
    pub lines: u64,
    /// Blank lines (document breaks).
    pub blank_lines: u64,
    /// Lines skipped because they were not UTF-8 or not a JSON object with a `text` string.
    pub skipped_lines: u64,
    /// The first [`LISTED_SKIPS`] skipped lines.
    pub skipped: Vec<SkippedLine>,
    /// Input files that held no bytes at all.
    pub empty_files: Vec<PathBuf>,
}

impl ReadSummary {
    fn skip(&mut self, path: &Path, line: u64, reason: String) {
        self.skipped_lines += 1;
        if self.skipped.len() < LISTED_SKIPS {
            self.skipped.push(SkippedLine {
                path: path.to_path_buf(),
                line,
                reason,
            });
        }
    }
}

/// Sequences (lines or paragraphs) in input order, with the input bytes they came from (for
/// progress).
#[derive(Debug, Default)]
pub struct TextBlock {
    pub lines: Vec<String>,
    pub bytes: u64,
}

/// Collects sequences into blocks of about `block_bytes` and hands each to `emit`; `emit`
/// returns false when the consumer has stopped, which ends reading early.
struct Blocks<F: FnMut(TextBlock) -> bool> {
    unit: TextUnit,
    /// The paragraph being joined (paragraph unit only).
    paragraph: String,
    block: TextBlock,
    text_bytes: usize,
    block_bytes: usize,
    emit: F,
    open: bool,
    summary: ReadSummary,
}

impl<F: FnMut(TextBlock) -> bool> Blocks<F> {
    /// Adds every non-blank line of `text` as a sequence, or to the open paragraph; text fields
    /// of JSON lines and parquet rows may hold several lines, read like those of a text file.
    fn push_text(&mut self, text: &str) {
        for line in text.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                self.summary.blank_lines += 1;
                self.end_paragraph();
                continue;
            }
            self.summary.lines += 1;
            match self.unit {
                TextUnit::Line => self.push_sequence(line.to_string()),
                TextUnit::Paragraph => {
                    if !self.paragraph.is_empty() {
                        self.paragraph.push(' ');
                    }
                    self.paragraph.push_str(line);
                }
            }
        }
        if self.text_bytes >= self.block_bytes {
            self.flush();
        }
    }

    fn push_sequence(&mut self, sequence: String) {
        self.text_bytes += sequence.len();
        self.block.lines.push(sequence);
    }

    /// Closes the open paragraph: at a blank line, and at the end of a file or record (a
    /// paragraph never spans two documents).
    fn end_paragraph(&mut self) {
        if !self.paragraph.is_empty() {
            let paragraph = std::mem::take(&mut self.paragraph);
            self.push_sequence(paragraph);
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.block.bytes += bytes;
    }

    fn flush(&mut self) {
        if self.open && (self.block.bytes > 0 || !self.block.lines.is_empty()) {
            self.open = (self.emit)(std::mem::take(&mut self.block));
        }
        self.text_bytes = 0;
    }
}

/// Reads every input in order and hands its sequences on in blocks of about `block_bytes` of
/// text.
pub fn read_inputs(
    inputs: &[InputFile],
    unit: TextUnit,
    block_bytes: usize,
    emit: impl FnMut(TextBlock) -> bool,
) -> Result<ReadSummary, DataError> {
    let mut blocks = Blocks {
        unit,
        paragraph: String::new(),
        block: TextBlock::default(),
        text_bytes: 0,
        block_bytes,
        emit,
        open: true,
        summary: ReadSummary::default(),
    };
    for input in inputs {
        if !blocks.open {
            break;
        }
        if input.bytes == 0 {
            blocks.summary.empty_files.push(input.path.clone());
            continue;
        }
        match input.kind {
            InputKind::Text | InputKind::Jsonl => read_lines(input, &mut blocks)?,
            InputKind::Parquet => read_parquet(input, &mut blocks)?,
        }
        blocks.end_paragraph();
    }
    blocks.flush();
    Ok(blocks.summary)
}

#[derive(Deserialize)]
struct TextRecord {
    text: String,
}

fn read_lines<F: FnMut(TextBlock) -> bool>(
    input: &InputFile,
    blocks: &mut Blocks<F>,
) -> Result<(), DataError> {
    let path = &input.path;
    let file = File::open(path).map_err(|source| DataError::Read {
        path: path.clone(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut bytes = Vec::new();
    let mut line_no = 0u64;
    loop {
        bytes.clear();
        let n = reader
            .read_until(b'\n', &mut bytes)
            .map_err(|source| DataError::Read {
                path: path.clone(),
                source,
            })?;
        if n == 0 || !blocks.open {
            return Ok(());
        }
        line_no += 1;
        blocks.advance(n as u64);
        let Ok(line) = std::str::from_utf8(&bytes) else {
            blocks
                .summary
                .skip(path, line_no, "not valid UTF-8".to_string());
            continue;
        };
        if input.kind == InputKind::Text {
            blocks.push_text(line.trim_end_matches(['\n', '\r']));
        } else if line.trim().is_empty() {
            blocks.summary.blank_lines += 1;
        } else {
            match serde_json::from_str::<TextRecord>(line) {
                Ok(record) => {
                    blocks.push_text(&record.text);
                    blocks.end_paragraph();
                }
                Err(e) => blocks.summary.skip(
                    path,
                    line_no,
                    format!("not a JSON object with a `text` string: {e}"),
                ),
            }
        }
    }
}

/// A reader of the `text` column only, in record batches of `batch_rows`.
fn parquet_text_reader(
    path: &Path,
    batch_rows: usize,
) -> Result<(parquet::arrow::arrow_reader::ParquetRecordBatchReader, i64), DataError> {
    let parquet_err = |e: parquet::errors::ParquetError| DataError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let schema = builder.schema().clone();
    let text_column = schema.fields().iter().position(|f| {
        f.name() == "text"
            && matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
    });
    let Some(column) = text_column else {
        let found = schema
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(DataError::NoTextColumn {
            path: path.to_path_buf(),
            found,
        });
    };
    let rows = builder.metadata().file_metadata().num_rows();
    let mask = ProjectionMask::roots(builder.parquet_schema(), [column]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(parquet_err)?;
    Ok((reader, rows))
}

fn read_parquet<F: FnMut(TextBlock) -> bool>(
    input: &InputFile,
    blocks: &mut Blocks<F>,
) -> Result<(), DataError> {
    let path = &input.path;
    let (reader, rows) = parquet_text_reader(path, 1024)?;
    let mut rows_read = 0i64;
    let mut bytes_reported = 0u64;
    for batch in reader {
        if !blocks.open {
            return Ok(());
        }
        let batch = batch.map_err(|e| DataError::Parquet {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let column = arrow::compute::cast(batch.column(0), &DataType::Utf8).map_err(|e| {
            DataError::Parquet {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let texts = column.as_string::<i32>();
        rows_read += texts.len() as i64;
        // Progress in file bytes, spread over the rows read so far.
        let bytes_so_far = input.bytes * rows_read.max(0) as u64 / rows.max(1) as u64;
        blocks.advance(bytes_so_far.saturating_sub(bytes_reported));
        bytes_reported = bytes_so_far;
        for text in texts.iter().flatten() {
            blocks.push_text(text);
            blocks.end_paragraph();
        }
    }
    Ok(())
}
