//! The sans-IO core alone: building an update request, and parsing answers
//! into typed values beside `serde_json::Value` of the same bytes (the
//! baseline a typed parse must not exceed).
//!
//! `cargo bench --bench core`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{AgentExecutionStatus, Task, TaskListItem, Tasks, UpdateTask};

const TASK_FULL: &[u8] = include_bytes!("../tests/fixtures/task-full.json");
const TASK_MINIMAL: &[u8] = include_bytes!("../tests/fixtures/task-minimal.json");
const TASKS_LIST: &[u8] = include_bytes!("../tests/fixtures/tasks-list.json");

/// A list answer of 100 items: the fixture's items repeated.
fn list_100() -> Vec<u8> {
    let items: Vec<Value> = serde_json::from_slice(TASKS_LIST).unwrap();
    let many: Vec<&Value> = items.iter().cycle().take(100).collect();
    serde_json::to_vec_pretty(&many).unwrap()
}

fn builder() -> RequestBuilder {
    let config = Tasks::builder()
        .api_key("bench-key")
        .base_url("http://127.0.0.1:1")
        .build_config()
        .unwrap();
    RequestBuilder::new(config)
}

fn change() -> UpdateTask {
    UpdateTask::new()
        .status(AgentExecutionStatus::Completed)
        .result("Done")
}

/// A name, the bytes, and the typed parse of those bytes.
type Case<'a> = (&'static str, &'a [u8], fn(&[u8]));

fn bench_build(c: &mut Criterion) {
    let requests = builder();
    let change = change();
    let mut group = c.benchmark_group("build");
    group.bench_function("update", |b| {
        b.iter(|| {
            requests
                .update(black_box("task_xyz"), black_box(&change))
                .unwrap()
        })
    });
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let list = list_100();
    let cases: [Case; 3] = [
        ("task-full", TASK_FULL, |b| {
            black_box(serde_json::from_slice::<Task>(b).unwrap());
        }),
        ("task-minimal", TASK_MINIMAL, |b| {
            black_box(serde_json::from_slice::<Task>(b).unwrap());
        }),
        ("list-100", &list, |b| {
            black_box(serde_json::from_slice::<Vec<TaskListItem>>(b).unwrap());
        }),
    ];
    for (name, bytes, typed) in cases {
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.bench_function("typed", |b| b.iter(|| typed(black_box(bytes))));
        group.bench_function("value", |b| {
            b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(bytes)).unwrap()))
        });
        group.finish();
    }
}

/// Typed / Value ratios from an interleaved timing loop of our own.
fn summary(_: &mut Criterion) {
    if !common::benchmarking() {
        return;
    }
    let list = list_100();
    let cases: [Case; 3] = [
        ("parse task-full typed/value", TASK_FULL, |b| {
            black_box(serde_json::from_slice::<Task>(b).unwrap());
        }),
        ("parse task-minimal typed/value", TASK_MINIMAL, |b| {
            black_box(serde_json::from_slice::<Task>(b).unwrap());
        }),
        ("parse list-100 typed/value", &list, |b| {
            black_box(serde_json::from_slice::<Vec<TaskListItem>>(b).unwrap());
        }),
    ];
    for (label, bytes, typed) in cases {
        let ops = (2_000_000 / bytes.len()).max(100);
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..ops {
                f();
            }
            start.elapsed()
        };
        common::ratio_summary(
            label,
            21,
            ops,
            || time(&|| typed(black_box(bytes))),
            || {
                time(&|| {
                    black_box(serde_json::from_slice::<Value>(black_box(bytes)).unwrap());
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_build, bench_parse, summary
}
criterion_main!(benches);
