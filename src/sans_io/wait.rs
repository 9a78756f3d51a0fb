//! Waiting for a task's final status, sans-IO: when to follow the task's
//! event stream, when to poll it with `get`, and when to stop.
//!
//! A [`Waiter`] decides; the transport (the blocking or the async face, or
//! your own HTTP client) gets the task, follows the stream and sleeps for
//! the delays decided here. It never reads the clock: every decision takes
//! the time as an [`Instant`].
//!
//! 1. Get the task (or use one just got) and hand it to
//!    [`Waiter::on_task`]; a failed get goes to [`Waiter::on_error`].
//! 2. Do what the [`WaitStep`] says:
//!    - [`WaitStep::Done`]: the task reached a final status; return it.
//!    - [`WaitStep::PollAfter`]: sleep that long (never past the deadline),
//!      then get the task again (step 1).
//!    - [`WaitStep::FollowEvents`]: follow the task's event stream with an
//!      [`EventSession`](super::stream::EventSession) on
//!      [`Waiter::stream_policy`], at most until the instant given. Hand
//!      each event to [`Waiter::on_event`]; a step it answers ends the
//!      stream. When the stream ends without one (or the instant is
//!      reached), [`Waiter::on_stream_end`] says what comes next.
//!    - [`WaitStep::TimedOut`] or [`WaitStep::Failed`]: return the error.
//!
//! The stream is followed only for a task that streams its events
//! (`events_streaming`), and only until it fails once: a stream that gives
//! up, or ends without `task_finished`, makes the rest of the wait poll
//! `get`, with exponential backoff and jitter. A stream that stays healthy
//! is still left every [`WaitPolicy::recheck_every`] for one `get`: that
//! catches a task that finished just before the stream was opened (a
//! server need not replay `task_finished` to a late subscriber).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use xpander_sdk::sans_io::wait::{WaitPolicy, WaitStep, Waiter};
//! use xpander_sdk::model::Task;
//!
//! let task = |status: &str| -> Task {
//!     serde_json::from_value(serde_json::json!({
//!         "id": "task-1", "agent_id": "a", "organization_id": "o",
//!         "input": {"text": "hi"}, "created_at": "2025-06-01T12:00:00Z",
//!         "status": status,
//!     }))
//!     .unwrap()
//! };
//! let t0 = Instant::now();
//! let policy = WaitPolicy::default()
//!     .timeout(Duration::from_secs(60))
//!     .jitter(false);
//! let mut waiter = Waiter::new(policy, t0);
//!
//! // The task does not stream its events: poll, backing off.
//! assert_eq!(
//!     waiter.on_task(task("executing"), t0),
//!     WaitStep::PollAfter(Duration::from_millis(500))
//! );
//! let t1 = t0 + Duration::from_millis(500);
//! assert_eq!(waiter.on_task(task("executing"), t1), WaitStep::PollAfter(Duration::from_secs(1)));
//! match waiter.on_task(task("completed"), t1 + Duration::from_secs(1)) {
//!     WaitStep::Done(task) => assert!(task.is_finished()),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::time::{Duration, Instant};

use super::duration::{clamp, clamp_floor};
use super::retry::{Backoff, Jitter};
use super::stream::StreamPolicy;
use crate::error::{Error, ErrorClass};
use crate::model::{AgentExecutionStatus, Task, TaskEvent};

/// How a [`Waiter`] waits.
///
/// Plain data: build it with [`WaitPolicy::default`] and its
/// setters.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::sans_io::wait::WaitPolicy;
///
/// let policy = WaitPolicy::default()
///     .timeout(Duration::from_secs(30))
///     .poll(Duration::from_millis(200), Duration::from_secs(2));
/// assert_eq!(policy.backoff_factor, 2.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// The longest the whole wait may take: after it, the wait ends with
    /// [`Error::Timeout`]. Default: 10 minutes.
    pub timeout: Duration,
    /// The delay before the first poll. Default: 500 ms.
    pub poll_initial: Duration,
    /// The longest delay between two polls. Default: 10 s.
    pub poll_max: Duration,
    /// What each poll delay is multiplied by (a value below 1, or not a
    /// number, counts as 1). Default: 2.
    pub backoff_factor: f64,
    /// Whether each poll delay is drawn between half of it and all of it.
    /// Default: true.
    pub jitter: bool,
    /// Whether a task that streams its events is followed on its stream
    /// (true) or polled like any other (false). Default: true.
    pub follow_events: bool,
    /// The longest a stream is followed before one `get` checks the task
    /// (then the stream is followed again); held between [`MIN_RECHECK`]
    /// and [`MAX_RECHECK`]. Default: 60 s.
    pub recheck_every: Duration,
    /// How the stream is followed. Default: [`StreamPolicy::default`] with
    /// 2 reconnects (polling takes over after that).
    pub stream: StreamPolicy,
}

impl Default for WaitPolicy {
    fn default() -> WaitPolicy {
        WaitPolicy {
            timeout: Duration::from_secs(600),
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            backoff_factor: 2.0,
            jitter: true,
            follow_events: true,
            recheck_every: Duration::from_secs(60),
            stream: StreamPolicy::default().max_reconnects(2),
        }
    }
}

impl WaitPolicy {
    crate::params::setters! {
        fields {
            timeout: Duration,
            backoff_factor: f64,
            jitter: bool,
            follow_events: bool,
            recheck_every: Duration,
            stream: StreamPolicy,
        }
    }
}

impl WaitPolicy {
    /// Sets [`poll_initial`](Self::poll_initial) and
    /// [`poll_max`](Self::poll_max).
    #[must_use]
    pub fn poll(mut self, initial: Duration, max: Duration) -> WaitPolicy {
        self.poll_initial = initial;
        self.poll_max = max;
        self
    }
}

/// The shortest poll delay a wait uses ([`WaitPolicy::poll_initial`] below
/// it counts as this): a zero one would poll in a tight loop.
pub const MIN_POLL_DELAY: Duration = Duration::from_millis(10);

/// The shortest time a stream is followed between two rechecks (a smaller
/// [`WaitPolicy::recheck_every`] counts as this): a recheck is a `get` and a
/// new connection, never a busy loop.
pub const MIN_RECHECK: Duration = Duration::from_secs(1);

/// The longest time a stream is followed between two rechecks (a larger
/// [`WaitPolicy::recheck_every`] counts as this).
pub const MAX_RECHECK: Duration = Duration::from_secs(24 * 60 * 60);

/// What to do next, as a [`Waiter`] decides.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitStep {
    /// The task reached a final status: the wait is over.
    Done(Box<Task>),
    /// Sleep this long, then get the task and hand it to
    /// [`Waiter::on_task`]. Never past the deadline; zero means at once.
    PollAfter(Duration),
    /// Follow the task's event stream, at most until this instant (the
    /// deadline or the next recheck), handing each event to
    /// [`Waiter::on_event`], then call [`Waiter::on_stream_end`].
    FollowEvents {
        /// When to leave the stream at the latest.
        until: Instant,
    },
    /// The deadline passed: return this [`Error::Timeout`].
    TimedOut(Error),
    /// Getting the task failed in a way waiting cannot get past (a 404, a
    /// 401, ...): return this error.
    Failed(Error),
}

impl PartialEq for WaitStep {
    /// Steps compare by kind, delay and instant; tasks by value; errors by
    /// their text.
    fn eq(&self, other: &WaitStep) -> bool {
        match (self, other) {
            (WaitStep::Done(a), WaitStep::Done(b)) => a == b,
            (WaitStep::PollAfter(a), WaitStep::PollAfter(b)) => a == b,
            (WaitStep::FollowEvents { until: a }, WaitStep::FollowEvents { until: b }) => a == b,
            (WaitStep::TimedOut(a), WaitStep::TimedOut(b))
            | (WaitStep::Failed(a), WaitStep::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// How a followed stream ended without a [`WaitStep`] from
/// [`Waiter::on_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamEnd {
    /// The transport left it at the `until` of [`WaitStep::FollowEvents`]:
    /// it was healthy and will be followed again after one `get`.
    Cut,
    /// The session ended without `task_finished` (a 204, say).
    Closed,
    /// The session gave up with this error.
    GaveUp(Error),
}

/// Waits for one task's final status. See the [module documentation](self).
#[derive(Debug)]
pub struct Waiter {
    policy: WaitPolicy,
    started: Instant,
    deadline: Option<Instant>,
    task_id: String,
    last_status: Option<AgentExecutionStatus>,
    /// The stream failed once: poll from now on.
    stream_failed: bool,
    /// The poll delays (polls made in a row are its count).
    backoff: Backoff,
}

impl Waiter {
    /// A wait that starts at `now` and ends at `now +`
    /// [`WaitPolicy::timeout`] at the latest.
    pub fn new(mut policy: WaitPolicy, now: Instant) -> Waiter {
        // A poll never comes back at once (a zero delay would be a flood
        // of `get`s); a timeout too long for the clock is no deadline.
        policy.poll_initial = clamp_floor(policy.poll_initial, MIN_POLL_DELAY);
        policy.poll_max = clamp(policy.poll_max).max(policy.poll_initial);
        policy.recheck_every = clamp(policy.recheck_every);
        let jitter = policy.jitter.then_some(Jitter::Equal);
        let backoff = Backoff::new(policy.poll_initial, policy.poll_max, jitter)
            .factor(policy.backoff_factor);
        Waiter {
            deadline: now.checked_add(policy.timeout),
            policy,
            started: now,
            task_id: String::new(),
            last_status: None,
            stream_failed: false,
            backoff,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &WaitPolicy {
        &self.policy
    }

    /// When the wait ends at the latest; `None` when the timeout is too
    /// large to be a point in time (no deadline).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline (zero once past it;
    /// [`Duration::MAX`] without a deadline). A transport bounds every
    /// blocking read by it.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(now)
        })
    }

    /// The policy to follow the stream with: [`WaitPolicy::stream`], ending
    /// at `task_finished`.
    pub fn stream_policy(&self) -> StreamPolicy {
        self.policy.stream.clone().stop_at_finish(true)
    }

    /// The last status seen, from a task or an event.
    pub fn last_status(&self) -> Option<&AgentExecutionStatus> {
        self.last_status.as_ref()
    }

    /// A task was got: done when its status is final, else what to do next.
    pub fn on_task(&mut self, task: Task, now: Instant) -> WaitStep {
        self.task_id.clone_from(&task.id);
        self.last_status.clone_from(&task.status);
        if task.is_finished() {
            return WaitStep::Done(Box::new(task));
        }
        if self.past_deadline(now) {
            return self.timed_out(now);
        }
        if self.policy.follow_events && task.events_streaming && !self.stream_failed {
            self.backoff.reset();
            let follow_for = self
                .policy
                .recheck_every
                .clamp(MIN_RECHECK, MAX_RECHECK)
                .min(self.remaining(now));
            let until = crate::sans_io::duration::after(now, follow_for);
            return WaitStep::FollowEvents { until };
        }
        WaitStep::PollAfter(self.poll_delay(now))
    }

    /// Getting the task failed (after the transport's own retries). A
    /// passing failure (a transport error, 429, 502, 503, 504) is polled
    /// again before the deadline; any other ends the wait.
    pub fn on_error(&mut self, error: Error, now: Instant) -> WaitStep {
        if !matches!(
            error.class(),
            ErrorClass::Transient | ErrorClass::Throttling
        ) {
            return WaitStep::Failed(error);
        }
        if self.past_deadline(now) {
            return self.timed_out(now);
        }
        WaitStep::PollAfter(self.poll_delay(now))
    }

    /// An event of the followed stream. `Some` ends the stream with that
    /// step: [`WaitStep::Done`] with the final task it carries, an
    /// immediate poll for a `task_finished` without a final task, or
    /// [`WaitStep::TimedOut`] past the deadline. `None`: read on.
    pub fn on_event(&mut self, event: TaskEvent, now: Instant) -> Option<WaitStep> {
        let finished = event.is_finished();
        if let crate::model::EventPayload::Task(task) = event.payload {
            if !task.id.is_empty() {
                self.task_id.clone_from(&task.id);
            }
            self.last_status.clone_from(&task.status);
            if task.is_finished() {
                return Some(WaitStep::Done(task));
            }
        }
        if finished {
            // The task finished but the event's payload does not say how:
            // get it.
            self.backoff.reset();
            return Some(WaitStep::PollAfter(Duration::ZERO));
        }
        if self.past_deadline(now) {
            return Some(self.timed_out(now));
        }
        None
    }

    /// The followed stream ended without a step from
    /// [`on_event`](Self::on_event). Past the deadline the wait is over;
    /// otherwise the task is got at once (and after a failed stream,
    /// polled from then on).
    pub fn on_stream_end(&mut self, end: StreamEnd, now: Instant) -> WaitStep {
        if !matches!(end, StreamEnd::Cut) {
            self.stream_failed = true;
        }
        if self.past_deadline(now) {
            return self.timed_out(now);
        }
        self.backoff.reset();
        WaitStep::PollAfter(Duration::ZERO)
    }

    fn past_deadline(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }

    fn timed_out(&self, now: Instant) -> WaitStep {
        WaitStep::TimedOut(Error::Timeout {
            task_id: self.task_id.clone(),
            waited: now.saturating_duration_since(self.started),
            last_status: self.last_status.clone(),
        })
    }

    /// The next poll delay: exponential from the initial delay up to the
    /// maximum, jittered, and never past the deadline.
    fn poll_delay(&mut self, now: Instant) -> Duration {
        self.backoff.next().min(self.remaining(now))
    }
}

#[cfg(test)]
mod tests;
