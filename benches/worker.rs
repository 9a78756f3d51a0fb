//! The agent worker runtime through one worker with a no-op handler, the
//! emulator in process: tasks per second, and the HTTP calls each task
//! costs, by kind (claim, reads: the one before the claim and the reload
//! before the final save, final save, release, metrics, worker
//! events), read from the emulator's request log.
//!
//! The tasks are created all at once (a backlog). The emulator's dispatch
//! window bounds what one worker holds unclaimed; with a window larger
//! than the worker's queue (or none), the dispatch pushes tasks faster than
//! the worker takes them: the tasks beyond its slots and queue are released
//! back to `pending` and sent again, and that churn is counted too
//! (deliveries per task above 1, releases above 0).
//!
//! `cargo bench --bench worker --all-features` (1,000 tasks a round, 3
//! rounds, concurrency 1 and 16); `WORKER_BENCH_TASKS`, `WORKER_BENCH_ROUNDS`,
//! `WORKER_BENCH_QUEUE` (the worker's queue; default, the policy's: 32) and
//! `WORKER_BENCH_WINDOW` (the emulator's dispatch window, 0 for none;
//! default, the emulator's: 32) change them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use xpander_sdk::emulator::{Emulator, RecordedRequest};
use xpander_sdk::runtime::{BoxError, TaskContext, Worker, WorkerPolicy};
use xpander_sdk::{Task, Tasks};

const AGENT: &str = "agent-bench";

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The HTTP calls of one round, by kind.
#[derive(Debug, Default)]
struct Calls {
    claims: usize,
    releases: usize,
    final_saves: usize,
    reloads: usize,
    metrics: usize,
    worker_events: usize,
    streams: usize,
}

impl Calls {
    fn of(requests: &[RecordedRequest]) -> Calls {
        let mut calls = Calls::default();
        for r in requests {
            let status = r
                .json
                .as_ref()
                .and_then(|j| j["status"].as_str())
                .unwrap_or("");
            match (r.method.as_str(), r.path.as_str()) {
                ("PATCH", _) if status == "executing" => calls.claims += 1,
                ("PATCH", _) if status == "pending" => calls.releases += 1,
                ("PATCH", _) => calls.final_saves += 1,
                ("GET", p) if p.ends_with("/status") => calls.reloads += 1,
                ("GET", _) => calls.streams += 1,
                ("POST", p) if p.starts_with("/agents-metrics") => calls.metrics += 1,
                ("POST", _) => calls.worker_events += 1,
                _ => {}
            }
        }
        calls
    }
}

/// One round: `n` tasks through a fresh worker; the time from their
/// creation to the last final save, and the calls.
fn round(
    rt: &tokio::runtime::Runtime,
    n: usize,
    concurrency: usize,
    queue: usize,
    window: usize,
) -> (Duration, Calls, usize) {
    let emulator = Emulator::builder()
        .dispatch_window(window)
        .request_log_limit(n * 20 + 1000)
        .keep_alive_interval(Duration::from_millis(100))
        .start()
        .unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let worker = Worker::builder(tasks)
        .agent_id(AGENT)
        .policy(
            WorkerPolicy::default()
                .concurrency(concurrency)
                .queue_capacity(queue),
        )
        .handle_signals(false)
        .handler(move |task: Task, _ctx: TaskContext| {
            counter.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Ok::<_, BoxError>(task))
        })
        .build()
        .unwrap();
    let handle = worker.shutdown_handle();
    let run = rt.spawn(worker.run());
    let ready = || emulator.workers().iter().any(|w| w.connected);
    while !ready() {
        std::thread::sleep(Duration::from_millis(1));
    }
    emulator.clear_requests();
    let start = Instant::now();
    let ids = emulator.create_tasks(AGENT, n, |i| format!("bench {i}"));
    while ran.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The last final saves: every task completed.
    let last = ids.last().unwrap().clone();
    let completed = |id: &str| {
        emulator
            .task(id)
            .is_some_and(|t| t["status"] == "completed")
    };
    loop {
        if completed(&last) && ids.iter().all(|id| completed(id)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed();
    let deliveries = ids.iter().map(|id| emulator.deliveries(id).len()).sum();
    let calls = Calls::of(&emulator.requests());
    handle.shutdown();
    rt.block_on(run).unwrap().unwrap();
    (elapsed, calls, deliveries)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not used.
    let n = var("WORKER_BENCH_TASKS", 1000);
    let rounds = var("WORKER_BENCH_ROUNDS", 3).max(1);
    let queue = var("WORKER_BENCH_QUEUE", WorkerPolicy::default().queue_capacity);
    let window = var(
        "WORKER_BENCH_WINDOW",
        xpander_sdk::emulator::DEFAULT_DISPATCH_WINDOW,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for concurrency in [1, 16] {
        let mut rates = Vec::new();
        let mut last = None;
        for _ in 0..rounds {
            let (elapsed, calls, deliveries) = round(&rt, n, concurrency, queue, window);
            rates.push(n as f64 / elapsed.as_secs_f64());
            last = Some((calls, deliveries));
        }
        rates.sort_by(f64::total_cmp);
        let (calls, deliveries) = last.unwrap();
        let per = |c: usize| c as f64 / n as f64;
        println!(
            "SUMMARY worker/no-op/concurrency_{concurrency:<2} queue {queue} window {window}: {:>7.0} tasks/s (median of {rounds}, min {:.0}, max {:.0}; {n} tasks a round)",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
        );
        println!(
            "SUMMARY   HTTP calls per task: claim {:.2}, final save {:.2}, reads (GET) {:.2}, metrics {:.2}, release {:.2}, worker events {:.3}, stream opens {}; deliveries per task {:.2}",
            per(calls.claims),
            per(calls.final_saves),
            per(calls.reloads),
            per(calls.metrics),
            per(calls.releases),
            per(calls.worker_events),
            calls.streams,
            per(deliveries),
        );
    }
}
