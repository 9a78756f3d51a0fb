//! Shared by the benchmarks: the SDK / raw ratio summary printed after
//! criterion's report (criterion does not compute ratios).
#![allow(dead_code)]

use std::time::Duration;

/// Runs `rounds` rounds of `sdk` and `raw` (each closure does `ops`
/// operations and returns the time they took), alternating which goes first
/// so drift on a busy machine hits both alike, and prints the median time per
/// operation of each and the ratio SDK / raw of each round: its median and
/// its spread (the 10th and 90th percentiles, and the extremes). Answers
/// the median ratio.
pub fn ratio_summary(
    label: &str,
    rounds: usize,
    ops: usize,
    sdk: impl FnMut() -> Duration,
    raw: impl FnMut() -> Duration,
) -> f64 {
    ratio_summary_named(label, ("sdk", "raw"), rounds, ops, sdk, raw)
}

/// As [`ratio_summary`], naming the two sides.
pub fn ratio_summary_named(
    label: &str,
    (a, b): (&str, &str),
    rounds: usize,
    ops: usize,
    mut sdk: impl FnMut() -> Duration,
    mut raw: impl FnMut() -> Duration,
) -> f64 {
    let mut sdk_times = Vec::with_capacity(rounds);
    let mut raw_times = Vec::with_capacity(rounds);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (s, r) = if round % 2 == 0 {
            let s = sdk();
            (s, raw())
        } else {
            let r = raw();
            (sdk(), r)
        };
        ratios.push(s.as_secs_f64() / r.as_secs_f64());
        sdk_times.push(s);
        raw_times.push(r);
    }
    sdk_times.sort();
    raw_times.sort();
    ratios.sort_by(f64::total_cmp);
    let per_op = |d: Duration| d.as_secs_f64() / ops as f64;
    let pick = |q: f64| ratios[((rounds - 1) as f64 * q).round() as usize];
    let median = pick(0.5);
    println!(
        "SUMMARY {label:<44} {a} {:>10} {b} {:>10} | ratio per round: median {median:.3}, p10-p90 {:.3}-{:.3}, min-max {:.3}-{:.3} ({rounds} rounds x {ops} ops)",
        fmt_time(per_op(sdk_times[rounds / 2])),
        fmt_time(per_op(raw_times[rounds / 2])),
        pick(0.1),
        pick(0.9),
        ratios[0],
        ratios[rounds - 1],
    );
    median
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
