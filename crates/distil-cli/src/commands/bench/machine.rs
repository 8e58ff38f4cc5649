//! What a benchmark records about where it ran: CPU model, cores, threads, load average, and
//! the process's peak resident memory (reset between measurements).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use distil_core::checkpoint::write_file_atomically;
use serde::Serialize;

/// Threads and outputs, shared by `bench infer` and `bench step`.
#[derive(Debug, Args)]
pub struct RunOutputs {
    /// libtorch threads (default: every core).
    #[arg(long)]
    pub threads: Option<i32>,
    /// Also write the weights (`teacher/`, `student/`) and the inputs here, for
    /// `scripts/bench_reference.py`.
    #[arg(long)]
    pub save_inputs: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
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

/// Starts a new peak-memory window: the kernel resets this process's peak RSS
/// (`/proc/self/clear_refs`, Linux only; elsewhere the peak covers the whole process).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process since the last reset, in MiB (`VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Writes a report as pretty JSON through a temporary file.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_file_atomically(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
