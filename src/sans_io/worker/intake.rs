//! Intake: the queue of tasks waiting for a slot, the releases back to
//! `pending` (bounded in flight), re-deliveries, and the read before a
//! claim.

use std::collections::VecDeque;

use super::effects::{Call, Effect};
use super::LlmGateway;
use crate::model::Task;
use crate::sans_io::HttpRequest;

/// Failed reads before a claim, in a row for one task, after which the
/// task is no longer released (each release makes the dispatch hand it out
/// again at once: a task whose read always fails would loop at network
/// speed). It is then left as the server has it, nothing written.
pub(super) const MAX_READ_FAILURES: usize = 3;

/// Tasks whose failed reads in a row are remembered (the oldest forgotten).
const READ_FAILURES_KEPT: usize = 256;

/// Releases in flight at once: the rest wait
/// their turn, in order (a burst of deliveries beyond the queue never opens
/// more connections than this). Capacity updates and heartbeats go one at a
/// time each, so a worker has at most this many plus two side requests
/// under way, besides the calls of the tasks it holds (one per slot, and
/// a metrics report per task that has tokens).
pub const MAX_SIDE_CALLS: usize = 4;

/// A task accepted, not claimed yet.
pub(super) struct Queued {
    pub(super) task: Box<Task>,
    pub(super) llm_gateway: Option<LlmGateway>,
}

/// The tasks accepted and not claimed, and the releases.
#[derive(Default)]
pub(super) struct Intake {
    /// Accepted, waiting for a slot (unclaimed: `pending` on the server).
    pub(super) queue: VecDeque<Queued>,
    /// Delivered again while their release was on its way: taken in when
    /// its answer comes (a claim before it could be undone by it).
    deferred: Vec<Queued>,
    /// The tasks whose release is under way (at most [`MAX_SIDE_CALLS`]).
    pub(super) releasing: Vec<String>,
    /// Releases waiting for a place, in order.
    pub(super) waiting: VecDeque<(String, HttpRequest)>,
    /// Failed reads before a claim in a row, per task (at most
    /// [`READ_FAILURES_KEPT`], oldest first).
    read_failures: VecDeque<(String, usize)>,
}

impl Intake {
    /// True when `task_id` is queued or deferred.
    pub(super) fn holds(&self, task_id: &str) -> bool {
        self.queue
            .iter()
            .chain(&self.deferred)
            .any(|q| q.task.id == task_id)
    }

    /// A release of `task_id` joins the line; those with a place go.
    pub(super) fn release(&mut self, task_id: String, request: HttpRequest, fx: &mut Vec<Effect>) {
        self.waiting.push_back((task_id, request));
        self.send_waiting(fx);
    }

    /// Sends the waiting releases, in order, while places are free.
    fn send_waiting(&mut self, fx: &mut Vec<Effect>) {
        while self.releasing.len() < MAX_SIDE_CALLS {
            let Some((task_id, request)) = self.waiting.pop_front() else {
                break;
            };
            self.releasing.push(task_id.clone());
            let call = Call::Release { task_id };
            fx.push(Effect::Send { call, request });
        }
    }

    /// A release answered: the next waiting one goes; a delivery of the
    /// task deferred meanwhile is handed back, to take in.
    pub(super) fn released(&mut self, task_id: &str, fx: &mut Vec<Effect>) -> Option<Queued> {
        self.releasing.retain(|id| id != task_id);
        self.send_waiting(fx);
        let i = self.deferred.iter().position(|q| q.task.id == task_id)?;
        Some(self.deferred.remove(i))
    }

    /// Counts a failed read before the claim of a task: its failures in a
    /// row.
    pub(super) fn read_failed(&mut self, task_id: &str) -> usize {
        let failures = match self.read_failures.iter().position(|(id, _)| id == task_id) {
            Some(i) => self
                .read_failures
                .remove(i)
                .map_or(1, |(_, n)| n.saturating_add(1)),
            None => 1,
        };
        if self.read_failures.len() >= READ_FAILURES_KEPT {
            self.read_failures.pop_front();
        }
        self.read_failures.push_back((task_id.to_owned(), failures));
        failures
    }

    /// The queued and deferred tasks, taken out (to be forgotten).
    pub(super) fn forget(&mut self) -> impl Iterator<Item = Queued> {
        let deferred = std::mem::take(&mut self.deferred);
        std::mem::take(&mut self.queue).into_iter().chain(deferred)
    }

    /// Holds a task delivered again while its release is on its way.
    pub(super) fn defer(&mut self, queued: Queued) {
        self.deferred.push(queued);
    }

    /// A read before a claim succeeded: the task's failures are forgotten.
    pub(super) fn read_succeeded(&mut self, task_id: &str) {
        self.read_failures.retain(|(id, _)| id != task_id);
    }
}
