//! Shared by the benchmarks: the SDK / raw ratio summary printed after
//! criterion's report (criterion does not compute ratios).
#![allow(dead_code)]

use std::time::Duration;

/// Runs `rounds` rounds of `sdk` and `raw` (each closure does `ops`
/// operations and returns the time they took), alternating which goes first
/// so drift on a busy machine hits both alike, and prints the median time per
/// operation of each and the ratio SDK / raw of the medians.
pub fn ratio_summary(
    label: &str,
    rounds: usize,
    ops: usize,
    mut sdk: impl FnMut() -> Duration,
    mut raw: impl FnMut() -> Duration,
) -> f64 {
    let mut sdk_times = Vec::with_capacity(rounds);
    let mut raw_times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        if round % 2 == 0 {
            sdk_times.push(sdk());
            raw_times.push(raw());
        } else {
            raw_times.push(raw());
            sdk_times.push(sdk());
        }
    }
    let per_op = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64() / ops as f64
    };
    let s = per_op(&mut sdk_times);
    let r = per_op(&mut raw_times);
    let ratio = s / r;
    println!(
        "SUMMARY {label:<40} sdk {:>10} raw {:>10} ratio sdk/raw {ratio:.3} ({rounds} rounds x {ops} ops, median)",
        fmt_time(s),
        fmt_time(r),
    );
    ratio
}

/// A duration in seconds, as ns / µs / ms.
pub fn fmt_time(secs: f64) -> String {
    if secs < 1e-6 {
        format!("{:.1} ns", secs * 1e9)
    } else if secs < 1e-3 {
        format!("{:.2} µs", secs * 1e6)
    } else {
        format!("{:.2} ms", secs * 1e3)
    }
}

/// True when run by `cargo bench` (criterion's `--bench`), false under
/// `cargo test --benches`, where the summaries are skipped.
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}
