//! Task-agnostic run logging: each log step's `name -> value` map goes to `metrics.jsonl`
//! (one JSON object per line) and to TensorBoard scalars under the same names.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use tensorboard_rs::summary_writer::SummaryWriter;

use crate::error::TrainError;

/// Appends metrics to a JSONL file and, optionally, TensorBoard event files.
pub struct MetricsLogger {
    path: PathBuf,
    jsonl: BufWriter<File>,
    tensorboard: Option<SummaryWriter>,
}

impl MetricsLogger {
    /// Opens `jsonl` for appending. When resuming from `resume_step`, lines logged after that
    /// step by the interrupted run are dropped first, so the file reads as one clean run.
    pub fn open(
        jsonl: &Path,
        tensorboard_dir: Option<&Path>,
        resume_step: Option<u64>,
    ) -> Result<Self, TrainError> {
        if let Some(step) = resume_step {
            truncate_after(jsonl, step)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(jsonl)
            .map_err(|e| TrainError::io(jsonl, e))?;
        let tensorboard = match tensorboard_dir {
            Some(dir) => {
                // The writer panics on IO errors, so create its folder here to report them.
                std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
                Some(SummaryWriter::new(dir))
            }
            None => None,
        };
        Ok(Self {
            path: jsonl.to_path_buf(),
            jsonl: BufWriter::new(file),
            tensorboard,
        })
    }

    /// Records `metrics` at `step`; non-finite values are written as JSON `null`.
    pub fn log(&mut self, step: u64, metrics: &BTreeMap<String, f64>) -> Result<(), TrainError> {
        let mut line = serde_json::Map::new();
        line.insert("step".to_string(), step.into());
        for (name, value) in metrics {
            line.insert(name.clone(), (*value).into());
        }
        serde_json::to_writer(&mut self.jsonl, &line).map_err(|source| TrainError::State {
            path: self.path.clone(),
            source,
        })?;
        self.jsonl
            .write_all(b"\n")
            .and_then(|()| self.jsonl.flush())
            .map_err(|e| TrainError::io(&self.path, e))?;
        if let Some(tb) = &mut self.tensorboard {
            for (name, value) in metrics {
                tb.add_scalar(name, *value as f32, step as usize);
            }
            tb.flush();
        }
        Ok(())
    }
}

/// Keeps the lines of `path` whose `step` is at most `step` (a torn last line is dropped).
fn truncate_after(path: &Path, step: u64) -> Result<(), TrainError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let mut kept = String::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| TrainError::io(path, e))?;
        let line_step = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64));
        if line_step.is_some_and(|s| s <= step) {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    Ok(write_atomically(path, kept.as_bytes())?)
}
