//! [`WorkerPolicy`]: how a [`WorkerMachine`](super::WorkerMachine) takes tasks, keeps in
//! touch and stops.

use std::time::Duration;

use crate::sans_io::duration::{clamp, clamp_floor};
use crate::sans_io::stream::StreamPolicy;

/// The part of [`WorkerPolicy::shutdown_deadline`] the final saves keep at
/// least (a fifth of a deadline shorter than 20 s): a longer
/// [`WorkerPolicy::shutdown_grace`] is cut.
pub const SAVE_RESERVE: Duration = Duration::from_secs(4);

/// The shortest [`WorkerPolicy::heartbeat_interval`] the worker uses.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);

/// How a [`WorkerMachine`](super::WorkerMachine) takes tasks, keeps in touch and stops.
///
/// Plain data: build it with [`WorkerPolicy::default`] and its
/// setters.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::sans_io::worker::WorkerPolicy;
///
/// let policy = WorkerPolicy::default()
///     .concurrency(2)
///     .task_timeout(Some(Duration::from_secs(600)));
/// assert_eq!(policy.queue_capacity, 32);
/// assert_eq!(policy.shutdown_grace, Duration::from_secs(25));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerPolicy {
    /// Tasks the worker holds at once (the slots): a task takes a slot from
    /// its claim until its final status is saved or the save is given up, so
    /// a worker that dies leaves at most this many tasks `executing` (besides
    /// any whose final save it gave up, each an error notice). At least 1.
    /// Default: 6, the official runtime's.
    pub concurrency: usize,
    /// Tasks accepted beyond the slots, waiting for one (unclaimed: they
    /// stay `pending` on the server); more are released back to `pending`.
    /// Default: 32, a few slots' worth: a task waits in one worker's queue
    /// only while no other worker could take it sooner, and a server that
    /// bounds what it sends a worker and leaves unclaimed (the emulator's
    /// dispatch window, 32 by default) never makes it release one. Against
    /// a server that pushes a whole backlog at once, a larger queue trades
    /// memory (a task takes a few kB) for fewer releases.
    pub queue_capacity: usize,
    /// The time between a heartbeat's answer and the next heartbeat; also
    /// the wait before a failed capacity update is sent again. Default: 2 s;
    /// at least [`MIN_HEARTBEAT_INTERVAL`] (a zero would be a flood).
    pub heartbeat_interval: Duration,
    /// The longest a handler may run; then it is cancelled and the task
    /// saved as `error` ("timeout"). `None`: no deadline. Default: one
    /// hour, long enough for deep agent runs, short enough that a stuck
    /// handler does not hold a slot and an `executing` task forever.
    pub task_timeout: Option<Duration>,
    /// On shutdown, how long running handlers get to finish before they
    /// are cancelled: the first part of
    /// [`shutdown_deadline`](Self::shutdown_deadline), which stays the hard
    /// limit (raise both for longer handlers). A grace that would leave the
    /// final saves less than [`SAVE_RESERVE`] (or a fifth of a short
    /// deadline) is cut. Default: 25 s.
    pub shutdown_grace: Duration,
    /// From the first shutdown request, the longest the drain takes:
    /// handlers get [`shutdown_grace`](Self::shutdown_grace) of it, the
    /// final saves the rest; at the deadline the worker exits (its handlers
    /// and requests aborted) and its `Exit` (`runtime::Exit`) names
    /// every task it could not save. Default: 29 s: 25 s for the handlers,
    /// 4 s reserved for the final saves, 1 s left for the shutdown hooks
    /// within Kubernetes' default 30 s termination grace period.
    pub shutdown_deadline: Duration,
    /// How long a cancelled handler (past its deadline, or at the end of
    /// the shutdown grace) gets to return before the runtime aborts it
    /// (its task is saved as `error`; the slot is free once the handler is
    /// gone and that save is done).
    /// A blocking handler cannot be aborted: its thread goes on detached.
    /// Default: 2 s.
    pub abort_grace: Duration,
    /// After a second shutdown request (the drain cut short), how long the
    /// worker waits for its last calls: the releases of the tasks not
    /// started, the final saves tried once. Within the deadline. Default:
    /// 2 s.
    pub last_calls: Duration,
    /// The agent stream's reading and reconnection rules. The worker always
    /// makes it [`persistent`](StreamPolicy::persistent). Default:
    /// [`StreamPolicy::default`] with a 1 s first delay, a 30 s cap and a
    /// 120 s idle timeout (set it to 2–3 times the server's keep-alive
    /// interval; a stream that is merely quiet then reconnects, which costs
    /// a re-registration and nothing else).
    pub stream: StreamPolicy,
    /// Failed connections in a row after which an idle worker (no task in
    /// flight) stops with the last failure. `None`: never. With tasks in
    /// flight the worker never gives up. Default: `None`.
    pub max_idle_reconnects: Option<u32>,
    /// Attempts of a task's final save, the first included, before the
    /// worker gives up on it (loudly). A 4xx other than 429 is not tried
    /// again. At least 1. Default: 5.
    pub save_attempts: u32,
    /// The delay before the second attempt of a final save, doubled for
    /// each further one (with equal jitter). Default: 1 s.
    pub save_initial_delay: Duration,
    /// The longest delay between two attempts of a final save. Default: 15 s.
    pub save_max_delay: Duration,
}

impl Default for WorkerPolicy {
    fn default() -> WorkerPolicy {
        WorkerPolicy {
            concurrency: 6,
            queue_capacity: 32,
            heartbeat_interval: Duration::from_secs(2),
            task_timeout: Some(Duration::from_secs(3600)),
            shutdown_grace: Duration::from_secs(25),
            shutdown_deadline: Duration::from_secs(29),
            abort_grace: Duration::from_secs(2),
            last_calls: Duration::from_secs(2),
            stream: StreamPolicy::default()
                .initial_delay(Duration::from_secs(1))
                .max_delay(Duration::from_secs(30))
                .idle_timeout(Duration::from_secs(120))
                .persistent(true),
            max_idle_reconnects: None,
            save_attempts: 5,
            save_initial_delay: Duration::from_secs(1),
            save_max_delay: Duration::from_secs(15),
        }
    }
}

impl WorkerPolicy {
    crate::params::setters! {
        fields {
        concurrency: usize => |n: usize| n.max(1),
        queue_capacity: usize,
        heartbeat_interval: Duration,
        task_timeout: Option<Duration>,
        shutdown_grace: Duration,
        shutdown_deadline: Duration,
        abort_grace: Duration,
        last_calls: Duration,
        stream: StreamPolicy => |s: StreamPolicy| s.persistent(true),
        max_idle_reconnects: Option<u32>,
        }
    }

    /// Sets [`save_attempts`](Self::save_attempts) (at least 1) and the
    /// delays between them.
    #[must_use]
    pub fn save_retries(
        mut self,
        attempts: u32,
        initial_delay: Duration,
        max_delay: Duration,
    ) -> WorkerPolicy {
        self.save_attempts = attempts.max(1);
        self.save_initial_delay = initial_delay;
        self.save_max_delay = max_delay.max(initial_delay);
        self
    }

    /// The policy as the worker uses it: every duration within what the
    /// clock can hold ([`clamp`]), the heartbeat at least
    /// [`MIN_HEARTBEAT_INTERVAL`], the grace within the deadline less the
    /// saves' reserve, counts at least 1.
    pub(crate) fn normalized(mut self) -> WorkerPolicy {
        self.concurrency = self.concurrency.max(1);
        self.save_attempts = self.save_attempts.max(1);
        self.heartbeat_interval = clamp_floor(self.heartbeat_interval, MIN_HEARTBEAT_INTERVAL);
        self.task_timeout = self.task_timeout.map(clamp);
        self.shutdown_deadline = clamp(self.shutdown_deadline);
        // The final saves keep a part of the deadline: 4 s, or a fifth of a
        // deadline shorter than 20 s.
        let reserve = SAVE_RESERVE.min(self.shutdown_deadline.checked_div(5).unwrap_or_default());
        self.shutdown_grace =
            clamp(self.shutdown_grace).min(self.shutdown_deadline.saturating_sub(reserve));
        self.abort_grace = clamp(self.abort_grace);
        self.last_calls = clamp(self.last_calls);
        // A zero first delay would retry a failed save back to back.
        self.save_initial_delay = clamp_floor(
            self.save_initial_delay,
            crate::sans_io::duration::MIN_RECONNECT_DELAY,
        );
        self.save_max_delay = clamp(self.save_max_delay).max(self.save_initial_delay);
        self.stream = crate::sans_io::duration::clamp_stream(self.stream).persistent(true);
        self
    }
}

#[cfg(test)]
mod floor_tests {
    use std::time::Duration;

    use super::WorkerPolicy;

    #[test]
    fn a_zero_first_save_delay_is_floored() {
        let policy = WorkerPolicy {
            save_initial_delay: Duration::ZERO,
            ..WorkerPolicy::default()
        }
        .normalized();
        assert!(policy.save_initial_delay >= crate::sans_io::duration::MIN_RECONNECT_DELAY);
        assert!(policy.save_max_delay >= policy.save_initial_delay);
    }
}
