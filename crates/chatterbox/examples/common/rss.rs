//! Resident memory of this process from /proc/self/status (Linux; NaN elsewhere).

/// `(VmRSS, VmHWM)` in MiB: the current and the peak resident set size.
#[allow(dead_code)]
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The peak resident set size (VmHWM) in MiB.
#[allow(dead_code)]
pub fn peak_rss_mib() -> f64 {
    rss_mib().1
}
