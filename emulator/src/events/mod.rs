//! Task events: each task's bounded event log (what its stream sends, with
//! per-task ids), the envelopes of the task's own changes, and the live side
//! of a task ([`Live`]: its log and its activity log, fed by the same events).
//!
//! The stream itself is in [`sse`] (the writer of any event stream: framing,
//! keep-alives, mid-stream faults) and [`task`] (what a task's stream sends:
//! the handshake, the backlog of a resumption, then live events).

pub(crate) mod sse;
pub(crate) mod task;

use std::collections::VecDeque;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::activity::Activity;
use crate::store::{is_terminal, now};

/// Default number of events a task's stream keeps for resumption.
pub const DEFAULT_EVENT_BUFFER: usize = 1024;

/// One event of a task's stream: its id (per task, from 1, never reused)
/// and its envelope, the JSON object sent as the event's `data`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamEvent {
    /// The SSE `id:` of the event.
    pub id: u64,
    /// `{"type", "task_id", "organization_id", "time", "data", "identity"}`
    /// for the emulator's own events; a pushed envelope as it was pushed.
    pub envelope: Value,
}

impl StreamEvent {
    /// The envelope's `type`, when it has a string one.
    pub fn kind(&self) -> Option<&str> {
        self.envelope.get("type").and_then(Value::as_str)
    }

    /// `{"id": N, "event": envelope}`, as `GET /__emulator/events/{id}` serves it.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "event": self.envelope})
    }

    /// True for `task_finished`, the event after which a stream closes.
    pub(crate) fn finishes(&self) -> bool {
        self.kind() == Some("task_finished")
    }
}

/// An envelope as the service sends it.
pub(crate) fn envelope(kind: &str, task_id: &str, organization_id: &str, data: Value) -> Value {
    json!({
        "type": kind,
        "task_id": task_id,
        "organization_id": organization_id,
        "time": now(),
        "data": data,
        "identity": null,
    })
}

/// A task's events: the newest `capacity` kept, ids counting on from the
/// ones dropped; a watch channel tells streams the newest id.
pub(crate) struct EventLog {
    kept: VecDeque<StreamEvent>,
    capacity: usize,
    last_id: u64,
    /// The task's last `task_finished`, kept even when the buffer has moved
    /// past it: a stream opened on a finished task sends it.
    last_finished: Option<StreamEvent>,
    newest: watch::Sender<u64>,
}

impl EventLog {
    fn new(capacity: usize) -> EventLog {
        EventLog {
            kept: VecDeque::new(),
            capacity: capacity.max(1),
            last_id: 0,
            last_finished: None,
            newest: watch::channel(0).0,
        }
    }

    /// Appends an event with the next id and wakes the task's streams.
    fn push(&mut self, envelope: Value) -> u64 {
        self.last_id += 1;
        let event = StreamEvent {
            id: self.last_id,
            envelope,
        };
        if event.finishes() {
            self.last_finished = Some(event.clone());
        }
        while self.kept.len() >= self.capacity {
            self.kept.pop_front();
        }
        self.kept.push_back(event);
        self.newest.send_replace(self.last_id);
        self.last_id
    }

    /// The kept events with an id above `id`, oldest first: everything kept
    /// when `id` is older than the oldest kept event.
    pub(crate) fn after(&self, id: u64) -> Vec<StreamEvent> {
        let skip = self.kept.partition_point(|e| e.id <= id);
        self.kept.iter().skip(skip).cloned().collect()
    }

    /// Every kept event, oldest first.
    pub(crate) fn all(&self) -> Vec<StreamEvent> {
        self.kept.iter().cloned().collect()
    }

    pub(crate) fn last_id(&self) -> u64 {
        self.last_id
    }

    pub(crate) fn last_finished(&self) -> Option<&StreamEvent> {
        self.last_finished.as_ref()
    }

    /// A receiver that wakes when an event is appended (ends when the task
    /// is removed).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

/// The live side of a task: its event log and its activity log.
pub(crate) struct Live {
    pub log: EventLog,
    pub activity: Activity,
    /// The `organization_id` of events when the task has none.
    organization_id: String,
}

impl Live {
    pub(crate) fn new(organization_id: &str, event_buffer: usize) -> Live {
        Live {
            log: EventLog::new(event_buffer),
            activity: Activity::default(),
            organization_id: organization_id.to_string(),
        }
    }

    /// The organization of the task's events: the task's own, else the
    /// emulator's.
    pub(crate) fn organization_id<'a>(&'a self, task: &'a Map<String, Value>) -> &'a str {
        task.get("organization_id")
            .and_then(Value::as_str)
            .unwrap_or(&self.organization_id)
    }

    /// Appends an event to the stream and applies it to the activity log;
    /// returns its id.
    pub(crate) fn record(&mut self, envelope: Value) -> u64 {
        let id = self.log.push(envelope);
        if let Some(event) = self.log.kept.back() {
            self.activity.apply(event);
        }
        id
    }

    /// An event of the task's own, with the whole task as `data`.
    fn task_event(&mut self, kind: &str, task: &Map<String, Value>) {
        let id = task.get("id").and_then(Value::as_str).unwrap_or_default();
        let org = self.organization_id(task);
        let env = envelope(kind, id, org, Value::Object(task.clone()));
        self.record(env);
    }

    /// A new task: `task_created`, and `task_finished` too when it is
    /// already terminal (a reported task, a seeded finished one).
    pub(crate) fn task_created(&mut self, task: &Map<String, Value>) {
        self.task_event("task_created", task);
        if is_terminal(task) {
            self.task_event("task_finished", task);
        }
    }

    /// A changed task: `task_finished` when its status became terminal, else
    /// `task_updated` (also for a change of an already finished task).
    pub(crate) fn task_changed(&mut self, task: &Map<String, Value>, was_terminal: bool) {
        if is_terminal(task) && !was_terminal {
            self.task_event("task_finished", task);
        } else {
            self.task_event("task_updated", task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[StreamEvent]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn the_log_keeps_the_newest_and_resumes_after_an_id() {
        let mut log = EventLog::new(3);
        for i in 0..5 {
            log.push(json!({"type": "chunk", "data": i}));
        }
        assert_eq!(ids(&log.all()), [3, 4, 5]);
        assert_eq!(ids(&log.after(3)), [4, 5]);
        assert_eq!(ids(&log.after(0)), [3, 4, 5], "older than kept: all kept");
        assert!(log.after(5).is_empty());
        assert!(log.after(99).is_empty());
        assert_eq!(log.last_id(), 5);
    }

    #[test]
    fn task_changes_become_created_updated_finished() {
        let mut live = Live::new("org-x", 16);
        let mut task = json!({"id": "t", "status": "pending"});
        live.task_created(task.as_object().unwrap());
        task["status"] = json!("executing");
        live.task_changed(task.as_object().unwrap(), false);
        task["status"] = json!("completed");
        live.task_changed(task.as_object().unwrap(), false);
        task["result"] = json!("again");
        live.task_changed(task.as_object().unwrap(), true);
        let kinds: Vec<String> = live
            .log
            .all()
            .iter()
            .map(|e| e.kind().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "task_created",
                "task_updated",
                "task_finished",
                "task_updated"
            ]
        );
        let finished = live.log.last_finished().unwrap();
        assert_eq!(finished.id, 3);
        assert_eq!(finished.envelope["organization_id"], "org-x");
        assert_eq!(finished.envelope["data"]["status"], "completed");
        assert!(finished.envelope["identity"].is_null());
    }
}
