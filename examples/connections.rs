//! Counts the TCP connections 1,000 sequential updates open, through the
//! blocking face and through the async one, each with its own client and
//! its own emulator (which counts the connections it accepts).
//!
//! ```sh
//! cargo run --release --example connections --all-features
//! ```
//!
//! Prints both counts; exits with status 1 unless each is exactly 1: one
//! client keeps one connection alive across sequential calls. The async
//! check runs on a current-thread tokio runtime.
//!
//! It also reports, without failing on it, the same run on a 2-worker
//! multi-thread runtime, for the SDK and for a bare `reqwest::Client`: there
//! both sometimes open a second connection. That is hyper-util's pool
//! racing a new connect against the checkout of the idle connection, which
//! the previous call's spawned "on idle" task returns to the pool
//! concurrently with the next call; the second connection then stays
//! pooled (no churn beyond it).

use xpander_sdk::emulator::Emulator;
use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};

const UPDATES: usize = 1_000;
const TASK_ID: &str = "task_connections";

fn setup() -> Result<(Emulator, Tasks), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder().request_log_limit(0).start()?;
    emulator.seed_task(serde_json::json!({
        "id": TASK_ID, "agent_id": "agent-123", "organization_id": "org-1",
        "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z"
    }))?;
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()?;
    Ok((emulator, tasks))
}

fn change(i: usize) -> UpdateTask {
    UpdateTask::new()
        .status(AgentExecutionStatus::Executing)
        .result(format!("step {i}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (emulator, tasks) = setup()?;
    for i in 0..UPDATES {
        tasks.update(TASK_ID, &change(i))?;
    }
    let blocking = emulator.connections_accepted();
    let blocking_requests = emulator.requests_received();

    let (emulator, tasks) = setup()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        for i in 0..UPDATES {
            tasks.aupdate(TASK_ID, &change(i)).await?;
        }
        Ok::<(), xpander_sdk::Error>(())
    })?;
    let nonblocking = emulator.connections_accepted();
    let nonblocking_requests = emulator.requests_received();

    // Informational: a multi-thread runtime, SDK and bare reqwest.
    // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (emulator, tasks) = setup()?;
    multi.block_on(async {
        for i in 0..UPDATES {
            tasks.aupdate(TASK_ID, &change(i)).await?;
        }
        Ok::<(), xpander_sdk::Error>(())
    })?;
    let multi_sdk = emulator.connections_accepted();
    let (emulator, _) = setup()?;
    let url = format!("{}/agent-execution/{TASK_ID}/update", emulator.base_url());
    let raw = reqwest::Client::new();
    multi.block_on(async {
        for i in 0..UPDATES {
            let body = serde_json::to_vec(&change(i)).expect("serializable");
            let response = raw
                .patch(&url)
                .header("accept", "*/*")
                .header("x-api-key", emulator.api_key())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            assert_eq!(response.status(), 200);
            response.bytes().await?;
        }
        Ok::<(), reqwest::Error>(())
    })?;
    let multi_raw = emulator.connections_accepted();

    println!("blocking (update):  {blocking_requests} requests over {blocking} TCP connection(s)");
    println!("async    (aupdate): {nonblocking_requests} requests over {nonblocking} TCP connection(s) (current-thread runtime)");
    println!(
        "info: on a 2-worker multi-thread runtime: aupdate {multi_sdk}, bare reqwest {multi_raw} TCP connection(s)"
    );
    if blocking == 1 && nonblocking == 1 {
        println!("ok: one connection per client in each form");
        Ok(())
    } else {
        eprintln!("FAIL: expected exactly 1 connection in each form");
        std::process::exit(1)
    }
}
