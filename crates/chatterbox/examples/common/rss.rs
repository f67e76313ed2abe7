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

/// CPU time (user + system, every thread) this process has used so far, in seconds, from
/// /proc/self/stat (Linux, 100 ticks per second; NaN elsewhere). On a loaded machine this is
/// steadier than wall time: it leaves out the time the threads waited for a core.
#[allow(dead_code)]
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|v| v.parse::<f64>().ok())
        .collect();
    // `rest` starts at the state (not a number), so utime/stime are at indices 10 and 11.
    match (f.get(10), f.get(11)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}
