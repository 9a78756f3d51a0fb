//! End to end, blocking: sequential `Tasks::update` calls against the
//! emulator, beside a bare `ureq` agent sending the same method, path,
//! headers and body bytes to the same emulator in the same run, and parsing
//! the answer into the same typed `Task` (the fair baseline). Also: the SDK
//! against `localhost` (a name, answered by its caching resolver) beside
//! the SDK against `127.0.0.1` (an IP literal, no lookup).
//!
//! `cargo bench --bench e2e_blocking --all-features` (criterion, then the
//! interleaved rounds); `... -- rounds` for the rounds only.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use xpander_sdk::emulator::Emulator;
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{AgentExecutionStatus, Task, Tasks, UpdateTask};

const TASK_ID: &str = "task_bench";

struct Setup {
    // Keeps the server alive for the whole run.
    _emulator: Emulator,
    tasks: Tasks,
    /// The same client configuration, with `localhost` for `127.0.0.1`.
    named: Tasks,
    change: UpdateTask,
    raw: Raw,
}

/// What a bare ureq agent needs to send the SDK's request by hand.
struct Raw {
    agent: ureq::Agent,
    url: String,
    key: String,
    body: Vec<u8>,
}

impl Raw {
    /// One update; with `parse`, the answer is also parsed into the typed
    /// `Task`, as the SDK does.
    fn update(&self, parse: bool) {
        let mut response = self
            .agent
            .patch(&self.url)
            .header("accept", "*/*")
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .send(&self.body[..])
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.body_mut().read_to_vec().unwrap();
        if parse {
            std::hint::black_box(serde_json::from_slice::<Task>(&body).unwrap());
        }
        std::hint::black_box(body);
    }
}

fn setup() -> Setup {
    // No request log: the server does the least work, so the client's share
    // of the time (and so any overhead) shows the most.
    let emulator = Emulator::builder().request_log_limit(0).start().unwrap();
    emulator
        .seed_task(serde_json::json!({
            "id": TASK_ID, "agent_id": "agent-123", "organization_id": "org-1",
            "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z",
            "status": "executing"
        }))
        .unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()
        .unwrap();
    let named = Tasks::builder()
        .base_url(emulator.base_url().replace("127.0.0.1", "localhost"))
        .api_key(emulator.api_key())
        .build()
        .unwrap();
    let change = UpdateTask::new()
        .status(AgentExecutionStatus::Completed)
        .result("Done");
    // The very bytes the SDK sends, from its own core.
    let request = RequestBuilder::new(tasks.config().clone())
        .update(TASK_ID, &change)
        .unwrap();
    let raw = Raw {
        // As the SDK's: no proxy from the environment.
        agent: ureq::Agent::config_builder()
            .proxy(None)
            .build()
            .new_agent(),
        url: request.uri().to_string(),
        key: emulator.api_key().to_string(),
        body: request.body().0.clone(),
    };
    Setup {
        _emulator: emulator,
        tasks,
        named,
        change,
        raw,
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("e2e_blocking/update");
    group.bench_function("sdk", |b| {
        b.iter(|| s.tasks.update(TASK_ID, &s.change).unwrap())
    });
    group.bench_function("raw_ureq", |b| b.iter(|| s.raw.update(false)));
    group.bench_function("raw_ureq_typed_parse", |b| b.iter(|| s.raw.update(true)));
    group.bench_function("sdk_localhost", |b| {
        b.iter(|| s.named.update(TASK_ID, &s.change).unwrap())
    });
    group.finish();

    if common::benchmarking() {
        const OPS: usize = 500;
        let run = |tasks: &Tasks| {
            let start = Instant::now();
            for _ in 0..OPS {
                tasks.update(TASK_ID, &s.change).unwrap();
            }
            start.elapsed()
        };
        let sdk = || run(&s.tasks);
        let raw = |parse: bool| {
            let start = Instant::now();
            for _ in 0..OPS {
                s.raw.update(parse);
            }
            start.elapsed()
        };
        common::ratio_summary("e2e blocking update, vs typed", 31, OPS, sdk, || raw(true));
        common::ratio_summary("  same, raw not parsing", 11, OPS, sdk, || raw(false));
        common::ratio_summary(
            "blocking update: localhost / 127.0.0.1",
            31,
            OPS,
            || run(&s.named),
            sdk,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
