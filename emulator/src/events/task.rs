//! What a task's stream (`GET /{org}/agent-execution/{task_id}/events`)
//! sends:
//!
//! 1. `connected` (`data: null`, no `id:`: the handshake is the response's,
//!    not part of the task's history);
//! 2. a backlog: with `Last-Event-ID: N`, every kept event after N (all the
//!    kept ones when N is older than the buffer, none when N is not below
//!    the newest id); without it, nothing, unless the task is already
//!    finished: then its last `task_finished`;
//! 3. the task's events from then on, as they happen.
//!
//! It ends after a `task_finished`, right after the backlog when the task
//! was finished already, or when the task is removed.

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::sse::{BadFrames, Feed, Frame, Run};
use super::{envelope, StreamEvent};
use crate::state::Shared;
use crate::store::{is_terminal, lock, Entry};

/// A subscription to one task's events.
pub(crate) struct TaskFeed {
    task_id: String,
    organization_id: String,
    backlog: Vec<StreamEvent>,
    /// The task was finished at subscription: end after the backlog.
    finished: bool,
    /// The newest id sent or skipped.
    cursor: u64,
    newest: watch::Receiver<u64>,
}

impl TaskFeed {
    /// Subscribes to `entry`'s events; the caller holds the store's lock, so
    /// no event falls between the backlog and the live ones. `resume` is the
    /// request's `Last-Event-ID`.
    pub(crate) fn subscribe(task_id: &str, entry: &Entry, resume: Option<u64>) -> TaskFeed {
        let log = &entry.live.log;
        let finished = is_terminal(&entry.task);
        let backlog = match resume {
            Some(n) => log.after(n),
            None if finished => log.last_finished().cloned().into_iter().collect(),
            None => Vec::new(),
        };
        TaskFeed {
            task_id: task_id.to_string(),
            organization_id: entry.live.organization_id(&entry.task).to_string(),
            backlog,
            finished,
            cursor: log.last_id(),
            newest: log.subscribe(),
        }
    }
}

impl Feed for TaskFeed {
    /// The bad frames of a malformed-frame fault on this stream: a cut-off
    /// envelope, and a well-formed envelope without `type`.
    fn bad_frames(&self) -> BadFrames {
        let mut env = envelope("", &self.task_id, &self.organization_id, Value::Null);
        if let Some(o) = env.as_object_mut() {
            o.remove("type");
        }
        BadFrames {
            not_json: b"data: {\"type\": \"task_updated\", \"task_id\": \n\n".to_vec(),
            no_type: Frame::event(None, &env).encode(),
        }
    }

    /// Sends the stream's frames into `tx` until the stream ends (or the
    /// writer is gone).
    fn run<'a>(mut self: Box<Self>, shared: &'a Shared, tx: mpsc::Sender<Frame>) -> Run<'a> {
        Box::pin(async move {
            let hello = envelope(
                "connected",
                &self.task_id,
                &self.organization_id,
                Value::Null,
            );
            if tx.send(Frame::event(None, &hello)).await.is_err() {
                return;
            }
            for e in std::mem::take(&mut self.backlog) {
                if !send(&tx, &e).await || e.finishes() {
                    return;
                }
            }
            if self.finished {
                return;
            }
            loop {
                if self.newest.changed().await.is_err() {
                    return;
                }
                let fresh = match lock(&shared.store).get(&self.task_id) {
                    Some(e) => e.live.log.after(self.cursor),
                    None => return,
                };
                for e in fresh {
                    self.cursor = e.id;
                    if !send(&tx, &e).await || e.finishes() {
                        return;
                    }
                }
            }
        })
    }
}

/// Sends one event; false when the writer is gone.
async fn send(tx: &mpsc::Sender<Frame>, e: &StreamEvent) -> bool {
    tx.send(Frame::event(Some(e.id), &e.envelope)).await.is_ok()
}
