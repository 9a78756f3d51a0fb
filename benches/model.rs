//! Parsing `task-full.json` into the typed `Task` versus into a `serde_json::Value`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use xpander_sdk::model::{Task, TaskListItem};

const TASK_FULL: &[u8] = include_bytes!("../tests/fixtures/task-full.json");
const TASK_FORWARD: &[u8] = include_bytes!("../tests/fixtures/task-forward-compat.json");
const TASKS_LIST: &[u8] = include_bytes!("../tests/fixtures/tasks-list.json");

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("task-full.json");
    group.throughput(Throughput::Bytes(TASK_FULL.len() as u64));
    group.bench_function("Task (typed)", |b| {
        b.iter(|| serde_json::from_slice::<Task>(black_box(TASK_FULL)).unwrap())
    });
    group.bench_function("Value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(TASK_FULL)).unwrap())
    });
    let task: Task = serde_json::from_slice(TASK_FULL).unwrap();
    group.bench_function("Task serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(&task)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("task-forward-compat.json");
    group.bench_function("Task (typed)", |b| {
        b.iter(|| serde_json::from_slice::<Task>(black_box(TASK_FORWARD)).unwrap())
    });
    group.bench_function("Value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(TASK_FORWARD)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("tasks-list.json");
    group.bench_function("Vec<TaskListItem> (typed)", |b| {
        b.iter(|| serde_json::from_slice::<Vec<TaskListItem>>(black_box(TASKS_LIST)).unwrap())
    });
    group.bench_function("Value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(TASKS_LIST)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
