//! The reload-and-retry helper for concurrent update conflicts (409).
//!
//! ```sh
//! cargo run --example conflict --features emulator
//! ```
//!
//! The emulator answers the first two saves with 409, as the service does
//! when two workers save the same task at once. `retry_on_conflict` reloads
//! the task and applies the change again each time.

use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{AgentExecutionStatus, Tasks};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    let id = emulator.seed_task(serde_json::json!({
        "id": "task_shared",
        "agent_id": "agent-123",
        "organization_id": "org-1",
        "input": {"text": "count the approvals"},
        "created_at": "2026-11-20T10:00:00Z",
        "status": "executing",
        "result": "approvals: 4"
    }))?;
    emulator.inject(Fault::on("PATCH", "/agent-execution/*").times(2).respond(
        409,
        serde_json::json!({"detail": "Concurrent update conflict"}),
    ));
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()?;

    let mut runs = 0;
    let saved = tasks.retry_on_conflict(&id, |task| {
        runs += 1;
        // Derive the change from the freshly loaded task, never from a stale copy.
        let approvals: u32 = task
            .result
            .as_deref()
            .and_then(|r| r.strip_prefix("approvals: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        task.result = Some(format!("approvals: {}", approvals + 1));
        task.status = Some(AgentExecutionStatus::Completed);
    })?;
    println!(
        "applied the change {runs} times (2 conflicts, then success): {:?}",
        saved.result
    );
    if runs != 3 || saved.result.as_deref() != Some("approvals: 5") {
        return Err("unexpected outcome".into());
    }
    Ok(())
}
