//! Peak memory of 10,000 async updates (16 in flight), through the SDK or
//! through a bare `reqwest::Client` sending the same requests. Run each mode
//! as its own process and read the peak resident set size the kernel reports:
//!
//! ```sh
//! cargo build --release --all-features --example memory
//! cargo build --release -p xpander-emulator
//! target/release/xpander-emulator --api-key k &      # prints its URL
//! /usr/bin/time -v target/release/examples/memory sdk http://127.0.0.1:PORT k
//! /usr/bin/time -v target/release/examples/memory raw http://127.0.0.1:PORT k
//! ```
//!
//! ("Maximum resident set size" in `time -v`'s output; the process also
//! prints its own `VmHWM` from `/proc/self/status` on Linux.) With no URL,
//! it starts an in-process emulator (with its request log off), whose memory
//! then counts in both modes alike; the separate emulator keeps the
//! measurement to the client.

use std::sync::Arc;

use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};

const UPDATES: usize = 10_000;
const IN_FLIGHT: usize = 16;

/// How many of the updates worker `w` does.
fn share(w: usize) -> usize {
    let (each, rest) = (UPDATES / IN_FLIGHT, UPDATES % IN_FLIGHT);
    each + usize::from(w < rest)
}

fn usage() -> ! {
    eprintln!("usage: memory [sdk|raw [BASE_URL API_KEY]]");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some(m @ ("sdk" | "raw")) => m.to_string(),
        // No arguments: a smoke run of the SDK mode (CI runs every example).
        None => "sdk".to_string(),
        _ => usage(),
    };
    let (_emulator, base_url, key) = match (args.get(1), args.get(2)) {
        (Some(url), Some(key)) => (None, url.clone(), key.clone()),
        (None, None) => {
            let emulator = xpander_sdk::emulator::Emulator::builder()
                .request_log_limit(0)
                .start()?;
            let (url, key) = (emulator.base_url(), emulator.api_key().to_string());
            (Some(emulator), url, key)
        }
        _ => usage(),
    };
    // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One task per worker, seeded through the control route (so this works
    // against a separate emulator process too). Not measured apart: both
    // modes do it the same way.
    let ids: Vec<String> = (0..IN_FLIGHT).map(|i| format!("task_mem_{i}")).collect();
    let seed: Vec<_> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "agent_id": "agent-123", "organization_id": "org-1",
                "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z"
            })
        })
        .collect();
    let seeded = reqwest::Client::new()
        .post(format!("{base_url}/__emulator/tasks"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&seed)?)
        .send()
        .await?;
    assert!(
        seeded.status().is_success(),
        "seeding failed: {}",
        seeded.status()
    );

    // Each mode builds only the client it uses.
    let sdk = mode == "sdk";
    let builder = Tasks::builder().base_url(&base_url).api_key(&key);
    let change = UpdateTask::new()
        .status(AgentExecutionStatus::Completed)
        .result("Done");
    let core = RequestBuilder::new(builder.clone().build_config()?);
    let requests: Vec<_> = ids
        .iter()
        .map(|id| core.update(id, &change).unwrap())
        .collect();
    let tasks = Arc::new(if sdk { Some(builder.build()?) } else { None });
    let raw_client = if sdk {
        None
    } else {
        Some(reqwest::Client::new())
    };
    let change = Arc::new(change);
    let requests = Arc::new(requests);

    let start = std::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..IN_FLIGHT {
        let n = share(w);
        let (tasks, change, requests) = (tasks.clone(), change.clone(), requests.clone());
        let (raw_client, key, id) = (raw_client.clone(), key.clone(), ids[w].clone());
        workers.spawn(async move {
            for _ in 0..n {
                if let Some(tasks) = &*tasks {
                    tasks.aupdate(&id, &change).await.unwrap();
                } else if let Some(raw_client) = &raw_client {
                    let request = &requests[w];
                    let response = raw_client
                        .patch(request.uri().to_string())
                        .header("accept", "*/*")
                        .header("x-api-key", &key)
                        .header("content-type", "application/json")
                        .body(request.body().0.clone())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    std::hint::black_box(response.bytes().await.unwrap());
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done?;
    }
    let elapsed = start.elapsed();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM: unknown".into());
    println!(
        "{mode}: {UPDATES} updates, {IN_FLIGHT} in flight, {:.2?}; {}",
        elapsed,
        hwm.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    Ok(())
}
