//! The event-stream decoder (`sans_io::sse::SseDecoder`) on a realistic task
//! event stream, in MB/s, beside plain line splitting of the same bytes in
//! the same chunks: counting LFs with memchr (the floor: finding line ends
//! and nothing else), and splitting into lines with a carry-over buffer for
//! lines cut by a chunk (what any line reader must do).
//!
//! The stream: per turn, one `task_updated` event (a whole task, the shape
//! of `tests/fixtures/task-full.json` cut to about 1 KB), 40 short `chunk`
//! events (a few words of LLM text each), one `tool_call_request`, and a
//! keep-alive comment every 16 events. Chunks of 16 KiB (a typical read)
//! and 1.5 KiB (about one TCP segment).
//!
//! `cargo bench --bench sse`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map, Value};
use xpander_sdk::sans_io::sse::SseDecoder;

const TASK_FULL: &[u8] = include_bytes!("../tests/fixtures/task-full.json");
const TURNS: usize = 100;
const CHUNK_SIZES: [usize; 2] = [16 * 1024, 1536];

/// A task of about 1 KB: the fixture's fields, in order, while they fit.
fn task_1k() -> Value {
    let full: Map<String, Value> = serde_json::from_slice(TASK_FULL).unwrap();
    let mut task = Map::new();
    for (key, value) in full {
        task.insert(key.clone(), value);
        if serde_json::to_vec(&task).unwrap().len() > 1000 {
            task.remove(&key);
        }
    }
    Value::Object(task)
}

fn envelope(kind: &str, second: usize, data: Value) -> String {
    let event = json!({
        "type": kind,
        "task_id": "task_7f3a9c2e-5b1d-4e8f-a6c0-9d2b4e1f7a38",
        "organization_id": "org-1",
        "time": format!("2026-11-20T10:{:02}:{:02}Z", second / 60 % 60, second % 60),
        "data": data,
    });
    format!("data: {event}\n\n")
}

/// The stream's bytes and the number of events in it.
fn stream() -> (Vec<u8>, usize) {
    let task = task_1k();
    let words = [
        "The quarterly",
        " revenue grew",
        " by 12% over",
        " the previous",
        " quarter, led",
        " by strong",
        " demand in",
        " the enterprise",
        " segment.",
    ];
    let mut out = String::new();
    let mut events = 0;
    out.push_str(&envelope("connected", 0, Value::Null));
    events += 1;
    for turn in 0..TURNS {
        out.push_str(&envelope("task_updated", turn, task.clone()));
        events += 1;
        for i in 0..40 {
            out.push_str(&envelope("chunk", turn, json!(words[i % words.len()])));
            events += 1;
            if i % 16 == 15 {
                out.push_str(": keep-alive\n\n");
            }
        }
        let request = json!({
            "request_id": format!("rq{turn}"),
            "operation_id": "op1",
            "tool_name": "web_search",
            "payload": {"q": "q2 revenue"},
        });
        out.push_str(&envelope("tool_call_request", turn, request));
        events += 1;
    }
    (out.into_bytes(), events)
}

fn decode(chunks: &[&[u8]]) -> usize {
    let mut decoder = SseDecoder::new();
    let mut n = 0;
    for chunk in chunks {
        decoder.feed(chunk);
        while let Some(event) = decoder.next_event() {
            black_box(event.unwrap());
            n += 1;
        }
    }
    decoder.finish();
    n
}

fn count_lines(chunks: &[&[u8]]) -> usize {
    chunks
        .iter()
        .map(|chunk| memchr::memchr_iter(b'\n', chunk).count())
        .sum()
}

/// Lines split on LF, a line cut by a chunk carried over to the next.
fn split_lines(chunks: &[&[u8]]) -> usize {
    let mut carry: Vec<u8> = Vec::new();
    let mut total = 0;
    for chunk in chunks {
        let mut parts = chunk.split(|b| *b == b'\n');
        let last = parts.next_back().unwrap_or_default();
        for (i, part) in parts.enumerate() {
            let line = if i == 0 && !carry.is_empty() {
                carry.extend_from_slice(part);
                black_box(&carry[..]).len()
            } else {
                black_box(part).len()
            };
            if i == 0 {
                carry.clear();
            }
            total += line + 1;
        }
        carry.extend_from_slice(last);
    }
    total
}

fn bench_sse(c: &mut Criterion) {
    let (bytes, events) = stream();
    let chunk_events = 40 * TURNS;
    println!(
        "stream: {} bytes, {events} events ({chunk_events} chunk events), {} lines",
        bytes.len(),
        count_lines(&[&bytes])
    );
    for size in CHUNK_SIZES {
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        assert_eq!(decode(&chunks), events);
        assert_eq!(split_lines(&chunks), bytes.len());
        let mut group = c.benchmark_group(format!("sse/chunks-{size}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("decoder", |b| b.iter(|| decode(black_box(&chunks))));
        group.bench_function("memchr-newlines", |b| {
            b.iter(|| count_lines(black_box(&chunks)))
        });
        group.bench_function("split-lines", |b| {
            b.iter(|| split_lines(black_box(&chunks)))
        });
        group.finish();
    }
}

/// Decoder / split-lines time ratio from an interleaved loop of our own.
fn summary(_: &mut Criterion) {
    if !common::benchmarking() {
        return;
    }
    let (bytes, _) = stream();
    for size in CHUNK_SIZES {
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        let time = |f: &dyn Fn(&[&[u8]]) -> usize| {
            let start = Instant::now();
            for _ in 0..20 {
                black_box(f(black_box(&chunks)));
            }
            start.elapsed()
        };
        common::ratio_summary(
            &format!("sse decoder/split-lines chunks {size}"),
            21,
            20,
            || time(&decode),
            || time(&split_lines),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_sse, summary
}
criterion_main!(benches);
