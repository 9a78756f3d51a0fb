//! Quickstart: a blocking `update` and an async `aupdate`.
//!
//! ```sh
//! cargo run --example quickstart --features emulator
//! ```
//!
//! With no `XPANDER_API_KEY` set, it starts the crate's embedded emulator and
//! works against it. With `XPANDER_API_KEY` (and `XPANDER_TASK_ID`, the task to
//! update; `XPANDER_BASE_URL` and `XPANDER_ORGANIZATION_ID` as needed) set, it
//! talks to the real service.

use xpander_sdk::emulator::Emulator;
use xpander_sdk::{AgentExecutionStatus, Task, Tasks, UpdateTask};

fn show(label: &str, task: &Task) {
    println!(
        "{label:>16}: id={} status={} result={:?}",
        task.id,
        task.status
            .as_ref()
            .map_or("<none>", AgentExecutionStatus::as_str),
        task.result
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the emulator alive for the whole run; it stops when dropped.
    let (tasks, task_id, _emulator) = match std::env::var("XPANDER_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let task_id = std::env::var("XPANDER_TASK_ID")
                .map_err(|_| "set XPANDER_TASK_ID to the task to update")?;
            println!("using the real service (XPANDER_API_KEY is set)");
            (Tasks::from_env()?, task_id, None)
        }
        _ => {
            let emulator = Emulator::start()?;
            let task_id = emulator.seed_task(serde_json::json!({
                "id": "task_quickstart",
                "agent_id": "agent-123",
                "organization_id": "org-1",
                "input": {"text": "Summarise the Q3 deck"},
                "created_at": "2026-11-20T10:00:00Z",
                "status": "executing"
            }))?;
            println!(
                "no XPANDER_API_KEY: using the embedded emulator at {}",
                emulator.base_url()
            );
            let tasks = Tasks::builder()
                .base_url(emulator.base_url())
                .api_key(emulator.api_key())
                .build()?;
            (tasks, task_id, Some(emulator))
        }
    };

    // Blocking: scripts, batch jobs, CLIs.
    let before = tasks.get(&task_id)?;
    show("before", &before);
    let after = tasks.update(
        &task_id,
        &UpdateTask::new()
            .status(AgentExecutionStatus::Paused)
            .result("waiting for approval"),
    )?;
    show("after update", &after);

    // Async: services on tokio. Same client, same connection settings.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let finished = runtime.block_on(
        tasks.aupdate(
            &task_id,
            &UpdateTask::new()
                .status(AgentExecutionStatus::Completed)
                .result("Final summary: revenue up 12%, two risks flagged"),
        ),
    )?;
    show("after aupdate", &finished);
    Ok(())
}
