//! Paging: walking 10,000 tasks of the public API v1 in pages of 50 with
//! the SDK's lazy walk (`Tasks::tasks_pages`, one request per page, each
//! answer parsed into the typed `TaskPage` and its items yielded one by
//! one), beside a bare `ureq` agent sending the same 200 GETs (same URLs,
//! same headers) to the same emulator in the same run and parsing each
//! answer into the same typed `TaskPage` (the fair baseline). The async
//! walk (`atasks_pages`) beside a bare `reqwest` client likewise.
//!
//! `cargo bench --bench paging --all-features`. Target: SDK / raw ≤ 1.1.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use xpander_sdk::emulator::Emulator;
use xpander_sdk::model::TaskPage;
use xpander_sdk::public::TaskQuery;
use xpander_sdk::Tasks;

const TASKS: usize = 10_000;
const PER_PAGE: u32 = 50;
const PAGES: usize = TASKS / PER_PAGE as usize;

struct Setup {
    emulator: Emulator,
    tasks: Tasks,
    agent: ureq::Agent,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::builder().request_log_limit(0).start().unwrap();
    let tasks = (0..TASKS).map(|i| {
        serde_json::json!({"id": format!("task-{i:05}"), "agent_id": "agent-bench",
            "organization_id": "org-1", "input": {"text": "Hello!"},
            "created_at": "2026-11-20T10:00:00Z", "status": "completed",
            "result": "Done", "title": format!("job {i}")})
    });
    emulator.seed_tasks(tasks).unwrap();
    let client = Tasks::builder()
        .base_url(emulator.base_url())
        .public_api_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()
        .unwrap();
    Setup {
        agent: ureq::Agent::config_builder()
            .proxy(None)
            .build()
            .new_agent(),
        http: reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tasks: client,
        emulator,
    }
}

fn url(s: &Setup, page: usize) -> String {
    format!(
        "{}/v1/tasks?page={page}&per_page={PER_PAGE}",
        s.emulator.base_url()
    )
}

/// The SDK's walk over every page; answers how many tasks it yielded.
fn sdk_walk(s: &Setup) -> usize {
    let query = TaskQuery::new().per_page(PER_PAGE);
    let mut n = 0;
    for item in s.tasks.tasks_pages(&query).unwrap() {
        std::hint::black_box(item.unwrap());
        n += 1;
    }
    n
}

/// The same GETs by hand, each answer parsed into the typed page.
fn raw_walk(s: &Setup) -> usize {
    let mut n = 0;
    for page in 1..=PAGES {
        let mut answer = s
            .agent
            .get(&url(s, page))
            .header("accept", "*/*")
            .header("x-api-key", s.emulator.api_key())
            .call()
            .unwrap();
        let body = answer.body_mut().read_to_vec().unwrap();
        let parsed: TaskPage = serde_json::from_slice(&body).unwrap();
        n += parsed.items.len();
        std::hint::black_box(parsed);
    }
    n
}

async fn asdk_walk(s: &Setup) -> usize {
    let mut pages = s
        .tasks
        .atasks_pages(&TaskQuery::new().per_page(PER_PAGE))
        .unwrap();
    let mut n = 0;
    while let Some(item) = pages.next().await {
        std::hint::black_box(item.unwrap());
        n += 1;
    }
    n
}

async fn araw_walk(s: &Setup) -> usize {
    let mut n = 0;
    for page in 1..=PAGES {
        let answer = s
            .http
            .get(url(s, page))
            .header("accept", "*/*")
            .header("x-api-key", s.emulator.api_key())
            .send()
            .await
            .unwrap();
        let body = answer.bytes().await.unwrap();
        let parsed: TaskPage = serde_json::from_slice(&body).unwrap();
        n += parsed.items.len();
        std::hint::black_box(parsed);
    }
    n
}

fn bench(c: &mut Criterion) {
    let s = setup();
    assert_eq!(sdk_walk(&s), TASKS);
    assert_eq!(raw_walk(&s), TASKS);
    let mut group = c.benchmark_group("paging/10k_tasks_per_50");
    group.sample_size(10);
    group.bench_function("sdk_tasks_pages", |b| b.iter(|| sdk_walk(&s)));
    group.bench_function("raw_ureq_typed_parse", |b| b.iter(|| raw_walk(&s)));
    group.bench_function("sdk_atasks_pages", |b| {
        b.iter(|| s.runtime.block_on(asdk_walk(&s)))
    });
    group.bench_function("raw_reqwest_typed_parse", |b| {
        b.iter(|| s.runtime.block_on(araw_walk(&s)))
    });
    group.finish();

    if common::benchmarking() {
        let time = |f: &dyn Fn() -> usize| {
            let start = Instant::now();
            assert_eq!(f(), TASKS);
            start.elapsed()
        };
        common::ratio_summary(
            "paging 10k/50, blocking: walk vs bare GETs",
            11,
            PAGES,
            || time(&|| sdk_walk(&s)),
            || time(&|| raw_walk(&s)),
        );
        common::ratio_summary(
            "paging 10k/50, async: walk vs bare GETs",
            11,
            PAGES,
            || time(&|| s.runtime.block_on(asdk_walk(&s))),
            || time(&|| s.runtime.block_on(araw_walk(&s))),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
