//! Counts the TCP connections 1,000 sequential updates open, through the
//! blocking face and through the async one, each with its own client and
//! its own emulator (which counts the connections it accepts).
//!
//! ```sh
//! cargo run --release --example connections --all-features
//! ```
//!
//! Prints both counts; exits with status 1 unless each is exactly 1: one
//! client keeps one connection alive across sequential calls.

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

    println!("blocking (update):  {blocking_requests} requests over {blocking} TCP connection(s)");
    println!("async    (aupdate): {nonblocking_requests} requests over {nonblocking} TCP connection(s)");
    if blocking == 1 && nonblocking == 1 {
        println!("ok: one connection per client in each form");
        Ok(())
    } else {
        eprintln!("FAIL: expected exactly 1 connection in each form");
        std::process::exit(1)
    }
}
