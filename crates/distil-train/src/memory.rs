//! Host memory in use, logged like the reference's `global/memory_usage` (MB).

/// Resident set size of this process in MiB, from `/proc/self/status` (Linux only).
pub fn host_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
