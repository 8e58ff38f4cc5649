//! Resumable stages: each finished stage leaves `stages/<name>.json`, holding the hash of the
//! config it ran with and what it produced. A stage whose marker holds the same hash is
//! skipped and its recorded output reused; a changed config runs it again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a finished stage leaves behind.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    stage: String,
    config_hash: String,
    seconds: f64,
    output: serde_json::Value,
}

/// A stage's output and the hash that later stages fold into their own.
#[derive(Debug, Clone)]
pub struct Done<T> {
    pub value: T,
    pub hash: String,
}

/// Runs stages in order with one progress display: a line for the stage, with the inner
/// training bars drawn below it.
pub struct StageRunner {
    markers: PathBuf,
    multi: MultiProgress,
    overall: ProgressBar,
    timings: Vec<(String, f64, bool)>,
}

impl StageRunner {
    pub fn new(run_dir: &Path, total_stages: u64, quiet: bool) -> anyhow::Result<Self> {
        let markers = run_dir.join("stages");
        std::fs::create_dir_all(&markers)
            .with_context(|| format!("creating {}", markers.display()))?;
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let overall = multi.add(ProgressBar::new(total_stages));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} stage {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Ok(Self {
            markers,
            multi,
            overall,
            timings: Vec::new(),
        })
    }

    /// The display inner bars join, so they draw under the stage line.
    pub fn multi(&self) -> &MultiProgress {
        &self.multi
    }

    /// Prints above the bars; plain stderr when they are hidden.
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Runs `body` unless `stages/<name>.json` records the same `inputs` hash, in which case
    /// the recorded output is returned.
    pub fn run<T, I>(
        &mut self,
        name: &str,
        inputs: &I,
        body: impl FnOnce(&Self) -> anyhow::Result<T>,
    ) -> anyhow::Result<Done<T>>
    where
        T: Serialize + DeserializeOwned,
        I: Serialize,
    {
        let hash = hash_of(inputs)?;
        let path = self.markers.join(format!("{name}.json"));
        self.overall.set_message(name.to_string());
        if let Some(marker) = read_marker(&path)? {
            if marker.config_hash == hash {
                if let Ok(value) = serde_json::from_value(marker.output) {
                    self.println(&format!("skipped {name} (finished earlier, same config)"));
                    self.timings.push((name.to_string(), marker.seconds, true));
                    self.overall.inc(1);
                    return Ok(Done { value, hash });
                }
            }
            self.println(&format!("rerunning {name}: its config changed"));
        }
        let started = Instant::now();
        let value = body(self).with_context(|| format!("stage `{name}`"))?;
        let seconds = started.elapsed().as_secs_f64();
        let marker = Marker {
            stage: name.to_string(),
            config_hash: hash.clone(),
            seconds,
            output: serde_json::to_value(&value)?,
        };
        distil_core::fs::write_atomically(&path, &serde_json::to_vec_pretty(&marker)?)?;
        self.println(&format!("finished {name} in {seconds:.1} s"));
        self.timings.push((name.to_string(), seconds, false));
        self.overall.inc(1);
        Ok(Done { value, hash })
    }

    /// Each stage's name, seconds (of the run that produced it) and whether it was skipped.
    pub fn timings(&self) -> &[(String, f64, bool)] {
        &self.timings
    }

    pub fn finish(&self) {
        self.overall.finish_with_message("done");
    }
}

/// SHA-256 of the JSON form of `inputs`.
pub fn hash_of<I: Serialize>(inputs: &I) -> anyhow::Result<String> {
    let bytes = serde_json::to_vec(inputs)?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

fn read_marker(path: &Path) -> anyhow::Result<Option<Marker>> {
    match std::fs::read(path) {
        // A torn or foreign marker means the stage did not finish: run it again.
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
