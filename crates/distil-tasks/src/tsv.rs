//! GLUE TSV files as distributed: rows split on `\t` only. GLUE text is not quoted (MRPC, RTE
//! and QNLI sentences contain bare `"`), so a quote-aware CSV reader would merge rows.

use std::path::{Path, PathBuf};

use crate::TaskError;

/// A whole TSV file held in memory, with its path kept for error messages.
#[derive(Debug)]
pub struct TsvFile {
    path: PathBuf,
    text: String,
}

/// One data row: its 1-based line number in the file and its fields.
#[derive(Debug)]
pub struct TsvRow<'a> {
    pub line: usize,
    pub fields: Vec<&'a str>,
}

impl TsvFile {
    pub fn read(path: &Path) -> Result<Self, TaskError> {
        let text = std::fs::read_to_string(path).map_err(|source| TaskError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            text,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data rows, skipping the first line when `header` is set. A leading UTF-8 BOM (MRPC
    /// train and dev) is dropped, as is a `\r` before each newline; the final newline does
    /// not make an empty row.
    pub fn rows(&self, header: bool) -> impl Iterator<Item = TsvRow<'_>> {
        let text = self.text.strip_prefix('\u{feff}').unwrap_or(&self.text);
        text.lines()
            .enumerate()
            .skip(usize::from(header))
            .map(|(index, line)| TsvRow {
                line: index + 1,
                fields: line.split('\t').collect(),
            })
    }

    /// An error naming this file and `row`'s line when the row has fewer than `columns` fields.
    pub fn require_columns(&self, row: &TsvRow<'_>, columns: usize) -> Result<(), TaskError> {
        if row.fields.len() < columns {
            return Err(TaskError::ShortRow {
                path: self.path.clone(),
                line: row.line,
                expected: columns,
                found: row.fields.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_header_crlf_and_final_newline_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tsv");
        std::fs::write(&path, "\u{feff}a\tb\r\n1\t\"q\t2\r\n3\t4\n").unwrap();
        let file = TsvFile::read(&path).unwrap();
        let rows: Vec<_> = file.rows(true).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].fields, vec!["1", "\"q", "2"]);
        assert_eq!(rows[1].fields, vec!["3", "4"]);
        let all: Vec<_> = file.rows(false).collect();
        assert_eq!(all[0].fields, vec!["a", "b"]);
    }

    #[test]
    fn an_empty_file_has_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.tsv");
        std::fs::write(&path, "").unwrap();
        assert_eq!(TsvFile::read(&path).unwrap().rows(false).count(), 0);
    }
}
