//! An agent worker (`@on_task`'s counterpart) with an echo handler.
//!
//! ```sh
//! cargo run --example worker --features runtime,emulator
//! ```
//!
//! With no `XPANDER_API_KEY`, it starts the embedded emulator, runs a worker
//! for agent `agent-echo` against it, creates a few tasks with the client,
//! prints their final states, and stops the worker.
//!
//! With `XPANDER_API_KEY`, `XPANDER_BASE_URL`, `XPANDER_ORGANIZATION_ID` and
//! `XPANDER_AGENT_ID` set, it serves that agent with the same handler until
//! SIGTERM or Ctrl-C (as the official quickstart does with `@on_task`).
//!
//! The handler: the result is `echo: ` and the input text; the input `fail`
//! fails the task (saved `error` with the message).

use std::time::Duration;

use xpander_sdk::emulator::Emulator;
use xpander_sdk::runtime::{BoxError, ExitReason, Notice, TaskContext, Worker, WorkerBuilder};
use xpander_sdk::sans_io::wait::WaitPolicy;
use xpander_sdk::{AgentExecutionStatus, CreateTask, Task, Tasks};

/// The echo handler.
async fn echo(mut task: Task, ctx: TaskContext) -> Result<Task, BoxError> {
    if task.input.text.trim() == "fail" {
        return Err(format!("asked to fail (attempt {})", ctx.attempt()).into());
    }
    task.result = Some(format!("echo: {}", task.input.text));
    Ok(task)
}

fn log(notice: &Notice) {
    let task = notice.task_id.as_deref().unwrap_or("-");
    println!("  [worker {:?}] {task}: {}", notice.level, notice.message);
}

fn worker(tasks: Tasks) -> WorkerBuilder {
    Worker::builder(tasks)
        .concurrency(4)
        .task_deadline(Duration::from_secs(60))
        .on_boot(|| async {
            println!("worker: booted");
            Ok::<(), std::io::Error>(())
        })
        .on_shutdown(|| async { println!("worker: shutdown hooks ran") })
        .on_notice(log)
        .handler(echo)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("XPANDER_API_KEY") {
        Ok(key) if !key.is_empty() => serve().await,
        _ => demo().await,
    }
}

/// Serves `XPANDER_AGENT_ID` until SIGTERM / Ctrl-C.
async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let worker = worker(Tasks::from_env()?).from_env().build()?;
    println!(
        "serving agent {} until SIGTERM or Ctrl-C (XPANDER_API_KEY is set)",
        worker.agent_id()
    );
    let exit = worker.run().await?;
    println!("stopped: {:?}", exit.reason);
    Ok(())
}

/// A worker against the embedded emulator, and a few tasks.
async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    println!(
        "no XPANDER_API_KEY: using the embedded emulator at {}",
        emulator.base_url()
    );
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .build()?;
    let worker = worker(tasks.clone())
        .agent_id("agent-echo")
        // The demo stops itself; a served agent stops on SIGTERM.
        .handle_signals(false)
        .build()?;
    let shutdown = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    let mut ids = Vec::new();
    for text in ["hello", "fail", "Ferris says hi"] {
        let task = tasks.acreate(&CreateTask::new("agent-echo", text)).await?;
        println!("created {} with input {text:?}", task.id);
        ids.push(task.id);
    }
    let wait = WaitPolicy::default().timeout(Duration::from_secs(30));
    for id in &ids {
        let task = tasks.await_for_result(id, &wait).await?;
        println!(
            "final: {} status={} result={:?}",
            task.id,
            task.status
                .as_ref()
                .map_or("<none>", AgentExecutionStatus::as_str),
            task.result
        );
    }

    shutdown.shutdown();
    let exit = running.await??;
    assert_eq!(exit.reason, ExitReason::Shutdown);
    println!("worker stopped: {:?}", exit.reason);
    Ok(())
}
