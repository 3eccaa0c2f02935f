//! Percentiles, units and CPU time read from `/proc`.

use std::time::Duration;

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time a process has used so far (its threads' time on a CPU, from `/proc`), or zero where that is
/// not readable. CPU per review does not depend on what else shares the cores, unlike latency.
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// CPU per review, in µs.
pub(crate) fn per_review(cpu: Duration, reviews: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / reviews.max(1) as f64
}
