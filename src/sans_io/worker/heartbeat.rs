//! Heartbeats: one at a time, the first at once at a registration (or when
//! a stop begins after a disconnect), the next an interval after the
//! previous one's answer.

use std::time::{Duration, Instant};

use super::{notice, Effect, Level};
use crate::error::Error;

/// The heartbeats' schedule.
#[derive(Debug, Default)]
pub(super) struct Heartbeat {
    /// The next one waits for this time (none in flight).
    at: Option<Instant>,
    in_flight: bool,
}

impl Heartbeat {
    /// Sends one for `worker_id` now.
    pub(super) fn send(&mut self, worker_id: String) -> Effect {
        self.at = None;
        self.in_flight = true;
        Effect::SendHeartbeat { worker_id }
    }

    /// The registration is gone: none is sent or awaited.
    pub(super) fn stop(&mut self) {
        *self = Heartbeat::default();
    }

    /// A stop began: the beats go on, the first at once when a disconnect
    /// had stopped them.
    pub(super) fn resume(&mut self, now: Instant) {
        if self.at.is_none() && !self.in_flight {
            self.at = Some(now);
        }
    }

    /// The answer to a heartbeat of `worker_id` (`current`: the one the
    /// beats go for now): a failure is a notice; the next one goes
    /// `interval` after the answer to the one in flight.
    pub(super) fn on_answer(
        &mut self,
        answer: Result<(), Error>,
        (worker_id, current): (&str, bool),
        now: Instant,
        interval: Duration,
    ) -> Option<Effect> {
        if current && self.in_flight {
            self.in_flight = false;
            self.at = Some(crate::sans_io::duration::after(now, interval));
        }
        let error = answer.err()?;
        let message = format!("a heartbeat of worker {worker_id} failed: {error}");
        Some(notice(Level::Warn, None, message))
    }

    /// Time passed: the heartbeat for `target` (the worker id the beats go
    /// for, if any) when it is due.
    pub(super) fn on_tick(&mut self, now: Instant, target: Option<String>) -> Option<Effect> {
        let due = !self.in_flight && self.at.is_some_and(|at| now >= at);
        Some(self.send(target.filter(|_| due)?))
    }

    /// When [`on_tick`](Self::on_tick) has something to do for `target`.
    pub(super) fn next_wakeup(&self, target: Option<&str>) -> Option<Instant> {
        self.at.filter(|_| !self.in_flight && target.is_some())
    }
}
