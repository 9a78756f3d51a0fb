//! End to end, async: `aupdate` calls with 1, 16 and 64 in flight against
//! the emulator, beside a bare `reqwest::Client` sending the same requests
//! with the same concurrency and parsing the answer into the same typed
//! `Task` (the fair baseline: what a user of a bare client must do too), in
//! the same run. The `SUMMARY` lines give the ratio of each interleaved
//! round: its median and spread.
//!
//! With C in flight, C workers each update their own task, one request at a
//! time, so no two requests on one task ever overlap (the emulator answers
//! overlapping updates of one task with 409).
//!
//! `cargo bench --bench e2e_async --all-features` (criterion, then the
//! rounds); `cargo bench --bench e2e_async --all-features -- rounds` runs the
//! interleaved rounds only (no criterion benchmark is named `rounds`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{AgentExecutionStatus, Task, Tasks, UpdateTask};

const CONCURRENCY: [usize; 3] = [1, 16, 64];

struct Setup {
    _emulator: Emulator,
    rt: Runtime,
    sdk: Arc<Sdk>,
    raw: Arc<Raw>,
}

struct Sdk {
    tasks: Tasks,
    change: UpdateTask,
    ids: Vec<String>,
}

/// What a bare reqwest client needs to send the SDK's requests by hand.
struct Raw {
    client: reqwest::Client,
    urls: Vec<String>,
    key: String,
    body: Vec<u8>,
}

impl Raw {
    /// One update; with `parse`, the answer is also parsed into the typed
    /// `Task`, as the SDK does.
    async fn update(&self, worker: usize, parse: bool) {
        let response = self
            .client
            .patch(&self.urls[worker])
            .header("accept", "*/*")
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        if parse {
            std::hint::black_box(serde_json::from_slice::<Task>(&body).unwrap());
        }
        std::hint::black_box(body);
    }
}

fn setup() -> Setup {
    // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::builder().request_log_limit(0).start().unwrap();
    let max = *CONCURRENCY.iter().max().unwrap();
    let ids: Vec<String> = (0..max).map(|i| format!("task_bench_{i}")).collect();
    for id in &ids {
        emulator
            .seed_task(serde_json::json!({
                "id": id, "agent_id": "agent-123", "organization_id": "org-1",
                "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z",
                "status": "executing"
            }))
            .unwrap();
    }
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()
        .unwrap();
    let change = UpdateTask::new()
        .status(AgentExecutionStatus::Completed)
        .result("Done");
    let core = RequestBuilder::new(tasks.config().clone());
    let requests: Vec<_> = ids
        .iter()
        .map(|id| core.update(id, &change).unwrap())
        .collect();
    let raw = Raw {
        // As the SDK's: no proxy from the environment, TCP_NODELAY.
        client: reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        urls: requests.iter().map(|r| r.uri().to_string()).collect(),
        key: emulator.api_key().to_string(),
        body: requests[0].body().0.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Setup {
        _emulator: emulator,
        rt,
        sdk: Arc::new(Sdk { tasks, change, ids }),
        raw: Arc::new(raw),
    }
}

/// `ops` updates through the SDK, `concurrency` in flight; the time taken.
async fn run_sdk(sdk: &Arc<Sdk>, ops: u64, concurrency: usize) -> Duration {
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for w in 0..concurrency {
        let sdk = sdk.clone();
        let n = share(ops, concurrency, w);
        workers.spawn(async move {
            for _ in 0..n {
                sdk.tasks.aupdate(&sdk.ids[w], &sdk.change).await.unwrap();
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

/// `ops` updates through bare reqwest, `concurrency` in flight (answers
/// parsed into `Value` with `parse`).
async fn run_raw(raw: &Arc<Raw>, ops: u64, concurrency: usize, parse: bool) -> Duration {
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for w in 0..concurrency {
        let raw = raw.clone();
        let n = share(ops, concurrency, w);
        workers.spawn(async move {
            for _ in 0..n {
                raw.update(w, parse).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

/// How many of `ops` worker `w` of `c` does.
fn share(ops: u64, c: usize, w: usize) -> u64 {
    ops / c as u64 + u64::from((w as u64) < ops % c as u64)
}

fn bench(c: &mut Criterion) {
    let s = setup();
    // For a profiler (valgrind --tool=callgrind): one side only, no timing.
    // E2E_PROFILE=sdk|raw, E2E_OPS (default 2000), E2E_IN_FLIGHT (default 16).
    if let Ok(side) = std::env::var("E2E_PROFILE") {
        let var = |name, default| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (ops, in_flight) = (var("E2E_OPS", 2000), var("E2E_IN_FLIGHT", 16) as usize);
        let run = |ops| match side.as_str() {
            "sdk" => s.rt.block_on(run_sdk(&s.sdk, ops, in_flight)),
            _ => s.rt.block_on(run_raw(&s.raw, ops, in_flight, true)),
        };
        run(200);
        println!(
            "{side}: {ops} updates, {in_flight} in flight: {:?}",
            run(ops)
        );
        return;
    }
    for concurrency in CONCURRENCY {
        let mut group = c.benchmark_group(format!("e2e_async/update/in_flight_{concurrency}"));
        group.bench_function("sdk", |b| {
            b.iter_custom(|iters| s.rt.block_on(run_sdk(&s.sdk, iters, concurrency)))
        });
        group.bench_function("raw_reqwest", |b| {
            b.iter_custom(|iters| s.rt.block_on(run_raw(&s.raw, iters, concurrency, false)))
        });
        group.bench_function("raw_reqwest_typed_parse", |b| {
            b.iter_custom(|iters| s.rt.block_on(run_raw(&s.raw, iters, concurrency, true)))
        });
        group.finish();
    }
    if common::benchmarking() {
        const OPS: u64 = 1_000;
        for concurrency in CONCURRENCY {
            common::ratio_summary(
                &format!("e2e async update, {concurrency} in flight, vs typed"),
                31,
                OPS as usize,
                || s.rt.block_on(run_sdk(&s.sdk, OPS, concurrency)),
                || s.rt.block_on(run_raw(&s.raw, OPS, concurrency, true)),
            );
            common::ratio_summary(
                &format!("  same, raw not parsing, {concurrency}"),
                11,
                OPS as usize,
                || s.rt.block_on(run_sdk(&s.sdk, OPS, concurrency)),
                || s.rt.block_on(run_raw(&s.raw, OPS, concurrency, false)),
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
