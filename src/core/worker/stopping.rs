//! Stopping: the stream closed, the queue left to the server's dispatch,
//! the grace for running handlers, and [`Effect::Finished`] once every
//! task is settled.

use std::time::Instant;

use super::{
    notice, CancelReason, Effect, Level, Link, Phase, StopReason, Stopping, Worker,
    SHUTDOWN_MESSAGE,
};

impl Worker {
    pub(super) fn begin_stop(&mut self, reason: StopReason, now: Instant, fx: &mut Vec<Effect>) {
        if self.stopping.is_some() {
            return;
        }
        let grace = self.policy.shutdown_grace;
        fx.push(notice(
            Level::Info,
            None,
            format!(
                "stopping: no more tasks taken; {} running get up to {grace:?} to finish; {} queued are left to the server's dispatch",
                self.running(),
                self.queue.len()
            ),
        ));
        self.stopping = Some(Stopping {
            reason: Some(reason),
            grace_ends: now.checked_add(grace).unwrap_or(now),
            expired: false,
        });
        if matches!(self.link, Link::Open | Link::Connecting) {
            fx.push(Effect::CloseStream);
        }
        self.link = Link::Closed;
        self.unregister();
        self.forget_queue("the worker is stopping", fx);
        // `Finished` comes from the end of the input being handled (every
        // public input ends with `maybe_finish`).
    }

    /// The connection the queued tasks came on ended (or is being closed):
    /// they were never claimed, so the server's dispatch hands them to
    /// another connection (this one's next, or another worker's). The
    /// worker forgets them, and sends nothing: setting them back to
    /// `pending` as well could have them dispatched twice (to the worker
    /// the server already gave them to, and once more), and keeping them
    /// would run them twice (here, and where the server sent them again).
    pub(super) fn forget_queue(&mut self, why: &str, fx: &mut Vec<Effect>) {
        let deferred = std::mem::take(&mut self.deferred);
        for queued in std::mem::take(&mut self.queue).into_iter().chain(deferred) {
            fx.push(notice(
                Level::Info,
                Some(&queued.task.id),
                format!(
                    "{why} before the task was claimed: it is left to the server's dispatch (unclaimed, still `pending`)"
                ),
            ));
        }
    }

    /// The grace is over: running handlers are cancelled, their tasks
    /// saved as `error`.
    pub(super) fn expire_grace(&mut self, fx: &mut Vec<Effect>) {
        if let Some(stopping) = &mut self.stopping {
            stopping.expired = true;
        }
        for index in 0..self.tasks.len() {
            self.cancel(
                index,
                CancelReason::Shutdown,
                SHUTDOWN_MESSAGE.to_owned(),
                fx,
            );
        }
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
            || !self.side_calls.is_empty()
            || !self.side_waiting.is_empty()
        {
            return;
        }
        let Some(stopping) = &mut self.stopping else {
            return;
        };
        let Some(reason) = stopping.reason.take() else {
            return;
        };
        self.finished = true;
        let abandoned = self
            .tasks
            .iter()
            .filter(|r| r.holds_slot)
            .map(|r| r.id.clone())
            .collect();
        fx.push(Effect::Finished { reason, abandoned });
    }
}
