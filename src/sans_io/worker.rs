//! The agent worker as a sans-IO state machine: the agent stream, the
//! worker events (heartbeats, capacity), and each task's life from intake to
//! its final save and metrics.
//!
//! A [`WorkerMachine`] takes every decision and does nothing: it never reads the
//! clock (the time comes in as an [`Instant`]), sleeps, spawns or opens a
//! connection. A runtime drives it: it hands each input to the worker, then
//! carries out the [`Effect`]s the worker answers (send a request, open or
//! close the stream, start or cancel a handler, log a [`Notice`]), and
//! sleeps until the next input or [`WorkerMachine::next_wakeup`]:
//!
//! ```text
//! let requests = WorkerRequests::new(config, agent_id, environment)?;
//! let mut worker = WorkerMachine::new(requests, WorkerPolicy::default());
//! run the boot hooks;                          // before anything is opened
//! let mut effects = worker.start();
//! loop {
//!     for effect in effects {
//!         match effect {
//!             OpenStream(request)   => connect (connect timeout), then
//!                                      worker.on_stream_open(status, content_type, now)
//!             ReadStream            => read chunks: worker.on_stream_bytes(chunk, now);
//!                                      no byte for stream_policy().idle_timeout, the end,
//!                                      or an error: worker.on_stream_end(why, now)
//!             ReadStreamError       => read the error body: on_stream_end(Disconnect::Error(api))
//!             CloseStream           => drop the connection
//!             Send { call, request }=> send it; worker.on_response(call, answer, now)
//!             SendHeartbeat { id }  => send worker.heartbeat_request(&id, SystemTime::now());
//!                                      worker.on_response(Call::Heartbeat { .. }, answer, now)
//!             StartHandler(start)   => run the handler (blocking ones off the async threads)
//!                                      with a context: attempt, deadline, cancellation token,
//!                                      llm_gateway; when it ends:
//!                                      worker.on_handler_done(&task_id, outcome)
//!             CancelHandler { .. }  => trigger that handler's cancellation token
//!             Notice(notice)        => log it
//!             Finished { .. }       => leave the loop
//!         }
//!     }
//!     effects = wait for the first of: an input above, SIGTERM / Ctrl-C
//!               (worker.begin_shutdown(now)), or worker.next_wakeup()
//!               (worker.on_tick(now));
//! }
//! run the shutdown hooks (always, whatever the stop reason);
//! ```
//!
//! # What it decides, and why
//!
//! The official runtime's weaknesses (`SPEC-runtime.md` §10) are the
//! requirements here; each rule below is tested in `worker/tests.rs`.
//!
//! - **Intake.** [`WorkerPolicy::concurrency`] slots (default 6), and a
//!   small queue ([`WorkerPolicy::queue_capacity`], default 32) for the
//!   tasks the server sends before it sees the worker busy, as Temporal
//!   bounds its task slots and a broker's consumer bounds its prefetch: a
//!   worker holds no more than it can start soon, and the rest of a
//!   backlog stays with the server for the other workers. The stream
//!   is read all the time (never blocked on a slot, unlike the official
//!   runtime, whose stalled reader also stalls re-registration). A task is
//!   *accepted* when it takes a slot or a queue place. A task beyond the
//!   queue is *released*: the worker sets it back to `pending` with a
//!   message in `result` (a partial update), for the server to dispatch it
//!   again. Whether the server re-dispatches a task set back to `pending`
//!   is the server's; the worker's part is that a task is never dropped
//!   without a word. A queued task is not claimed (it stays `pending` on
//!   the server until it takes a slot); when the connection it came on
//!   ends (a drop, a shutdown), the worker forgets it without a call: the
//!   server's dispatch hands the unclaimed tasks of a closed connection to
//!   another one, so running it later, or setting it back to `pending`,
//!   could run or dispatch it twice.
//! - **Capacity.** `is_busy` is "no free slot". An update goes out only when
//!   the value differs from what the server last acknowledged, one at a
//!   time (the next waits for the answer to the previous), so updates arrive
//!   in order; each change of the value takes the next number of a
//!   sequence ([`Call::Capacity`]), kept client-side (see
//!   [`CapacityUpdate`](crate::model::CapacityUpdate) for why it is not
//!   sent). A failed update is sent again after
//!   [`WorkerPolicy::heartbeat_interval`]; a registration tells the
//!   server's view of a new worker id (its `is_busy`).
//! - **Registration and heartbeats.** The `worker-registration` event
//!   gives the worker id; a new one replaces it. The first heartbeat goes
//!   at once, the next [`WorkerPolicy::heartbeat_interval`] (2 s) after the
//!   previous one's answer. Heartbeats go only while the stream is up and
//!   registered: a worker whose stream is down does not look alive. A
//!   failed heartbeat or capacity update is a [`Notice`], never fatal.
//! - **The stream.** Reconnects use the [`StreamPolicy`] backoff, the task
//!   event stream's (floored at the initial delay whatever `retry:` or
//!   `Retry-After` says, capped, jittered, reset only after a connection
//!   stayed up [`StreamPolicy::reset_after`]: a registration alone does not
//!   reset it, it only restarts the count of failures in a row). The wait
//!   is an instant in the core ([`WorkerMachine::next_wakeup`]), so a driver that
//!   drops its sleep loses nothing. The session is
//!   [`persistent`](StreamPolicy::persistent), so no failure ends it by
//!   itself. While tasks are in flight the worker never gives up; when
//!   idle it gives up after [`WorkerPolicy::max_idle_reconnects`] failures
//!   in a row (default: never, as a service that an orchestrator restarts
//!   and watches through its readiness, [`WorkerMachine::is_ready`]). A 401 or 403
//!   stops the worker (the key is wrong; retrying cannot help), after its
//!   tasks drain. The runtime drops a stream silent for
//!   [`StreamPolicy::idle_timeout`] and reports it.
//! - **The claim, only of what is still the worker's to run.** When a
//!   task takes a slot, the worker first reads it (one `GET`,
//!   [`Phase::Check`]): a delivery may be stale (it waited in the queue or
//!   on the wire while a user stopped the task or another worker claimed
//!   or finished it; a server's hand-back of a dropped connection's tasks
//!   can send a task whose claim was still on its way). The task is
//!   claimed only when the server's copy is not finished (`completed`,
//!   `error`, `failed`, `stopped`) and still has the status it was
//!   delivered with (none sent counts as `pending`; a task delivered
//!   `executing` or finished is stale by its own word, and dropped
//!   without a read); otherwise it is
//!   dropped with a [`Notice`] saying why, and nothing is written to it. A
//!   read that fails with a 4xx drops it too (gone); one that fails
//!   otherwise (after the transport's retries) releases it. The claim, the
//!   release are partial updates (the
//!   Tasks API's update changes the fields it is sent and nothing else):
//!   `{"status": "executing"}`, `{"status": "pending", "result": ...}`,
//!   never a stale copy of the rest.
//!   **The race that remains:** the service offers no conditional update
//!   (no compare-and-set on the status, no ETag), so a change made
//!   between the read and the claim's arrival (a stop, another worker's
//!   claim) is still overwritten by the claim. The window is one round
//!   trip (the read's answer to the claim's arrival, milliseconds), where
//!   it was the whole time a delivery waits (in the queue, on the wire:
//!   seconds to minutes). A release or report that arrives after the
//!   task changed hands can still set it back, in a window as narrow; a
//!   task delivered again while the worker's own release of it is on its
//!   way is taken in only once that release is answered, and one
//!   delivered again before its release went out cancels the release.
//! - **Each task** goes through [`Phase`]s: the read ([`Phase::Check`]),
//!   the claim (status `executing`), the handler run (with a deadline,
//!   [`WorkerPolicy::task_timeout`]), a reload of the server's copy, the
//!   final save (retried with backoff, [`WorkerPolicy::save_attempts`],
//!   then given up loudly), and the metrics report (once, only when the
//!   task's `tokens` are set, even when the final save was retried or
//!   failed: the tokens were spent; never retried: a report is not
//!   idempotent). The final status: the handler's task with status still
//!   `executing` → `completed`; with another status → that status; a
//!   handler error → `error` with its message; the deadline passed →
//!   `error` saying "timeout"; cancelled by shutdown → `error` saying the
//!   worker shut down before the task finished (never `completed`); and
//!   `stopped` on the server at the reload stays `stopped`.
//! - **Saves** send the task as delivered plus what changed, never a
//!   credential ([`runtime_save_body`]). The final save, when the reload
//!   answered, is a three-way merge: the outcome (`status`, `result`) and
//!   what the handler changed, else what the server has now (so a stop
//!   made meanwhile is not overwritten).
//! - **Side calls are bounded.** Releases go at
//!   most [`MAX_SIDE_CALLS`] at a time; the rest wait their turn, in
//!   order. Capacity updates and heartbeats go one at a time each. A
//!   runtime stops reading the stream while many wait
//!   ([`WorkerMachine::side_calls`]), so a burst pushes back on the socket.
//! - **Malformed events** are a [`Notice`], and the worker goes on. A task
//!   needs only its `id` (a string, or an integer read as its text): a
//!   delivery without its agent, organization or input runs on the
//!   server's whole copy, read before the claim; one without a usable `id`
//!   cannot be addressed and is skipped.
//!
//! # Shutdown
//!
//! The drain begins with [`WorkerMachine::begin_shutdown`] (the runtime
//! calls it on the first SIGTERM, Ctrl-C, `ShutdownHandle::shutdown()` or
//! when the future given to `Worker::run_until` ends), with a conflict, or
//! with a fatal stream error. Intake stops, and one deadline bounds it all;
//! the defaults fit Kubernetes' 30 s grace period:
//!
//! | time | what happens | knob (default) |
//! |---|---|---|
//! | 0 | the stream closes; queued (unclaimed) tasks are left to the server's dispatch (see Intake); heartbeats go on, for the last worker id, until every claimed task is saved (a worker silent mid-drain invites the server to hand its tasks to another: the duplicate run other runtimes have) | |
//! | 0 – grace | running handlers may finish (as Sidekiq's TERM handling gives busy jobs a timeout); each is saved as it ends | [`WorkerPolicy::shutdown_grace`] (25 s) |
//! | grace | the rest are cancelled (their token) and saved `error`, saying the worker shut down before the task finished (never `completed`); a handler that ignores its cancellation (here or past its task timeout) is aborted ([`Effect::AbortHandler`]) `abort_grace` later | [`WorkerPolicy::abort_grace`] (2 s) |
//! | grace – deadline | reloads and final saves (retried with backoff) | [`WorkerPolicy::shutdown_deadline`] (29 s; at least [`SAVE_RESERVE`], 4 s, kept for the saves) |
//! | every task settled, or the deadline whatever is left | [`Effect::Finished`], naming the tasks not saved: the runtime exits; its `Exit::unsaved` names every task not saved, `Exit::abandoned` the aborted handlers | |
//! | then | the runtime runs the shutdown hooks, always (whatever ended the run, the boot's failure included) | |
//!
//! A second [`WorkerMachine::begin_shutdown`] (a second signal) ends the
//! drain at once: handlers cancelled, their tasks saved once without a
//! reload, claimed tasks not started set back to `pending`, and `Finished`
//! once these calls are answered or [`WorkerPolicy::last_calls`] (2 s)
//! passed. Dropping the runtime's `run()` future cancels every handler's
//! token and aborts the handlers, requests and stream left (the hooks,
//! being async, do not run then).

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::fmt;
use std::time::Instant;

use super::retry::{Backoff, Jitter};
use super::stream::{EventSession, StreamPolicy};
use capacity::Capacity;
use heartbeat::Heartbeat;
use intake::Intake;
use link::Link;
use record::{Handler, TaskRecord};

mod admission;
mod body;
mod capacity;
mod classify;
mod effects;
mod heartbeat;
mod inputs;
mod intake;
mod link;
mod policy;
mod record;
mod requests;
mod stopping;
mod stream;
mod task;
#[cfg(test)]
mod tests;

pub use body::{runtime_save_body, NEVER_SAVED};
pub use classify::{
    classify, classify_parts, AgentEvent, LlmGateway, CONFLICT_EVENT, REGISTRATION_EVENT,
    TASK_EVENT,
};
use effects::{notice, Notes};
pub use effects::{
    Call, CancelReason, Effect, HandlerOutcome, HandlerStart, Level, Notice, Phase, StopReason,
};
pub use intake::MAX_SIDE_CALLS;
pub use policy::{WorkerPolicy, MIN_HEARTBEAT_INTERVAL, SAVE_RESERVE};
pub use requests::{events_root, Environment, WorkerRequests};

/// The result of a task whose handler the grace period of a shutdown cut off.
pub const SHUTDOWN_MESSAGE: &str =
    "worker shut down before the task finished: the handler was cancelled when the shutdown grace period ran out";

/// A stop under way.
struct Stopping {
    reason: Option<StopReason>,
    grace_ends: Instant,
    expired: bool,
    /// The end of the drain ([`WorkerPolicy::shutdown_deadline`]).
    deadline: Instant,
    /// After a second request: the end of the last best-effort calls.
    hurry_ends: Option<Instant>,
    /// Tasks given up on since the stop began (a final save or a release
    /// that failed).
    unsaved: Vec<String>,
    /// Handlers aborted since the stop began.
    abandoned: Vec<String>,
}

/// The agent worker's state machine. See the [module documentation](self).
///
/// ```
/// use std::time::Instant;
/// use xpander_sdk::sans_io::worker::{Effect, WorkerMachine, WorkerPolicy, WorkerRequests, Environment};
/// use xpander_sdk::Tasks;
///
/// let config = Tasks::builder().api_key("k").organization_id("org-1").build_config()?;
/// let requests = WorkerRequests::new(config, "agent-1", Environment::Local)?;
/// let mut worker = WorkerMachine::new(requests, WorkerPolicy::default());
/// let t0 = Instant::now();
///
/// // Starting opens the stream; nothing else happens before.
/// let effects = worker.start();
/// assert!(matches!(&effects[..], [Effect::OpenStream(r)] if r.uri().to_string().contains("/events/agent-1/?")));
/// assert!(matches!(&worker.on_stream_open(200, Some("text/event-stream"), t0)[..], [Effect::ReadStream]));
///
/// // The registration: the first heartbeat goes at once.
/// let effects = worker.on_stream_bytes(
///     b"event: worker-registration\ndata: {\"id\":\"w-1\",\"name\":\"w\",\"organization_id\":\"org-1\",\
///       \"type\":\"worker\",\"created_at\":\"2026-11-28T03:38:30Z\",\"last_heartbeat\":\"2026-11-28T03:38:30Z\"}\n\n",
///     t0,
/// );
/// assert!(effects.iter().any(|e| matches!(e, Effect::SendHeartbeat { worker_id } if worker_id == "w-1")));
/// assert!(worker.is_ready());
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
pub struct WorkerMachine {
    requests: WorkerRequests,
    policy: WorkerPolicy,
    link: Link,
    heartbeat: Heartbeat,
    capacity: Capacity,
    tasks: Vec<TaskRecord>,
    intake: Intake,
    stopping: Option<Stopping>,
    finished: bool,
    rng: fastrand::Rng,
    /// The waits between the attempts of a final save.
    save_backoff: Backoff,
}

impl WorkerMachine {
    /// A worker, not started: nothing happens until [`start`](Self::start).
    pub fn new(requests: WorkerRequests, policy: WorkerPolicy) -> WorkerMachine {
        let policy = policy.normalized();
        let (initial, max) = (policy.save_initial_delay, policy.save_max_delay);
        WorkerMachine {
            save_backoff: Backoff::new(initial, max, Some(Jitter::Equal)),
            link: Link::new(EventSession::new(
                requests.agent_id(),
                policy.stream.clone(),
            )),
            requests,
            policy,
            heartbeat: Heartbeat::default(),
            capacity: Capacity::default(),
            tasks: Vec::new(),
            intake: Intake::default(),
            stopping: None,
            finished: false,
            rng: fastrand::Rng::new(),
        }
    }

    /// Seeds the worker's randomness (event ids, save-retry jitter), for
    /// reproducible runs.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> WorkerMachine {
        self.rng = fastrand::Rng::with_seed(seed);
        self.save_backoff = self.save_backoff.with_seed(seed);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &WorkerPolicy {
        &self.policy
    }

    /// The stream's policy (its timeouts are the runtime's to apply).
    pub fn stream_policy(&self) -> &StreamPolicy {
        &self.policy.stream
    }

    /// The requests the worker builds.
    pub fn requests(&self) -> &WorkerRequests {
        &self.requests
    }

    /// The worker id of the current registration.
    pub fn worker_id(&self) -> Option<&str> {
        self.link.worker_id()
    }

    /// True while the stream is open and registered.
    pub fn is_registered(&self) -> bool {
        self.link.is_registered()
    }

    /// True while the worker takes tasks: stream open, registered, not
    /// stopping (for a readiness probe).
    pub fn is_ready(&self) -> bool {
        self.is_registered() && self.stopping.is_none()
    }

    /// Slots in use: claims under way, handlers running, and final saves
    /// under way. A task holds its slot until its final status is on the
    /// server or the save is given up (an error notice), so a worker that
    /// dies leaves at most `concurrency` tasks `executing` besides those
    /// whose save it gave up.
    pub fn running(&self) -> usize {
        self.tasks.iter().filter(|r| r.is_running()).count()
    }

    /// Tasks accepted and waiting for a slot.
    pub fn queued(&self) -> usize {
        self.intake.queue.len()
    }

    /// Releases in flight (at most
    /// [`MAX_SIDE_CALLS`]), and waiting for a place. A runtime stops
    /// reading the stream while many wait, so that a burst pushes back on
    /// the socket instead of growing this queue.
    pub fn side_calls(&self) -> (usize, usize) {
        (self.intake.releasing.len(), self.intake.waiting.len())
    }

    /// Tasks not settled yet: queued, running or being saved.
    pub fn in_flight(&self) -> usize {
        self.intake
            .queue
            .len()
            .saturating_add(self.tasks.iter().filter(|r| r.phase != Phase::Done).count())
    }

    /// The phase of a task the worker holds.
    pub fn phase(&self, task_id: &str) -> Option<Phase> {
        self.tasks.iter().find(|r| r.id == task_id).map(|r| r.phase)
    }

    /// No free slot (what capacity updates say).
    pub fn is_busy(&self) -> bool {
        self.capacity.busy
    }

    /// The number of the latest change of [`is_busy`](Self::is_busy) (0
    /// before any).
    pub fn capacity_seq(&self) -> u64 {
        self.capacity.seq
    }

    /// True once a stop began (shutdown, conflict, fatal error).
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// True once [`Effect::Finished`] was given.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Failed connections in a row (0 after a healthy one).
    pub fn stream_failures(&self) -> u32 {
        self.link.session.failures()
    }
}

impl fmt::Debug for WorkerMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerMachine")
            .field("agent_id", &self.requests.agent_id())
            .field("link", &self.link.state())
            .field("worker_id", &self.link.worker_id())
            .field("running", &self.running())
            .field("queued", &self.intake.queue.len())
            .field("in_flight", &self.in_flight())
            .field("busy", &self.capacity.busy)
            .field("capacity_seq", &self.capacity.seq)
            .field("stopping", &self.stopping.is_some())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
