//! Shared by the benchmarks: the SDK / raw ratio summary printed after
//! criterion's report (criterion does not compute ratios).
#![allow(dead_code)]

use std::time::Duration;

/// Runs `rounds` rounds of `sdk` and `raw` (each closure does `ops`
/// operations and returns the time they took), alternating which goes first
/// so drift on a busy machine hits both alike, and prints the median time per
/// operation of each and the ratio SDK / raw of the medians, and of the
/// best rounds (less sensitive to other load on the machine).
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
    sdk_times.sort();
    raw_times.sort();
    let per_op = |d: Duration| d.as_secs_f64() / ops as f64;
    let (s, r) = (per_op(sdk_times[rounds / 2]), per_op(raw_times[rounds / 2]));
    let (s_best, r_best) = (per_op(sdk_times[0]), per_op(raw_times[0]));
    let ratio = s / r;
    println!(
        "SUMMARY {label:<40} median: sdk {:>10} raw {:>10} ratio {ratio:.3} | best: sdk {:>10} raw {:>10} ratio {:.3} ({rounds} rounds x {ops} ops)",
        fmt_time(s),
        fmt_time(r),
        fmt_time(s_best),
        fmt_time(r_best),
        s_best / r_best,
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
