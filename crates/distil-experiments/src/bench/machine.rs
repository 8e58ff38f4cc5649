//! What a benchmark records about where it ran: CPU model, cores, threads and load average;
//! and where its report goes.

use std::path::{Path, PathBuf};

use distil_core::fs::write_atomically;
use serde::Serialize;

/// Threads and outputs, shared by `bench infer` and `bench step`.
#[derive(Debug, Clone, Default)]
pub struct BenchOutputs {
    /// libtorch threads (default: every core).
    pub threads: Option<i32>,
    /// Also write the weights (`teacher/`, `student/`) and the inputs here, for
    /// `scripts/bench_reference.py`.
    pub save_inputs: Option<PathBuf>,
    /// Write the results as JSON.
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    /// libtorch intra-op threads used.
    pub threads: i32,
    /// 1-minute load average when the benchmark started (other jobs on the machine).
    pub load_average: Option<f64>,
    pub device: String,
}

impl Machine {
    /// Sets libtorch's intra-op threads (`threads`, else every core) and describes the machine.
    pub fn prepare(threads: Option<i32>, device: tch::Device) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = threads.unwrap_or(cores as i32);
        tch::set_num_threads(threads);
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok());
        Self {
            cpu,
            cores,
            threads,
            load_average,
            device: format!("{device:?}"),
        }
    }
}

/// Writes a report as pretty JSON through a temporary file.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomically(path, text.as_bytes())?;
    Ok(())
}
