//! A raw worker for the agent stream: open the stream, read its
//! registration and its events, post worker events.

use std::time::Duration;

use serde_json::{json, Value};
use xpander_emulator::{Emulator, WorkerInfo};

use super::sse::{Block, Sse};
use super::{call, Response};

/// The agent stream's path, as the official runtime 2.0.537 builds it.
pub fn agent_path(agent: &str) -> String {
    format!("/org-1/events/{agent}/?environment=local&supports_llm_gateway=true")
}

/// One worker: its stream and the id its registration gave.
pub struct RawWorker {
    pub sse: Sse,
    pub id: String,
    pub registration: Value,
}

impl RawWorker {
    /// Opens `agent`'s stream and reads the registration.
    pub fn connect(emu: &Emulator, agent: &str) -> RawWorker {
        RawWorker::open(emu, &agent_path(agent))
    }

    /// Opens the stream at `path` and reads the registration.
    pub fn open(emu: &Emulator, path: &str) -> RawWorker {
        let mut sse = Sse::open(emu, path, &[]);
        let first = sse.next_event().expect("a registration");
        assert_eq!(first.event.as_deref(), Some("worker-registration"));
        assert_eq!(first.id, None, "no id: lines on the agent stream");
        let registration = first.json();
        let id = registration["id"]
            .as_str()
            .expect("a worker id")
            .to_string();
        RawWorker {
            sse,
            id,
            registration,
        }
    }

    /// The next event (keep-alives skipped); it must be named `event`.
    pub fn expect(&mut self, event: &str) -> Block {
        let b = self.sse.next_event().expect("an event");
        assert_eq!(b.event.as_deref(), Some(event), "{b:?}");
        b
    }

    /// The next event must be an `agent-execution`: its task.
    pub fn next_task(&mut self) -> Value {
        self.expect("agent-execution").json()
    }

    /// The ids of the next `n` tasks.
    pub fn next_tasks(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| self.next_task()["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Sends a marker event to every stream of `agent` and checks that each
/// of `workers` sends it next: nothing else was sent to them before it.
pub fn expect_nothing_else(emu: &Emulator, agent: &str, workers: &mut [&mut RawWorker]) {
    let sent = emu.send_agent_event(agent, "marker", "{}");
    assert!(sent >= workers.len());
    for w in workers.iter_mut() {
        w.expect("marker");
    }
}

/// Posts a worker event for `worker` of `agent`.
pub fn post_event(emu: &Emulator, worker: &str, agent: &str, event: &str, data: Value) -> Response {
    let path = format!("/org-1/events/{worker}?type=worker&agent_id={agent}");
    let body = json!({"id": "5a0e2f57-55c1-4f7e-9d59-8f3a2d1f8b10", "event": event, "data": data});
    call(emu, "POST", &path, Some(body))
}

/// Saves a task's status as the worker's claim or release would.
pub fn set_status(emu: &Emulator, task: &str, status: &str) -> Response {
    let path = format!("/agent-execution/{task}/update");
    call(
        emu,
        "PATCH",
        &path,
        Some(json!({"status": status, "result": null})),
    )
}

/// Creates a task for `agent` through the API; its id.
pub fn create(emu: &Emulator, agent: &str, text: &str) -> String {
    let r = call(
        emu,
        "POST",
        &format!("/agent-execution/{agent}"),
        Some(json!({"input": {"text": text}})),
    );
    assert_eq!(r.status, 200);
    r.json()["id"].as_str().unwrap().to_string()
}

/// A worker's record.
pub fn worker(emu: &Emulator, id: &str) -> WorkerInfo {
    emu.workers()
        .into_iter()
        .find(|w| w.id == id)
        .expect("a known worker")
}

/// Waits until `cond` holds of the emulator's state (a bounded poll of
/// state the emulator changes when it notices a hang-up, not a timing).
pub fn wait_for(emu: &Emulator, what: &str, cond: impl Fn(&Emulator) -> bool) {
    for _ in 0..6_000 {
        if cond(emu) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("never: {what}");
}
