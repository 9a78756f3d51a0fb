//! Using the emulator in your own tests: seed tasks, inject faults, read the
//! request log, check the final state. Your code under test takes a
//! `Tasks` client; in production it comes from `Tasks::from_env()`, in tests
//! from the emulator.
//!
//! ```sh
//! cargo run --example emulator --features emulator
//! ```
//!
//! Other languages' clients can use the same emulator as a process:
//! `cargo run -p xpander-emulator -- --addr 127.0.0.1:8016` prints its URL
//! and key, and `/__emulator/` routes control it over HTTP (see
//! emulator/README.md).

use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};

/// The code under test: marks a task failed with a reason.
fn fail_task(tasks: &Tasks, id: &str, reason: &str) -> xpander_sdk::Result<()> {
    tasks.update(
        id,
        &UpdateTask::new()
            .status(AgentExecutionStatus::Failed)
            .result(reason),
    )?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Start it (an ephemeral port; it stops when dropped) and seed a task.
    let emulator = Emulator::start()?;
    let id = emulator.seed_task(json!({
        "id": "t-1", "agent_id": "agent-123", "organization_id": "org-1",
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing"
    }))?;
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()?;

    // 2. Make the service flaky: the next update gets a 503 (retried).
    emulator
        .inject(Fault::on("PATCH", "/agent-execution/*").respond(503, json!({"detail": "busy"})));

    // 3. Run the code under test.
    fail_task(&tasks, &id, "connector timed out")?;

    // 4. Check what the server received and what it holds now.
    let requests = emulator.requests();
    println!("the server saw {} requests:", requests.len());
    for r in &requests {
        println!("  {} {} {}", r.method, r.path, r.body);
    }
    assert_eq!(requests.len(), 2, "one 503, one retry");
    let stored = emulator.task(&id).ok_or("task missing")?;
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["result"], "connector timed out");

    // 5. A missing task is a typed error.
    let err = fail_task(&tasks, "nope", "x").unwrap_err();
    assert!(err.is_not_found());
    println!("and a missing task gives: {err}");
    Ok(())
}
