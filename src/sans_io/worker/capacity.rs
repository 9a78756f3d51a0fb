//! Capacity: `is_busy` as decided, what the server acknowledged of it, and
//! its updates (one at a time, in order, a failed one sent again later).

use std::time::{Duration, Instant};

use super::effects::{notice, Effect, Level};
use crate::error::Error;

/// The capacity as decided and as the server knows it.
#[derive(Debug, Default)]
pub(super) struct Capacity {
    /// The value now, and the number of its latest change.
    pub(super) busy: bool,
    pub(super) seq: u64,
    /// What the server acknowledged for the current worker id (`None`:
    /// unknown, after a failed update).
    server: Option<bool>,
    /// The update being sent.
    in_flight: bool,
    /// When a failed update is sent again.
    retry_at: Option<Instant>,
}

impl Capacity {
    /// An update is on its way: the next waits for its answer.
    pub(super) fn sending(&mut self) {
        self.in_flight = true;
    }

    /// The value is now `busy`: a change takes the next number.
    pub(super) fn set(&mut self, busy: bool) {
        if busy != self.busy {
            self.busy = busy;
            self.seq = self.seq.saturating_add(1);
        }
    }

    /// The update to send now (its number and value): none while one is
    /// under way or waits to be sent again, or when the server has it.
    pub(super) fn due(&self) -> Option<(u64, bool)> {
        let due = !self.in_flight && self.retry_at.is_none() && self.server != Some(self.busy);
        due.then_some((self.seq, self.busy))
    }

    /// A registration (`server`: its view of the new worker id) or its end
    /// (`None`: nothing known): nothing is retried.
    pub(super) fn reset(&mut self, server: Option<bool>) {
        self.server = server;
        self.retry_at = None;
    }

    /// The answer to update `seq` (`busy`), sent for the current worker id
    /// when `current`. A failure is a notice, and sent again `retry` later.
    pub(super) fn on_answer(
        &mut self,
        answer: Result<(), Error>,
        (seq, busy, current): (u64, bool, bool),
        now: Instant,
        retry: Duration,
    ) -> Option<Effect> {
        self.in_flight = false;
        match answer {
            Ok(()) if current => self.server = Some(busy),
            Ok(()) => {}
            Err(error) => {
                if current {
                    self.server = None;
                    self.retry_at = Some(crate::sans_io::duration::after(now, retry));
                }
                let message = format!(
                    "capacity update #{seq} (is_busy: {busy}) failed: {error}; sent again in {retry:?}"
                );
                return Some(notice(Level::Warn, None, message));
            }
        }
        None
    }

    /// Time passed: true when a failed update is to be sent again now.
    pub(super) fn on_tick(&mut self, now: Instant) -> bool {
        let due = self.retry_at.is_some_and(|at| now >= at);
        if due {
            self.retry_at = None;
        }
        due
    }

    /// When [`on_tick`](Self::on_tick) has something to do.
    pub(super) fn next_wakeup(&self) -> Option<Instant> {
        self.retry_at
    }
}
