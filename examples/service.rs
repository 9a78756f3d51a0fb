//! An async service: many tasks updated concurrently from tokio, through one
//! shared client (one connection pool).
//!
//! ```sh
//! cargo run --example service --features emulator
//! ```
//!
//! Runs against the embedded emulator, which fails 5% of updates with 503
//! to show the retries absorbing them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{AgentExecutionStatus, RetryPolicy, Tasks, UpdateTask};

const TASKS: usize = 200;
const IN_FLIGHT: usize = 32;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    for i in 0..TASKS {
        emulator.seed_task(serde_json::json!({
            "id": format!("job-{i}"),
            "agent_id": "agent-123",
            "organization_id": "org-1",
            "input": {"text": format!("job {i}")},
            "created_at": "2026-11-20T10:00:00Z",
            "status": "executing"
        }))?;
    }
    emulator.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .always()
            .probability(0.05)
            .respond(503, serde_json::json!({"detail": "Service Unavailable"})),
    );

    // One client for the whole service: clones share its connection pool.
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .retry(RetryPolicy::default().max_attempts(6))
        .build()?;

    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut workers = JoinSet::new();
    for i in 0..TASKS {
        let tasks = tasks.clone();
        let permit = limit.clone().acquire_owned().await?;
        workers.spawn(async move {
            let _permit = permit;
            // ... the job's real work would happen here ...
            tokio::time::sleep(Duration::from_millis(1)).await;
            tasks
                .aupdate(
                    &format!("job-{i}"),
                    &UpdateTask::new()
                        .status(AgentExecutionStatus::Completed)
                        .result(format!("job {i} done")),
                )
                .await
        });
    }
    let mut completed = 0;
    while let Some(joined) = workers.join_next().await {
        let task = joined??;
        assert_eq!(task.status, Some(AgentExecutionStatus::Completed));
        completed += 1;
    }
    println!(
        "{completed} tasks completed, {IN_FLIGHT} in flight, in {:?}, over {} connection(s)",
        started.elapsed(),
        emulator.connections_accepted()
    );
    let unfinished = emulator
        .tasks()
        .iter()
        .filter(|t| t["status"] != "completed")
        .count();
    if unfinished != 0 {
        return Err(format!("{unfinished} tasks not completed").into());
    }
    Ok(())
}
