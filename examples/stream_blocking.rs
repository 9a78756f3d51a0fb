//! A task's live events in the blocking face, then waiting for a result.
//!
//! ```sh
//! cargo run --example stream_blocking --features emulator
//! ```
//!
//! Against the embedded emulator: the main thread follows a task's events
//! with `Task::events` (a blocking iterator), while a worker thread plays
//! the agent: it pushes `chunk` events with `Tasks::push_events`, then
//! completes the task. Each event is printed as it arrives; the iterator
//! ends by itself after `task_finished`. Then `Tasks::wait_for_result`
//! waits for a second task that does not stream its events (it polls).
//!
//! The stream needs an organization id (`XPANDER_ORGANIZATION_ID`, or
//! `ClientBuilder::organization_id`) and a task created with
//! `events_streaming(true)`.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use xpander_sdk::emulator::Emulator;
use xpander_sdk::sans_io::wait::WaitPolicy;
use xpander_sdk::{
    AgentExecutionStatus, CreateTask, EventPayload, TaskEvent, TaskEventType, Tasks, UpdateTask,
};

const PIECES: [&str; 3] = ["Ferris ", "scuttles ", "safely"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    println!("embedded emulator at {}", emulator.base_url());
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .build()?;

    // 1. Follow a task's events while another thread makes progress.
    let task = tasks
        .create(&CreateTask::new("agent-writer", "A haiku about Rust").events_streaming(true))?;
    println!("created task {} (events_streaming)", task.id);

    // The worker starts once the stream is open: events pushed before a
    // subscriber connects are not sent to it.
    let (open_tx, open_rx) = mpsc::channel::<()>();
    let worker = thread::spawn({
        let tasks = tasks.clone();
        let task = task.clone();
        move || -> Result<(), xpander_sdk::Error> {
            if open_rx.recv().is_err() {
                return Ok(()); // the reader gave up: nothing to do
            }
            for piece in PIECES {
                let chunk = TaskEvent::new(
                    TaskEventType::Chunk,
                    &task.id,
                    &task.organization_id,
                    EventPayload::Text(piece.to_string()),
                );
                tasks.push_events(&task.id, &[chunk])?;
            }
            tasks.update(
                &task.id,
                &UpdateTask::new()
                    .status(AgentExecutionStatus::Completed)
                    .result(PIECES.concat()),
            )?;
            Ok(())
        }
    });

    let mut text = String::new();
    let mut last = None;
    for event in task.events(&tasks)? {
        let event = event?;
        match &event.payload {
            EventPayload::Text(piece) => {
                println!("  event {:>2}: chunk {piece:?}", id(&event));
                text.push_str(piece);
            }
            EventPayload::Task(t) => println!(
                "  event {:>2}: {} (status {})",
                id(&event),
                event.kind,
                t.status.as_ref().map_or("none", |s| s.as_str())
            ),
            _ => println!("  event {:>2}: {}", id(&event), event.kind),
        }
        if event.kind == TaskEventType::Connected {
            open_tx.send(())?;
        }
        last = Some(event.kind);
    }
    worker.join().map_err(|_| "the worker panicked")??;
    let last_kind = last
        .as_ref()
        .map_or("nothing".to_string(), |k| k.to_string());
    println!("the stream ended by itself after {last_kind}; text: {text:?}");
    if last != Some(TaskEventType::TaskFinished) || text != PIECES.concat() {
        return Err("the stream did not deliver every chunk, then the finish".into());
    }

    // 2. Wait for the result of a task that does not stream its events:
    // `wait_for_result` polls it (following the stream instead when it does).
    let task = tasks.create(&CreateTask::new("agent-writer", "Summarise the haiku"))?;
    let finisher = thread::spawn({
        let tasks = tasks.clone();
        let id = task.id.clone();
        move || {
            // The "agent" takes a moment; the waiter's result does not depend on it.
            thread::sleep(Duration::from_millis(300));
            tasks.update(
                &id,
                &UpdateTask::new()
                    .status(AgentExecutionStatus::Completed)
                    .result("A crab keeps memory safe."),
            )
        }
    });
    let started = Instant::now();
    let policy = WaitPolicy::default()
        .timeout(Duration::from_secs(30))
        .poll(Duration::from_millis(100), Duration::from_secs(2));
    let done = tasks.wait_for_result(&task.id, &policy)?;
    finisher.join().map_err(|_| "the finisher panicked")??;
    println!(
        "waited {:.1?} for task {}: status {}, result {:?}",
        started.elapsed(),
        done.id,
        done.status.as_ref().map_or("none", |s| s.as_str()),
        done.result
    );
    if done.status != Some(AgentExecutionStatus::Completed) {
        return Err("the second task did not complete".into());
    }
    Ok(())
}

/// The event's stream id, `-` for the `connected` handshake (it has none).
fn id(event: &TaskEvent) -> &str {
    event.id.as_deref().unwrap_or("-")
}
