//! Over TLS, 64 calls in flight: the async face with HTTP/2 (ALPN `h2`,
//! the default) beside the same client with `http2(false)` (HTTP/1.1), each
//! against its own neutral hyper server (tests/support/net.rs: rustls, a
//! certificate made at start, HTTP/1.1 and HTTP/2, 2 tokio workers) that
//! counts the connections it accepts. Interleaved rounds; time per call and
//! connections opened.
//!
//! `cargo bench --bench e2e_tls --all-features`

mod common;
#[path = "../tests/support/net.rs"]
mod net;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use net::{HyperTls, TestCa};
use tokio::task::JoinSet;
use xpander_sdk::Tasks;

const HOST: &str = "tasks.example.test";
const IN_FLIGHT: usize = 64;
const OPS: usize = 2_000;
const ROUNDS: usize = 15;

const TASK: &str = r#"{"id": "task_bench", "agent_id": "agent-123", "organization_id": "org-1",
 "input": {"text": "Hello!", "files": [], "user": null}, "status": "completed", "result": "Done",
 "created_at": "2026-11-20T10:00:00Z", "started_at": "2026-11-20T10:00:01Z"}"#;

fn client(ca: &TestCa, server: &HyperTls, http2: bool) -> Tasks {
    Tasks::builder()
        .base_url(format!("https://{HOST}:{}", server.addr.port()))
        .api_key("bench-key")
        .add_root_certificate_pem(&ca.root_pem)
        .resolve(HOST, server.addr)
        .no_proxy()
        .http2(http2)
        .build()
        .unwrap()
}

/// `OPS` gets through `tasks`, `IN_FLIGHT` at a time; the time taken.
async fn run(tasks: &Tasks) -> Duration {
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for w in 0..IN_FLIGHT {
        let tasks = tasks.clone();
        let n = OPS / IN_FLIGHT + usize::from(w < OPS % IN_FLIGHT);
        workers.spawn(async move {
            for _ in 0..n {
                tasks.aget("task_bench").await.unwrap();
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let ca = TestCa::new(&[HOST]);
    let alpn = ["h2", "http/1.1"];
    let (h2_server, h1_server) = (
        HyperTls::start(&ca, &alpn, TASK.as_bytes().to_vec()),
        HyperTls::start(&ca, &alpn, TASK.as_bytes().to_vec()),
    );
    let h2 = Arc::new(client(&ca, &h2_server, true));
    let h1 = Arc::new(client(&ca, &h1_server, false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The first round of each opens its connections (and handshakes).
    let cold_h2 = rt.block_on(run(&h2));
    let first_h2 = h2_server.connections.load(Ordering::SeqCst);
    let cold_h1 = rt.block_on(run(&h1));
    let first_h1 = h1_server.connections.load(Ordering::SeqCst);
    println!(
        "SUMMARY first round ({OPS} calls, {IN_FLIGHT} in flight, cold pool): HTTP/2 {} per call, {first_h2} connection(s) | HTTP/1.1 {} per call, {first_h1} connection(s)",
        common::fmt_time(cold_h2.as_secs_f64() / OPS as f64),
        common::fmt_time(cold_h1.as_secs_f64() / OPS as f64),
    );
    common::ratio_summary_named(
        &format!("TLS, {IN_FLIGHT} in flight: HTTP/2 / HTTP/1.1"),
        ("h2", "http/1.1"),
        ROUNDS,
        OPS,
        || rt.block_on(run(&h2)),
        || rt.block_on(run(&h1)),
    );
    println!(
        "SUMMARY connections accepted in all: HTTP/2 {} (protocols {:?}), HTTP/1.1 {}",
        h2_server.connections.load(Ordering::SeqCst),
        dedup(&h2_server.protocols.lock().unwrap()),
        h1_server.connections.load(Ordering::SeqCst),
    );
}

/// The distinct values of `v`, with their counts.
fn dedup(v: &[String]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for s in v {
        match out.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => out.push((s.clone(), 1)),
        }
    }
    out
}
