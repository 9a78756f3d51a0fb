//! Task events: each task's bounded event log (what its stream sends, with
//! per-task ids) and the envelopes of the task's own changes.
//!
//! The stream itself is in [`sse`] (the writer of any event stream: framing,
//! keep-alives, mid-stream faults) and [`task`] (what a task's stream sends:
//! the handshake, the backlog of a resumption, then live events).

pub(crate) mod sse;
pub(crate) mod task;

use std::collections::VecDeque;

use serde_json::{json, Value};
use tokio::sync::watch;

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

/// The current time as RFC 3339 UTC with microseconds, as the service writes it.
pub(crate) fn now() -> String {
    format!("{:.6}", jiff::Timestamp::now())
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
    pub(crate) kept: VecDeque<StreamEvent>,
    capacity: usize,
    last_id: u64,
    /// The task's last `task_finished`, kept even when the buffer has moved
    /// past it: a stream opened on a finished task sends it.
    last_finished: Option<StreamEvent>,
    newest: watch::Sender<u64>,
}

impl EventLog {
    pub(crate) fn new(capacity: usize) -> EventLog {
        EventLog {
            kept: VecDeque::new(),
            capacity: capacity.max(1),
            last_id: 0,
            last_finished: None,
            newest: watch::channel(0).0,
        }
    }

    /// Appends an event with the next id and wakes the task's streams.
    pub(crate) fn push(&mut self, envelope: Value) -> u64 {
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
}
