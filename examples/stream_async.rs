//! A task's live events in the async face, then awaiting a result.
//!
//! ```sh
//! cargo run --example stream_async --features emulator
//! ```
//!
//! Against the embedded emulator, on tokio:
//!
//! 1. `Task::aevents` with `while let Some(event) = stream.next().await`,
//!    while a spawned task plays the agent (pushes `chunk` events with
//!    `Tasks::apush_events`, then completes the task). The stream ends by
//!    itself after `task_finished`.
//! 2. The same stream as a `futures` `Stream` (`EventStream::into_stream`),
//!    with `StreamExt` / `TryStreamExt` combinators.
//! 3. `Tasks::await_for_result`, joined with the "agent" that finishes the
//!    task meanwhile.
//!
//! The stream needs an organization id (`XPANDER_ORGANIZATION_ID`, or
//! `ClientBuilder::organization_id`) and a task created with
//! `events_streaming(true)`.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::oneshot;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::sans_io::wait::WaitPolicy;
use xpander_sdk::{
    AgentExecutionStatus, CreateTask, EventPayload, Task, TaskEvent, TaskEventType, Tasks,
    UpdateTask,
};

const PIECES: [&str; 3] = ["Ferris ", "scuttles ", "safely"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    println!("embedded emulator at {}", emulator.base_url());
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .build()?;

    // 1. `next().await`, while a spawned task makes progress.
    let task = tasks
        .acreate(&CreateTask::new("agent-writer", "A haiku about Rust").events_streaming(true))
        .await?;
    println!("created task {} (events_streaming)", task.id);
    let (open_tx, open_rx) = oneshot::channel();
    let agent = tokio::spawn(play_agent(tasks.clone(), task.clone(), open_rx));
    let mut open_tx = Some(open_tx);
    let mut stream = task.aevents(&tasks)?;
    let mut text = String::new();
    let mut last = None;
    while let Some(event) = stream.next().await {
        let event = event?;
        println!(
            "  event {:>2}: {}{}",
            id(&event),
            event.kind,
            detail(&event)
        );
        if let Some(piece) = event.payload.as_text() {
            text.push_str(piece);
        }
        // The stream is open: the agent may start (events pushed before a
        // subscriber connects are not sent to it).
        if event.kind == TaskEventType::Connected {
            open_tx.take().map(|tx| tx.send(()));
        }
        last = Some(event.kind);
    }
    agent.await??;
    let last_kind = last
        .as_ref()
        .map_or("nothing".to_string(), |k| k.to_string());
    println!("the stream ended by itself after {last_kind}; text: {text:?}");
    if last != Some(TaskEventType::TaskFinished) || text != PIECES.concat() {
        return Err("the stream did not deliver every chunk, then the finish".into());
    }

    // 2. The same as a `futures` Stream, with combinators.
    let task = tasks
        .acreate(&CreateTask::new("agent-writer", "Another haiku").events_streaming(true))
        .await?;
    let (open_tx, open_rx) = oneshot::channel();
    let agent = tokio::spawn(play_agent(tasks.clone(), task.clone(), open_rx));
    let mut open_tx = Some(open_tx);
    let kinds: Vec<String> = task
        .aevents(&tasks)?
        .into_stream()
        .inspect(|event| {
            if matches!(event, Ok(e) if e.kind == TaskEventType::Connected) {
                open_tx.take().map(|tx| tx.send(()));
            }
        })
        .map_ok(|event| event.kind.to_string())
        .try_collect()
        .await?;
    agent.await??;
    println!("into_stream() collected: {}", kinds.join(", "));
    let expected = ["connected", "chunk", "chunk", "chunk", "task_finished"];
    if kinds != expected {
        return Err(format!("expected {expected:?}, got {kinds:?}").into());
    }

    // 3. Await a result while the "agent" finishes the task.
    let task = tasks
        .acreate(&CreateTask::new("agent-writer", "Summarise the haiku"))
        .await?;
    let policy = WaitPolicy::default()
        .timeout(Duration::from_secs(30))
        .poll(Duration::from_millis(100), Duration::from_secs(2));
    let started = Instant::now();
    let (done, finished) = tokio::join!(tasks.await_for_result(&task.id, &policy), async {
        // The agent takes a moment; the waiter's result does not depend on it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tasks
            .aupdate(
                &task.id,
                &UpdateTask::new()
                    .status(AgentExecutionStatus::Completed)
                    .result("A crab keeps memory safe."),
            )
            .await
    });
    finished?;
    let done = done?;
    println!(
        "awaited {:.1?} for task {}: status {}, result {:?}",
        started.elapsed(),
        done.id,
        done.status.as_ref().map_or("none", |s| s.as_str()),
        done.result
    );
    if done.status != Some(AgentExecutionStatus::Completed) {
        return Err("the third task did not complete".into());
    }
    Ok(())
}

/// Plays the agent once the stream is open: pushes the pieces as `chunk`
/// events, then completes the task.
async fn play_agent(
    tasks: Tasks,
    task: Task,
    open: oneshot::Receiver<()>,
) -> Result<(), xpander_sdk::Error> {
    if open.await.is_err() {
        return Ok(()); // the reader gave up: nothing to do
    }
    for piece in PIECES {
        let chunk = TaskEvent::new(
            TaskEventType::Chunk,
            &task.id,
            &task.organization_id,
            EventPayload::Text(piece.to_string()),
        );
        tasks.apush_events(&task.id, &[chunk]).await?;
    }
    tasks
        .aupdate(
            &task.id,
            &UpdateTask::new()
                .status(AgentExecutionStatus::Completed)
                .result(PIECES.concat()),
        )
        .await?;
    Ok(())
}

/// The event's stream id, `-` for the `connected` handshake (it has none).
fn id(event: &TaskEvent) -> &str {
    event.id.as_deref().unwrap_or("-")
}

/// What an event carries, in a few words.
fn detail(event: &TaskEvent) -> String {
    match &event.payload {
        EventPayload::Text(piece) => format!(" {piece:?}"),
        EventPayload::Task(task) => format!(
            " (status {})",
            task.status.as_ref().map_or("none", |s| s.as_str())
        ),
        _ => String::new(),
    }
}
