//! Stopping: the stream closed, the queue left to the server's dispatch,
//! the grace for running handlers, and [`Effect::Finished`] once every
//! task is settled.

use std::time::Instant;

use super::{
    CancelReason, Effect, Handler, Level, Notes, Phase, StopReason, Stopping, TaskRecord,
    WorkerMachine, SHUTDOWN_MESSAGE,
};
use crate::sans_io::duration::after;

impl WorkerMachine {
    pub(super) fn begin_stop(&mut self, reason: StopReason, now: Instant, fx: &mut Vec<Effect>) {
        if self.stopping.is_some() {
            return;
        }
        // Normalized: the grace is at most the deadline.
        let grace = self.policy.shutdown_grace;
        let deadline = self.policy.shutdown_deadline;
        fx.note(Level::Info, None, format!(
                "stopping: no more tasks taken; {} held (claimed, running or saving) get up to {grace:?} to finish, the final saves the rest of {deadline:?}; {} queued are left to the server's dispatch",
                self.running(),
                self.intake.queue.len()
            ));
        self.stopping = Some(Stopping {
            reason: Some(reason),
            grace_ends: after(now, grace),
            expired: false,
            deadline: after(now, deadline),
            hurry_ends: None,
            unsaved: Vec::new(),
            abandoned: Vec::new(),
        });
        fx.extend(self.link.close());
        // Unregistered, the heartbeats kept (or resumed).
        self.capacity.reset(None);
        self.heartbeat.resume(now);
        self.forget_queue("the worker is stopping", fx);
        // `Finished` comes from the end of the input being handled (every
        // public input ends with `maybe_finish`).
    }

    /// The worker id heartbeats go for: the registration's, and while
    /// stopping the last registration's (kept across a disconnect: a
    /// stop during a reconnect) until every claimed task is saved. The
    /// heartbeats go on (same schedule) through the drain: a worker silent
    /// mid-drain invites the server to hand its tasks to another worker.
    pub(super) fn heartbeat_target(&self) -> Option<&str> {
        if self.is_registered() {
            return self.link.worker_id();
        }
        let claimed = self.tasks.iter().any(TaskRecord::is_claimed);
        self.link
            .last_worker_id()
            .filter(|_| self.stopping.is_some() && claimed)
    }

    /// True after a second shutdown request.
    pub(super) fn hurrying(&self) -> bool {
        self.stopping
            .as_ref()
            .is_some_and(|s| s.hurry_ends.is_some())
    }

    /// A second shutdown request: the drain ends now. Running handlers are
    /// cancelled and their tasks saved `error` at once (one attempt, no
    /// reload); tasks not started are set back to `pending`; a final save
    /// waiting for its next attempt is sent now. The worker waits for
    /// these last calls at most
    /// [`WorkerPolicy::last_calls`](super::WorkerPolicy::last_calls) (and
    /// never past the deadline), then finishes, naming what it could not
    /// save.
    pub(super) fn hurry(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let Some(stopping) = &mut self.stopping else {
            return;
        };
        if stopping.hurry_ends.is_some() {
            return;
        }
        let last_calls = self.policy.last_calls;
        let ends = after(now, last_calls).min(stopping.deadline);
        stopping.hurry_ends = Some(ends);
        fx.note(Level::Warn, None, format!(
                "asked again to shut down: the drain ends now (handlers cancelled, tasks not started set back to `pending`, last saves tried once, within {last_calls:?})"
            ));
        if !self.stopping.as_ref().is_some_and(|s| s.expired) {
            self.expire_grace(now, fx);
        }
        for index in 0..self.tasks.len() {
            if self.tasks.get_mut(index).is_some_and(|r| r.retry_due(None)) {
                self.send_final_save(index, fx);
            }
        }
    }

    /// Sets a claimed task that never ran back to `pending` (a second
    /// shutdown request): best effort, named unsaved unless it lands.
    pub(super) fn release_unstarted(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        record.drop_slot();
        let id = record.id.clone();
        if let Some(stopping) = &mut self.stopping {
            stopping.unsaved.push(id.clone());
        }
        self.release(
            &id,
            "released by the worker: it shut down before the task started; back to `pending` for another worker",
            fx,
        );
    }

    /// A task the worker gave up on while stopping, for the exit's report.
    pub(super) fn note_unsaved(&mut self, task_id: &str, saved: bool) {
        if let Some(stopping) = &mut self.stopping {
            stopping.unsaved.retain(|id| id != task_id);
            if !saved {
                stopping.unsaved.push(task_id.to_owned());
            }
        }
    }

    /// The connection the queued tasks came on ended (or is being closed):
    /// they were never claimed, so the server's dispatch hands them to
    /// another connection (this one's next, or another worker's). The
    /// worker forgets them, and sends nothing: setting them back to
    /// `pending` as well could have them dispatched twice (to the worker
    /// the server already gave them to, and once more), and keeping them
    /// would run them twice (here, and where the server sent them again).
    pub(super) fn forget_queue(&mut self, why: &str, fx: &mut Vec<Effect>) {
        for queued in self.intake.forget() {
            fx.note(Level::Info, Some(&queued.task.id), format!(
                    "{why} before the task was claimed: it is left to the server's dispatch (unclaimed, still `pending`)"
                ));
        }
    }

    /// The grace is over: running handlers are cancelled, their tasks
    /// saved as `error`.
    pub(super) fn expire_grace(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if let Some(stopping) = &mut self.stopping {
            stopping.expired = true;
        }
        for index in 0..self.tasks.len() {
            self.cancel(
                index,
                CancelReason::Shutdown,
                SHUTDOWN_MESSAGE.to_owned(),
                now,
                fx,
            );
        }
    }

    /// Aborts the cancelled handlers that did not return within
    /// [`WorkerPolicy::abort_grace`](super::WorkerPolicy::abort_grace).
    pub(super) fn abort_overdue(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let grace = self.policy.abort_grace;
        let mut freed = false;
        for record in &mut self.tasks {
            let [_, _, abort_at] = record.timers();
            if abort_at.is_none_or(|at| now < at) {
                continue;
            }
            record.handler = Handler::Returned;
            record.holds_slot = false;
            record.abort_at = None;
            freed = true;
            fx.push(Effect::AbortHandler {
                task_id: record.id.clone(),
            });
            fx.note(Level::Warn, Some(&record.id), format!(
                    "the handler ignored its cancellation for {grace:?}: aborted (a blocking one cannot be: its thread goes on, detached); its task was saved as `error`"
                ));
            if let Some(stopping) = &mut self.stopping {
                stopping.abandoned.push(record.id.clone());
            }
        }
        if freed {
            self.refill(fx);
        }
    }

    /// The shutdown deadline, or the end of the last calls after a second
    /// request: the worker finishes now, whatever is left.
    pub(super) fn finish_if_due(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let due = self
            .stopping
            .as_ref()
            .is_some_and(|s| now >= s.deadline || s.hurry_ends.is_some_and(|at| now >= at));
        if due && !self.finished {
            self.finish(fx);
        }
    }

    /// Gives [`Effect::Finished`] with what is left: the handlers still
    /// running (abandoned) and the tasks not saved.
    fn finish(&mut self, fx: &mut Vec<Effect>) {
        let Some(stopping) = &mut self.stopping else {
            return;
        };
        let Some(reason) = stopping.reason.take() else {
            return;
        };
        self.finished = true;
        let mut abandoned = std::mem::take(&mut stopping.abandoned);
        let mut unsaved = std::mem::take(&mut stopping.unsaved);
        for record in &self.tasks {
            if record.holds_slot
                && record.handler != Handler::NotStarted
                && !abandoned.contains(&record.id)
            {
                abandoned.push(record.id.clone());
            }
            if record.is_claimed() && !unsaved.contains(&record.id) {
                unsaved.push(record.id.clone());
            }
        }
        if !unsaved.is_empty() {
            fx.note(Level::Error, None, format!(
                    "the worker stops without saving the final status of {} task(s): {}; the server keeps their last saved status",
                    unsaved.len(),
                    unsaved.join(", ")
                ));
        }
        fx.push(Effect::Finished {
            reason,
            abandoned,
            unsaved,
        });
    }

    /// Forgets the tasks that are settled and hold no slot.
    fn sweep(&mut self) {
        self.tasks
            .retain(|r| r.phase != Phase::Done || r.holds_slot);
    }

    /// Gives [`Effect::Finished`] once a stop is under way and every task
    /// and call is settled.
    pub(super) fn maybe_finish(&mut self, fx: &mut Vec<Effect>) {
        self.sweep();
        if self.finished
            || self.in_flight() > 0
            || !self.intake.releasing.is_empty()
            || !self.intake.waiting.is_empty()
        {
            return;
        }
        if self.stopping.is_some() {
            self.finish(fx);
        }
    }
}
