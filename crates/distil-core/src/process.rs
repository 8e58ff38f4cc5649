//! This process's memory as Linux reports it in `/proc/self/status`. Elsewhere every reader
//! returns `None` and the reset does nothing.

/// The value of a `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`, ...), in KiB.
pub fn status_field_kib(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_field_kib(&status, name)
}

/// Resident memory now (`VmRSS`), in MiB.
pub fn resident_mib() -> Option<f64> {
    status_field_kib("VmRSS").map(kib_to_mib)
}

/// Peak resident memory since the process started or the last [`reset_peak_rss`] (`VmHWM`),
/// in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_field_kib("VmHWM").map(kib_to_mib)
}

/// Peak resident memory (`VmHWM`) in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_field_kib("VmHWM").map(|kib| kib * 1024)
}

/// Starts a new peak-memory window: the kernel resets this process's peak RSS
/// (`/proc/self/clear_refs`); where that is not possible the peak covers the whole process.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `name:   12345 kB` in the text of a status file.
fn parse_status_field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str =
        "Name:\tdistil\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1536 kB\n";

    #[test]
    fn reads_the_named_field_only() {
        assert_eq!(parse_status_field_kib(STATUS, "VmHWM"), Some(2048));
        assert_eq!(parse_status_field_kib(STATUS, "VmRSS"), Some(1536));
        // A prefix of another field's name is not that field.
        assert_eq!(parse_status_field_kib(STATUS, "Vm"), None);
        assert_eq!(parse_status_field_kib(STATUS, "VmSwap"), None);
        assert_eq!(parse_status_field_kib("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_size_within_its_peak() {
        let rss = resident_mib().expect("Linux reports VmRSS");
        let peak = peak_rss_mib().expect("Linux reports VmHWM");
        assert!(rss > 0.0 && rss <= peak, "rss {rss} MiB, peak {peak} MiB");
        assert_eq!(
            peak_rss_bytes(),
            status_field_kib("VmHWM").map(|k| k * 1024)
        );
    }
}
