//! The agent worker as a sans-IO state machine: the agent stream, the
//! worker events (heartbeats, capacity), and each task's life from intake to
//! its final save and metrics.
//!
//! A [`Worker`] takes every decision and does nothing: it never reads the
//! clock (the time comes in as an [`Instant`]), sleeps, spawns or opens a
//! connection. A runtime drives it: it hands each input to the worker, then
//! carries out the [`Effect`]s the worker answers (send a request, open or
//! close the stream, start or cancel a handler, log a [`Notice`]), and
//! sleeps until the next input or [`Worker::next_wakeup`]:
//!
//! ```text
//! let requests = WorkerRequests::new(config, agent_id, environment)?;
//! let mut worker = Worker::new(requests, WorkerPolicy::default());
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
//!   message in `result` (a minimal update), for the server to dispatch it
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
//! - **The stream.** Reconnects use the [`StreamPolicy`] backoff (capped,
//!   jittered, reset after a healthy connection: one that registered, or
//!   stayed up [`StreamPolicy::reset_after`]); the session is
//!   [`persistent`](StreamPolicy::persistent), so no failure ends it by
//!   itself. While tasks are in flight the worker never gives up; when
//!   idle it gives up after [`WorkerPolicy::max_idle_reconnects`] failures
//!   in a row (default: never, as a service that an orchestrator restarts
//!   and watches through its readiness, [`Worker::is_ready`]). A 401 or 403
//!   stops the worker (the key is wrong; retrying cannot help), after its
//!   tasks drain. The runtime drops a stream silent for
//!   [`StreamPolicy::idle_timeout`] and reports it.
//! - **Each task** goes through [`Phase`]s: the executing save (the claim:
//!   status `executing`, result cleared), the handler run (with a deadline,
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
//!   answered, is a three-way merge: what the handler changed, else what
//!   the server has now (so a stop made meanwhile is not overwritten).
//! - **Malformed events** are a [`Notice`]; a task whose `id` can be read
//!   is saved as `error` with the reason; the worker goes on.
//! - **Shutdown** ([`Worker::begin_shutdown`], and a conflict, and a fatal
//!   stream error): the stream is closed, queued tasks are left to the
//!   server's dispatch (see Intake), running ones get [`WorkerPolicy::shutdown_grace`] (25 s,
//!   inside Kubernetes' 30 s) to finish, as Sidekiq's TERM handling gives
//!   busy jobs a timeout; then their handlers are cancelled and the tasks
//!   saved as `error`. [`Effect::Finished`] comes when every task is
//!   settled; the runtime then runs the shutdown hooks, always. A second
//!   [`Worker::begin_shutdown`] cuts the grace short.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::stream::{
    backoff_ceiling, equal_jitter, Disconnect, EventSession, NextStep, Opened, StreamPolicy,
};
use super::HttpRequest;
use super::HttpResponse;
use crate::error::{Error, ErrorClass, Result, TransportError, TransportErrorKind};
use crate::model::worker::{capacity_data, event_id, heartbeat_data};
use crate::model::{AgentExecutionStatus, DeployedAsset, Task, WorkerEvent, WorkerEventType};

mod body;
mod classify;
mod requests;
#[cfg(test)]
mod tests;

pub use body::{runtime_save_body, NEVER_SAVED};
pub use classify::{
    classify, classify_parts, AgentEvent, LlmGateway, CONFLICT_EVENT, REGISTRATION_EVENT,
    TASK_EVENT,
};
pub use requests::{events_root, Environment, WorkerRequests};

/// The result of a task whose handler the grace period of a shutdown cut off.
pub const SHUTDOWN_MESSAGE: &str =
    "worker shut down before the task finished: the handler was cancelled when the shutdown grace period ran out";

/// How a [`Worker`] takes tasks, keeps in touch and stops.
///
/// Plain data: build it with [`WorkerPolicy::default`] and the `with_*`
/// setters.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::core::worker::WorkerPolicy;
///
/// let policy = WorkerPolicy::default()
///     .with_concurrency(2)
///     .with_task_timeout(Some(Duration::from_secs(600)));
/// assert_eq!(policy.queue_capacity, 32);
/// assert_eq!(policy.shutdown_grace, Duration::from_secs(25));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerPolicy {
    /// Handlers running at once (the slots). At least 1. Default: 6, the
    /// official runtime's.
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
    /// the wait before a failed capacity update is sent again. Default: 2 s.
    pub heartbeat_interval: Duration,
    /// The longest a handler may run; then it is cancelled and the task
    /// saved as `error` ("timeout"). `None`: no deadline. Default: one
    /// hour, long enough for deep agent runs, short enough that a stuck
    /// handler does not hold a slot and an `executing` task forever.
    pub task_timeout: Option<Duration>,
    /// On shutdown, how long running handlers get to finish before they
    /// are cancelled. Default: 25 s, which leaves the final saves 5 s
    /// within Kubernetes' default 30 s termination grace period.
    pub shutdown_grace: Duration,
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
            stream: StreamPolicy::default()
                .with_initial_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .with_idle_timeout(Duration::from_secs(120))
                .with_persistent(true),
            max_idle_reconnects: None,
            save_attempts: 5,
            save_initial_delay: Duration::from_secs(1),
            save_max_delay: Duration::from_secs(15),
        }
    }
}

impl WorkerPolicy {
    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> WorkerPolicy {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets [`queue_capacity`](Self::queue_capacity).
    #[must_use]
    pub fn with_queue_capacity(mut self, queue_capacity: usize) -> WorkerPolicy {
        self.queue_capacity = queue_capacity;
        self
    }

    /// Sets [`heartbeat_interval`](Self::heartbeat_interval).
    #[must_use]
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> WorkerPolicy {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets [`task_timeout`](Self::task_timeout).
    #[must_use]
    pub fn with_task_timeout(mut self, timeout: Option<Duration>) -> WorkerPolicy {
        self.task_timeout = timeout;
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> WorkerPolicy {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`stream`](Self::stream) (made persistent).
    #[must_use]
    pub fn with_stream(mut self, stream: StreamPolicy) -> WorkerPolicy {
        self.stream = stream.with_persistent(true);
        self
    }

    /// Sets [`max_idle_reconnects`](Self::max_idle_reconnects).
    #[must_use]
    pub fn with_max_idle_reconnects(mut self, max: Option<u32>) -> WorkerPolicy {
        self.max_idle_reconnects = max;
        self
    }

    /// Sets [`save_attempts`](Self::save_attempts) (at least 1) and the
    /// delays between them.
    #[must_use]
    pub fn with_save_retries(
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
}

/// A request the worker asked for, named so that its answer can be handed
/// back ([`Worker::on_response`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// The claim: the task saved as `executing`.
    SaveExecuting {
        /// The task.
        task_id: String,
    },
    /// The reload of the task before its final save.
    Reload {
        /// The task.
        task_id: String,
    },
    /// The final save, attempt `attempt` (1 for the first).
    FinalSave {
        /// The task.
        task_id: String,
        /// Which attempt.
        attempt: u32,
    },
    /// The task's metrics report (`POST /agents-metrics/{agent_id}/execution`),
    /// sent once. Not to be retried beyond a connection that failed before
    /// sending: a report is not idempotent (tokens would be billed twice).
    Metrics {
        /// The task.
        task_id: String,
    },
    /// A task set back to `pending` (beyond the queue).
    Release {
        /// The task.
        task_id: String,
    },
    /// A task the worker could not read, saved as `error`.
    ReportMalformed {
        /// The task.
        task_id: String,
    },
    /// A heartbeat of this worker id.
    Heartbeat {
        /// The worker id it was sent for.
        worker_id: String,
    },
    /// A capacity update: change number `seq` of the value, `busy`.
    Capacity {
        /// The worker id it was sent for.
        worker_id: String,
        /// The sequence number of the change (increasing by one per change).
        seq: u64,
        /// The value sent.
        busy: bool,
    },
}

/// What the runtime must do, as the worker decides. See the
/// [module documentation](self) for how each is carried out.
#[derive(Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Open the agent stream with this request (within
    /// [`StreamPolicy::connect_timeout`]) and hand the answer's head to
    /// [`Worker::on_stream_open`].
    OpenStream(HttpRequest),
    /// The stream answered an event stream: read it, handing each chunk to
    /// [`Worker::on_stream_bytes`], and its end (or an idle timeout, or a
    /// read error) to [`Worker::on_stream_end`].
    ReadStream,
    /// The stream answered an error status: read at most
    /// [`MAX_ERROR_BODY_BYTES`](super::MAX_ERROR_BODY_BYTES) of the body,
    /// make the [`ApiError`](crate::ApiError) of it and hand it to
    /// [`Worker::on_stream_end`] as [`Disconnect::Error`].
    ReadStreamError,
    /// Close the stream (or the attempt); the worker reconnects by itself
    /// when it should (an [`Effect::OpenStream`] from
    /// [`Worker::on_tick`]).
    CloseStream,
    /// Send this request; hand the answer (or the transport's error) to
    /// [`Worker::on_response`] with `call`.
    Send {
        /// What it is.
        call: Call,
        /// The request.
        request: HttpRequest,
    },
    /// Send a heartbeat for this worker id: build it with
    /// [`Worker::heartbeat_request`] and the wall-clock time, and hand the
    /// answer to [`Worker::on_response`] with [`Call::Heartbeat`].
    SendHeartbeat {
        /// The worker id.
        worker_id: String,
    },
    /// Run the handler of a task.
    StartHandler(Box<HandlerStart>),
    /// Trigger the cancellation token of a task's handler. The task's fate
    /// is already settled; when the handler returns, still call
    /// [`Worker::on_handler_done`] (it frees the slot).
    CancelHandler {
        /// The task.
        task_id: String,
        /// Why.
        reason: CancelReason,
    },
    /// Something to log.
    Notice(Notice),
    /// The worker is done: every task is settled. Run the shutdown hooks
    /// and leave.
    Finished {
        /// Why it stopped.
        reason: StopReason,
        /// Tasks whose handler was cancelled but had not returned (their
        /// tasks are saved; the handlers may still be running).
        abandoned: Vec<String>,
    },
}

/// What a handler gets to start (besides a cancellation token, which the
/// runtime makes).
#[derive(Debug)]
#[non_exhaustive]
pub struct HandlerStart {
    /// The task, as saved at the claim: status `executing`, result cleared,
    /// `payload_extension.llm_gateway` taken out.
    pub task: Task,
    /// The run number of this task on this worker (1: the first).
    pub attempt: u32,
    /// When the worker gives up on the handler (see
    /// [`WorkerPolicy::task_timeout`]).
    pub deadline: Option<Instant>,
    /// The LLM gateway route the task was delivered with.
    pub llm_gateway: Option<LlmGateway>,
}

/// Why a handler is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// Its deadline passed ([`WorkerPolicy::task_timeout`]).
    Timeout,
    /// The shutdown grace ran out ([`WorkerPolicy::shutdown_grace`]).
    Shutdown,
}

/// How a handler ended, as the runtime reports it
/// ([`Worker::on_handler_done`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum HandlerOutcome {
    /// It returned the task (its `result`, maybe its `status`, `tokens`,
    /// `used_tools`, ...).
    Finished(Box<Task>),
    /// It failed (an error, or a panic) with this message; with the task as
    /// it left it, when the runtime has it (so that tokens already spent
    /// are reported).
    Failed {
        /// The error's message (saved as the task's `result`).
        message: String,
        /// The task as the handler left it, if known.
        task: Option<Box<Task>>,
    },
    /// It stopped on its cancellation token.
    Cancelled,
}

/// Something the runtime should log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notice {
    /// How serious.
    pub level: Level,
    /// The task concerned, if one is.
    pub task_id: Option<String>,
    /// What happened (no data of the task, no credential).
    pub message: String,
}

/// The level of a [`Notice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// Normal life: registered, stopping.
    Info,
    /// Something went wrong and was handled: a reconnect, a retried save, a
    /// malformed event, a released task.
    Warn,
    /// Something was lost: a final save given up.
    Error,
}

/// Why a worker stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum StopReason {
    /// [`Worker::begin_shutdown`] (SIGTERM, Ctrl-C).
    Shutdown,
    /// The server sent `worker-environment-conflict`: another worker serves
    /// the agent in another environment. A clean stop (the official
    /// runtime exits with 0), not to be restarted in a loop.
    Conflict {
        /// The server's message.
        message: String,
    },
    /// The worker could not go on: the server refused the key on the
    /// stream (401, 403), or an idle worker ran out of reconnects.
    Fatal(Error),
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// The claim (status `executing`) is being saved.
    SaveExecuting,
    /// The handler runs.
    Run {
        /// The run number (1: the first).
        attempt: u32,
        /// When the worker gives up on it.
        deadline: Option<Instant>,
    },
    /// The server's copy is being read.
    Reload,
    /// The final save, attempt `attempt`; `retry_at` is set while it waits
    /// for another attempt.
    FinalSave {
        /// Which attempt (1 for the first).
        attempt: u32,
        /// When the next attempt goes, while waiting for it.
        retry_at: Option<Instant>,
    },
    /// The metrics report is out.
    Metrics,
    /// Settled; only its handler (cancelled) still holds a slot.
    Done,
}

/// Whether the handler of a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    NotStarted,
    Running,
    /// Cancelled (timeout, shutdown); not returned yet.
    Cancelled,
    Returned,
}

/// One task taken (holding a slot or settling).
struct TaskRecord {
    id: String,
    /// The task as handed to the handler: delivered, `executing`, result
    /// cleared. The base of the final save's merge.
    base: Task,
    phase: Phase,
    handler: Handler,
    /// It counts against the concurrency: from its claim until its handler
    /// returns (or it is settled without running).
    holds_slot: bool,
    /// The task as it will be saved (status and result settled).
    ours: Option<Task>,
    /// The server's copy, from the reload.
    theirs: Option<Task>,
    /// The final save's body, made once for every attempt.
    final_body: Option<Value>,
    metrics_reported: bool,
    /// Kept for the handler's start, then handed over.
    llm_gateway: Option<LlmGateway>,
}

/// A task accepted into the queue.
struct Queued {
    task: Box<Task>,
    llm_gateway: Option<LlmGateway>,
}

/// The agent stream's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not started.
    Idle,
    /// A connection is being made.
    Connecting,
    /// Reading the stream.
    Open,
    /// Waiting to reconnect.
    Waiting(Instant),
    /// Closed for good (stopping).
    Closed,
}

/// The capacity as decided and as the server knows it.
#[derive(Debug, Default)]
struct Capacity {
    /// The value now, and the number of its latest change.
    busy: bool,
    seq: u64,
    /// What the server acknowledged for the current worker id (`None`:
    /// unknown, after a failed update).
    server: Option<bool>,
    /// The update being sent.
    in_flight: bool,
    /// When a failed update is sent again.
    retry_at: Option<Instant>,
}

/// A stop under way.
struct Stopping {
    reason: Option<StopReason>,
    grace_ends: Instant,
    expired: bool,
}

/// The agent worker's state machine. See the [module documentation](self).
///
/// ```
/// use std::time::Instant;
/// use xpander_sdk::core::worker::{Effect, Worker, WorkerPolicy, WorkerRequests, Environment};
/// use xpander_sdk::Tasks;
///
/// let config = Tasks::builder().api_key("k").organization_id("org-1").build_config()?;
/// let requests = WorkerRequests::new(config, "agent-1", Environment::Local)?;
/// let mut worker = Worker::new(requests, WorkerPolicy::default());
/// let t0 = Instant::now();
///
/// // Starting opens the stream; nothing else happens before.
/// let effects = worker.start();
/// assert!(matches!(&effects[..], [Effect::OpenStream(r)] if r.url.contains("/events/agent-1/?")));
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
pub struct Worker {
    requests: WorkerRequests,
    policy: WorkerPolicy,
    session: EventSession,
    link: Link,
    worker_id: Option<String>,
    /// The heartbeat waits for this time (none in flight).
    heartbeat_at: Option<Instant>,
    heartbeat_in_flight: bool,
    capacity: Capacity,
    tasks: Vec<TaskRecord>,
    queue: VecDeque<Queued>,
    /// Releases and malformed-task reports under way.
    side_calls: Vec<Call>,
    stopping: Option<Stopping>,
    finished: bool,
    rng: fastrand::Rng,
}

impl Worker {
    /// A worker, not started: nothing happens until [`start`](Self::start).
    pub fn new(requests: WorkerRequests, policy: WorkerPolicy) -> Worker {
        let mut policy = policy;
        policy.concurrency = policy.concurrency.max(1);
        policy.save_attempts = policy.save_attempts.max(1);
        policy.stream = policy.stream.with_persistent(true);
        Worker {
            session: EventSession::new(requests.agent_id(), policy.stream.clone()),
            requests,
            policy,
            link: Link::Idle,
            worker_id: None,
            heartbeat_at: None,
            heartbeat_in_flight: false,
            capacity: Capacity::default(),
            tasks: Vec::new(),
            queue: VecDeque::new(),
            side_calls: Vec::new(),
            stopping: None,
            finished: false,
            rng: fastrand::Rng::new(),
        }
    }

    /// Seeds the worker's randomness (event ids, save-retry jitter), for
    /// reproducible runs.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Worker {
        self.rng = fastrand::Rng::with_seed(seed);
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

    /// Starts: opens the agent stream. Does nothing when started already.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link == Link::Idle && self.stopping.is_none() {
            self.connect(&mut fx);
        }
        fx
    }

    /// The answer to [`Effect::OpenStream`] came: its status and
    /// `content-type`. Answers [`Effect::ReadStream`],
    /// [`Effect::ReadStreamError`], or [`Effect::CloseStream`] (the worker
    /// then reconnects by itself).
    pub fn on_stream_open(
        &mut self,
        status: u16,
        content_type: Option<&str>,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link != Link::Connecting {
            fx.push(Effect::CloseStream);
            return fx;
        }
        match self.session.on_open(status, content_type, now) {
            Opened::Stream => {
                self.link = Link::Open;
                fx.push(Effect::ReadStream);
            }
            Opened::ReadError => fx.push(Effect::ReadStreamError),
            Opened::Then(step) => {
                fx.push(Effect::CloseStream);
                let what = format!("the agent stream answered {status} without an event stream");
                self.after_disconnect(step, what, now, &mut fx);
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// Bytes of the stream's body. Every event they complete is acted on.
    pub fn on_stream_bytes(&mut self, bytes: &[u8], now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link != Link::Open {
            return fx;
        }
        self.session.feed(bytes);
        // Every event of the bytes fed is taken, even after a stop began
        // in the middle of them: a task among them is then noticed, and
        // left to the server's dispatch.
        while let Some(item) = self.session.next_event() {
            match item {
                Ok(event) => {
                    let event = classify(&event);
                    self.on_agent_event(event, now, &mut fx);
                }
                Err(error) => fx.push(notice(
                    Level::Warn,
                    None,
                    format!("an event of the agent stream was dropped: {error}"),
                )),
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// The stream is over: its end, an idle timeout, a read or connection
    /// error, or an error status ([`Effect::ReadStreamError`]). The worker
    /// reconnects after a backoff (an [`Effect::OpenStream`] from
    /// [`on_tick`](Self::on_tick)), or stops (401, 403; an idle worker out
    /// of reconnects).
    pub fn on_stream_end(&mut self, why: Disconnect, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if !matches!(self.link, Link::Open | Link::Connecting) {
            return fx;
        }
        self.unregister();
        self.forget_queue("the agent stream's connection ended", &mut fx);
        let what = describe(&why);
        if let Disconnect::Error(error) = why {
            if error.is_unauthorized() {
                self.link = Link::Closed;
                self.session.stop();
                fx.push(notice(
                    Level::Error,
                    None,
                    format!("the server refused the agent stream ({error}); the worker stops"),
                ));
                self.begin_stop(StopReason::Fatal(error), now, &mut fx);
            } else {
                let step = self.session.on_disconnect(Disconnect::Error(error), now);
                self.after_disconnect(step, what, now, &mut fx);
            }
        } else {
            let step = self.session.on_disconnect(why, now);
            self.after_disconnect(step, what, now, &mut fx);
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// The answer to a [`Call`] ([`Effect::Send`],
    /// [`Effect::SendHeartbeat`]): the
    /// response, whatever its status, or the transport's error.
    pub fn on_response(
        &mut self,
        call: Call,
        answer: std::result::Result<HttpResponse, Error>,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        match call {
            Call::SaveExecuting { task_id } => {
                let result = answer.and_then(|r| self.requests.check(r));
                self.on_claimed(&task_id, result, now, &mut fx);
            }
            Call::Reload { task_id } => {
                let result = answer.and_then(|r| self.requests.parse_task(r));
                self.on_reloaded(&task_id, result, &mut fx);
            }
            Call::FinalSave { task_id, attempt } => {
                let result = answer.and_then(|r| self.requests.check(r));
                self.on_saved(&task_id, attempt, result, now, &mut fx);
            }
            Call::Metrics { task_id } => {
                if let Err(error) = answer.and_then(|r| self.requests.check(r)) {
                    fx.push(notice(
                        Level::Warn,
                        Some(&task_id),
                        format!(
                            "the metrics report failed ({error}); not tried again (a report is not idempotent)"
                        ),
                    ));
                }
                if let Some(record) = self.record_mut(&task_id) {
                    if record.phase == Phase::Metrics {
                        record.phase = Phase::Done;
                    }
                }
            }
            call @ (Call::Release { .. } | Call::ReportMalformed { .. }) => {
                if let Err(error) = answer.and_then(|r| self.requests.check(r)) {
                    let (task_id, what) = match &call {
                        Call::Release { task_id } => {
                            (task_id.clone(), "setting it back to `pending`")
                        }
                        Call::ReportMalformed { task_id } => {
                            (task_id.clone(), "saving it as `error`")
                        }
                        _ => (String::new(), ""),
                    };
                    fx.push(notice(
                        Level::Warn,
                        Some(&task_id),
                        format!("{what} failed: {error}"),
                    ));
                }
                if let Some(i) = self.side_calls.iter().position(|c| *c == call) {
                    self.side_calls.remove(i);
                }
            }
            Call::Heartbeat { worker_id } => {
                if let Err(error) = answer.and_then(|r| self.requests.check(r)) {
                    fx.push(notice(
                        Level::Warn,
                        None,
                        format!("a heartbeat of worker {worker_id} failed: {error}"),
                    ));
                }
                if self.worker_id.as_deref() == Some(worker_id.as_str()) && self.heartbeat_in_flight
                {
                    self.heartbeat_in_flight = false;
                    self.heartbeat_at = now.checked_add(self.policy.heartbeat_interval);
                }
            }
            Call::Capacity {
                worker_id,
                seq,
                busy,
            } => {
                let result = answer.and_then(|r| self.requests.check(r));
                self.capacity.in_flight = false;
                let current = self.worker_id.as_deref() == Some(worker_id.as_str());
                match result {
                    Ok(()) if current => self.capacity.server = Some(busy),
                    Ok(()) => {}
                    Err(error) => {
                        fx.push(notice(
                            Level::Warn,
                            None,
                            format!(
                                "capacity update #{seq} (is_busy: {busy}) failed: {error}; sent again in {:?}",
                                self.policy.heartbeat_interval
                            ),
                        ));
                        if current {
                            self.capacity.server = None;
                            self.capacity.retry_at =
                                now.checked_add(self.policy.heartbeat_interval);
                        }
                    }
                }
                self.send_capacity(&mut fx);
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// A handler ended ([`Effect::StartHandler`]). Frees its slot (the next
    /// queued task starts) and, unless the task was settled meanwhile
    /// (timeout, shutdown), settles its status.
    pub fn on_handler_done(&mut self, task_id: &str, outcome: HandlerOutcome) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(index) = self.tasks.iter().position(|r| r.id == task_id) else {
            fx.push(notice(
                Level::Warn,
                Some(task_id),
                "a handler ended for a task the worker does not have".to_owned(),
            ));
            return fx;
        };
        let Some(record) = self.tasks.get_mut(index) else {
            return fx;
        };
        if !matches!(record.handler, Handler::Running | Handler::Cancelled) {
            return fx;
        }
        let settled = record.handler == Handler::Cancelled;
        record.handler = Handler::Returned;
        record.holds_slot = false;
        if settled {
            fx.push(notice(
                Level::Info,
                Some(task_id),
                "a cancelled handler returned; its outcome is not used (the task was settled when it was cancelled)"
                    .to_owned(),
            ));
        } else if matches!(record.phase, Phase::Run { .. }) {
            let ours = settle(&record.base, outcome);
            record.ours = Some(ours);
            self.reload(index, &mut fx);
        }
        self.fill_slots(&mut fx);
        self.update_capacity(&mut fx);
        self.maybe_finish(&mut fx);
        fx
    }

    /// Time passed: reconnects, heartbeats, capacity retries, handler
    /// deadlines, the end of the shutdown grace, final-save retries. Call it
    /// at [`next_wakeup`](Self::next_wakeup) (calling it earlier or more
    /// often does no harm).
    pub fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.finished {
            return fx;
        }
        if let Link::Waiting(at) = self.link {
            if now >= at && self.stopping.is_none() && !self.give_up_if_idle(now, &mut fx) {
                self.connect(&mut fx);
            }
        }
        if self.is_registered() && !self.heartbeat_in_flight {
            if let (Some(at), Some(worker_id)) = (self.heartbeat_at, self.worker_id.clone()) {
                if now >= at {
                    self.heartbeat_at = None;
                    self.heartbeat_in_flight = true;
                    fx.push(Effect::SendHeartbeat { worker_id });
                }
            }
        }
        if self.capacity.retry_at.is_some_and(|at| now >= at) {
            self.capacity.retry_at = None;
            self.send_capacity(&mut fx);
        }
        if let Some(stopping) = &self.stopping {
            if !stopping.expired && now >= stopping.grace_ends {
                self.expire_grace(&mut fx);
            }
        }
        for index in 0..self.tasks.len() {
            let Some(record) = self.tasks.get(index) else {
                continue;
            };
            match record.phase {
                Phase::Run {
                    deadline: Some(deadline),
                    ..
                } if now >= deadline && record.handler == Handler::Running => {
                    let timeout = self.policy.task_timeout.unwrap_or_default();
                    let message = format!(
                        "the handler did not finish within its timeout of {timeout:?}; the worker cancelled it"
                    );
                    self.cancel(index, CancelReason::Timeout, message, &mut fx);
                }
                Phase::FinalSave {
                    attempt,
                    retry_at: Some(at),
                } if now >= at => {
                    if let Some(record) = self.tasks.get_mut(index) {
                        record.phase = Phase::FinalSave {
                            attempt,
                            retry_at: None,
                        };
                    }
                    self.send_final_save(index, &mut fx);
                }
                _ => {}
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// The next time [`on_tick`](Self::on_tick) has something to do, if
    /// any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let mut times = Vec::new();
        if let Link::Waiting(at) = self.link {
            if self.stopping.is_none() {
                times.push(at);
            }
        }
        if self.is_registered() && !self.heartbeat_in_flight {
            times.extend(self.heartbeat_at);
        }
        times.extend(self.capacity.retry_at);
        if let Some(stopping) = &self.stopping {
            let running = self
                .tasks
                .iter()
                .any(|r| matches!(r.phase, Phase::SaveExecuting | Phase::Run { .. }));
            if !stopping.expired && running {
                times.push(stopping.grace_ends);
            }
        }
        for record in &self.tasks {
            match record.phase {
                Phase::Run {
                    deadline: Some(deadline),
                    ..
                } if record.handler == Handler::Running => times.push(deadline),
                Phase::FinalSave {
                    retry_at: Some(at), ..
                } => times.push(at),
                _ => {}
            }
        }
        times.into_iter().min()
    }

    /// Stops taking tasks and drains: the stream is closed, queued tasks
    /// are left to the server's dispatch, running ones get
    /// [`WorkerPolicy::shutdown_grace`] (then they are cancelled and saved
    /// as `error`). [`Effect::Finished`] follows once every task is
    /// settled. Called again while stopping, it ends the grace at once.
    pub fn begin_shutdown(&mut self, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.finished {
            return fx;
        }
        match &self.stopping {
            Some(stopping) if !stopping.expired => {
                fx.push(notice(
                    Level::Warn,
                    None,
                    "asked again to shut down: running handlers are cancelled now".to_owned(),
                ));
                self.expire_grace(&mut fx);
                self.maybe_finish(&mut fx);
            }
            Some(_) => {}
            None => {
                self.begin_stop(StopReason::Shutdown, now, &mut fx);
                self.maybe_finish(&mut fx);
            }
        }
        fx
    }

    /// A heartbeat request for `worker_id` ([`Effect::SendHeartbeat`]),
    /// stamped `at` (the wall-clock time, written as RFC 3339 in UTC).
    pub fn heartbeat_request(&mut self, worker_id: &str, at: SystemTime) -> Result<HttpRequest> {
        let event = WorkerEvent::with_id(
            event_id(&mut self.rng),
            WorkerEventType::Heartbeat,
            heartbeat_data(at),
        );
        self.requests.worker_event(worker_id, &event)
    }

    /// The worker id of the current registration.
    pub fn worker_id(&self) -> Option<&str> {
        self.worker_id.as_deref()
    }

    /// True while the stream is open and registered.
    pub fn is_registered(&self) -> bool {
        self.link == Link::Open && self.worker_id.is_some()
    }

    /// True while the worker takes tasks: stream open, registered, not
    /// stopping (for a readiness probe).
    pub fn is_ready(&self) -> bool {
        self.is_registered() && self.stopping.is_none()
    }

    /// Slots in use (handlers running, or claims under way).
    pub fn running(&self) -> usize {
        self.tasks.iter().filter(|r| r.holds_slot).count()
    }

    /// Tasks accepted and waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Tasks not settled yet: queued, running or being saved.
    pub fn in_flight(&self) -> usize {
        self.queue
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
        self.session.failures()
    }

    // ----- the stream ------------------------------------------------------

    fn connect(&mut self, fx: &mut Vec<Effect>) {
        self.link = Link::Connecting;
        fx.push(Effect::OpenStream(
            self.requests.agent_stream(&self.session),
        ));
    }

    /// Acts on the session's decision after a connection ended.
    fn after_disconnect(
        &mut self,
        step: NextStep,
        what: String,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        self.unregister();
        match step {
            NextStep::Reconnect { after } => {
                self.link = Link::Waiting(now.checked_add(after).unwrap_or(now));
                fx.push(notice(
                    Level::Warn,
                    None,
                    format!(
                        "{what}; reconnecting in {after:?} (failure {} in a row)",
                        self.session.failures()
                    ),
                ));
                self.give_up_if_idle(now, fx);
            }
            NextStep::Done => self.link = Link::Closed,
            NextStep::GiveUp(error) => {
                self.link = Link::Closed;
                self.begin_stop(StopReason::Fatal(error), now, fx);
            }
        }
    }

    /// Stops an idle worker that ran out of reconnects; true when it did.
    fn give_up_if_idle(&mut self, now: Instant, fx: &mut Vec<Effect>) -> bool {
        let Some(max) = self.policy.max_idle_reconnects else {
            return false;
        };
        if self.in_flight() > 0 || self.session.failures() <= max || self.stopping.is_some() {
            return false;
        }
        self.link = Link::Closed;
        self.session.stop();
        let error = Error::Transport(TransportError::new(
            TransportErrorKind::Connect,
            format!(
                "gave up on the agent stream after {} failed connections in a row (max_idle_reconnects = {max})",
                self.session.failures()
            ),
            None,
        ));
        self.begin_stop(StopReason::Fatal(error), now, fx);
        true
    }

    fn unregister(&mut self) {
        self.worker_id = None;
        self.heartbeat_at = None;
        self.heartbeat_in_flight = false;
        self.capacity.server = None;
        self.capacity.retry_at = None;
    }

    fn on_agent_event(&mut self, event: AgentEvent, now: Instant, fx: &mut Vec<Effect>) {
        match event {
            AgentEvent::Registration(asset) => self.on_registration(*asset, fx),
            AgentEvent::Task { task, llm_gateway } => self.intake(task, llm_gateway, fx),
            AgentEvent::Conflict { message } => {
                if self.stopping.is_none() {
                    fx.push(notice(
                        Level::Warn,
                        None,
                        format!("environment conflict: {message}; the worker stops (no reconnect)"),
                    ));
                    self.begin_stop(StopReason::Conflict { message }, now, fx);
                }
            }
            AgentEvent::Malformed { task_id, reason } => self.on_malformed(task_id, reason, fx),
            AgentEvent::Ignored { .. } => {}
        }
    }

    fn on_registration(&mut self, asset: DeployedAsset, fx: &mut Vec<Effect>) {
        if self.stopping.is_some() || self.link != Link::Open {
            return;
        }
        self.session.mark_progress();
        let previous = self.worker_id.replace(asset.id.clone());
        fx.push(notice(
            Level::Info,
            None,
            match previous {
                Some(previous) if previous != asset.id => {
                    format!("registered again as worker {} (was {previous})", asset.id)
                }
                _ => format!("registered as worker {}", asset.id),
            },
        ));
        self.heartbeat_at = None;
        self.heartbeat_in_flight = true;
        fx.push(Effect::SendHeartbeat {
            worker_id: asset.id,
        });
        self.capacity.server = Some(asset.is_busy);
        self.capacity.retry_at = None;
        self.send_capacity(fx);
    }

    fn on_malformed(&mut self, task_id: Option<String>, reason: String, fx: &mut Vec<Effect>) {
        let Some(task_id) = task_id else {
            fx.push(notice(Level::Warn, None, format!("{reason}; skipped")));
            return;
        };
        if self.holds(&task_id) {
            fx.push(notice(
                Level::Warn,
                Some(&task_id),
                format!("{reason}; the worker already has this task, so it is left alone"),
            ));
            return;
        }
        fx.push(notice(
            Level::Warn,
            Some(&task_id),
            format!("{reason}; the task is saved as `error`"),
        ));
        match self
            .requests
            .set_status(&task_id, AgentExecutionStatus::Error, &reason)
        {
            Ok(request) => {
                let call = Call::ReportMalformed { task_id };
                self.side_calls.push(call.clone());
                fx.push(Effect::Send { call, request });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(&task_id),
                format!("cannot save it as `error`: {error}"),
            )),
        }
    }

    // ----- intake ----------------------------------------------------------

    fn holds(&self, task_id: &str) -> bool {
        self.tasks.iter().any(|r| r.id == task_id)
            || self.queue.iter().any(|q| q.task.id == task_id)
    }

    fn intake(&mut self, task: Box<Task>, llm_gateway: Option<LlmGateway>, fx: &mut Vec<Effect>) {
        if self.holds(&task.id) {
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "delivered again while the worker has it; the second delivery is ignored"
                    .to_owned(),
            ));
            return;
        }
        if self.stopping.is_some() {
            // Only the rest of the chunk that stopped the worker (a
            // conflict) gets here; the connection is being closed.
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "arrived as the worker stopped: not claimed, left to the server's dispatch"
                    .to_owned(),
            ));
            return;
        }
        if self.running() < self.policy.concurrency {
            self.claim(task, llm_gateway, fx);
        } else if self.queue.len() < self.policy.queue_capacity {
            self.queue.push_back(Queued { task, llm_gateway });
        } else {
            let message = format!(
                "released by the worker: no free slot nor queue place (concurrency {}, queue {}); back to `pending` for another worker",
                self.policy.concurrency, self.policy.queue_capacity
            );
            self.release(&task.id, &message, fx);
        }
        self.update_capacity(fx);
    }

    /// Sets a task back to `pending` with a message.
    fn release(&mut self, task_id: &str, message: &str, fx: &mut Vec<Effect>) {
        fx.push(notice(Level::Warn, Some(task_id), message.to_owned()));
        match self
            .requests
            .set_status(task_id, AgentExecutionStatus::Pending, message)
        {
            Ok(request) => {
                let call = Call::Release {
                    task_id: task_id.to_owned(),
                };
                self.side_calls.push(call.clone());
                fx.push(Effect::Send { call, request });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(task_id),
                format!("cannot release it: {error}"),
            )),
        }
    }

    /// Takes a slot for a task and saves it as `executing` (the claim).
    fn claim(&mut self, task: Box<Task>, llm_gateway: Option<LlmGateway>, fx: &mut Vec<Effect>) {
        let mut base = *task;
        base.status = Some(AgentExecutionStatus::Executing);
        base.result = None;
        let request = match self.requests.save(&base) {
            Ok(request) => request,
            Err(error) => {
                fx.push(notice(
                    Level::Warn,
                    Some(&base.id),
                    format!("cannot be claimed ({error}); skipped"),
                ));
                return;
            }
        };
        let call = Call::SaveExecuting {
            task_id: base.id.clone(),
        };
        self.tasks.push(TaskRecord {
            id: base.id.clone(),
            base,
            phase: Phase::SaveExecuting,
            handler: Handler::NotStarted,
            holds_slot: true,
            ours: None,
            theirs: None,
            final_body: None,
            metrics_reported: false,
            llm_gateway,
        });
        fx.push(Effect::Send { call, request });
    }

    /// Starts queued tasks while slots are free.
    fn fill_slots(&mut self, fx: &mut Vec<Effect>) {
        while self.stopping.is_none() && self.running() < self.policy.concurrency {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            self.claim(next.task, next.llm_gateway, fx);
        }
    }

    // ----- capacity --------------------------------------------------------

    fn update_capacity(&mut self, fx: &mut Vec<Effect>) {
        let busy = self.running() >= self.policy.concurrency;
        if busy != self.capacity.busy {
            self.capacity.busy = busy;
            self.capacity.seq = self.capacity.seq.saturating_add(1);
        }
        self.send_capacity(fx);
    }

    /// Sends the capacity when the server's view differs, one at a time.
    fn send_capacity(&mut self, fx: &mut Vec<Effect>) {
        if self.stopping.is_some()
            || self.capacity.in_flight
            || self.capacity.retry_at.is_some()
            || self.capacity.server == Some(self.capacity.busy)
            || !self.is_registered()
        {
            return;
        }
        let Some(worker_id) = self.worker_id.clone() else {
            return;
        };
        let busy = self.capacity.busy;
        let event = WorkerEvent::with_id(
            event_id(&mut self.rng),
            WorkerEventType::CapacityUpdate,
            capacity_data(busy),
        );
        match self.requests.worker_event(&worker_id, &event) {
            Ok(request) => {
                self.capacity.in_flight = true;
                fx.push(Effect::Send {
                    call: Call::Capacity {
                        worker_id,
                        seq: self.capacity.seq,
                        busy,
                    },
                    request,
                });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                None,
                format!("cannot send a capacity update: {error}"),
            )),
        }
    }

    // ----- a task's life ---------------------------------------------------

    fn record_mut(&mut self, task_id: &str) -> Option<&mut TaskRecord> {
        self.tasks.iter_mut().find(|r| r.id == task_id)
    }

    /// The claim's answer.
    fn on_claimed(
        &mut self,
        task_id: &str,
        result: Result<()>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(index) = self
            .tasks
            .iter()
            .position(|r| r.id == task_id && r.phase == Phase::SaveExecuting)
        else {
            return;
        };
        let expired = self.stopping.as_ref().is_some_and(|s| s.expired);
        let timeout = self.policy.task_timeout;
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        match result {
            Ok(()) if expired => {
                // Claimed after the grace ran out: not run at all.
                record.holds_slot = false;
                record.ours = Some(failed(&record.base, SHUTDOWN_MESSAGE));
                self.final_save(index, fx);
            }
            Ok(()) => {
                let deadline = timeout.and_then(|t| now.checked_add(t));
                record.phase = Phase::Run {
                    attempt: 1,
                    deadline,
                };
                record.handler = Handler::Running;
                fx.push(Effect::StartHandler(Box::new(HandlerStart {
                    task: record.base.clone(),
                    attempt: 1,
                    deadline,
                    llm_gateway: record.llm_gateway.take(),
                })));
            }
            Err(error) if error.class() == ErrorClass::Client => {
                // The server refused the claim (gone, taken, invalid): the
                // task is not the worker's to run, nor to save.
                fx.push(notice(
                    Level::Warn,
                    Some(task_id),
                    format!(
                        "the server refused to mark the task as executing ({error}); it is not run, and left as the server has it"
                    ),
                ));
                record.holds_slot = false;
                record.phase = Phase::Done;
            }
            Err(error) => {
                fx.push(notice(
                    Level::Warn,
                    Some(task_id),
                    format!("the task could not be marked as executing ({error}); it is not run"),
                ));
                record.holds_slot = false;
                let message = format!("the worker could not mark the task as executing: {error}");
                record.ours = Some(failed(&record.base, &message));
                self.final_save(index, fx);
            }
        }
        self.fill_slots(fx);
        self.update_capacity(fx);
    }

    /// Reads the server's copy before the final save.
    fn reload(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        record.phase = Phase::Reload;
        match self.requests.reload(&record.id) {
            Ok(request) => fx.push(Effect::Send {
                call: Call::Reload {
                    task_id: record.id.clone(),
                },
                request,
            }),
            Err(_) => self.final_save(index, fx),
        }
    }

    /// The reload's answer.
    fn on_reloaded(&mut self, task_id: &str, result: Result<Task>, fx: &mut Vec<Effect>) {
        let Some(index) = self
            .tasks
            .iter()
            .position(|r| r.id == task_id && r.phase == Phase::Reload)
        else {
            return;
        };
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        match result {
            Ok(theirs) => record.theirs = Some(theirs),
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(task_id),
                format!(
                    "reading the task before its final save failed ({error}); it is saved without the server's copy"
                ),
            )),
        }
        self.final_save(index, fx);
    }

    /// Settles the final body and sends its first attempt.
    fn final_save(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        let mut ours = record.ours.take().unwrap_or_else(|| record.base.clone());
        let stopped = record
            .theirs
            .as_ref()
            .is_some_and(|t| t.status == Some(AgentExecutionStatus::Stopped));
        if stopped && ours.status != Some(AgentExecutionStatus::Stopped) {
            fx.push(notice(
                Level::Info,
                Some(&record.id),
                format!(
                    "stopped on the server while it ran: it stays `stopped` (the worker's outcome was `{}`)",
                    ours.status.as_ref().map_or("none", |s| s.as_str())
                ),
            ));
            ours.status = Some(AgentExecutionStatus::Stopped);
        }
        let body = match &record.theirs {
            Some(theirs) => body::merged_save_body(&record.base, &ours, theirs),
            None => runtime_save_body(&ours),
        };
        record.ours = Some(ours);
        match body {
            Ok(body) => {
                record.final_body = Some(body);
                record.phase = Phase::FinalSave {
                    attempt: 1,
                    retry_at: None,
                };
                self.send_final_save(index, fx);
            }
            Err(error) => {
                fx.push(notice(
                    Level::Error,
                    Some(&record.id),
                    format!("the final save cannot be made ({error}); the task keeps its last saved status"),
                ));
                self.after_final_save(index, fx);
            }
        }
    }

    /// Sends the current attempt of the final save.
    fn send_final_save(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get(index) else {
            return;
        };
        let Phase::FinalSave { attempt, .. } = record.phase else {
            return;
        };
        let request = match &record.final_body {
            Some(body) => self.requests.save_value(&record.id, body),
            None => return,
        };
        match request {
            Ok(request) => fx.push(Effect::Send {
                call: Call::FinalSave {
                    task_id: record.id.clone(),
                    attempt,
                },
                request,
            }),
            Err(error) => {
                fx.push(notice(
                    Level::Error,
                    Some(&record.id),
                    format!("the final save cannot be made ({error})"),
                ));
                self.after_final_save(index, fx);
            }
        }
    }

    /// The final save's answer: done, another attempt later, or given up.
    fn on_saved(
        &mut self,
        task_id: &str,
        attempt: u32,
        result: Result<()>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(index) = self.tasks.iter().position(|r| {
            r.id == task_id
                && r.phase
                    == Phase::FinalSave {
                        attempt,
                        retry_at: None,
                    }
        }) else {
            return;
        };
        let error = match result {
            Ok(()) => return self.after_final_save(index, fx),
            Err(error) => error,
        };
        let retryable = error.class() != ErrorClass::Client;
        let max = self.policy.save_attempts;
        let status = self
            .tasks
            .get(index)
            .and_then(|r| r.ours.as_ref())
            .and_then(|t| t.status.as_ref())
            .map_or("none", |s| s.as_str())
            .to_owned();
        if retryable && attempt < max {
            let ceiling = backoff_ceiling(
                self.policy.save_initial_delay,
                self.policy.save_max_delay,
                attempt,
            );
            let delay = equal_jitter(&mut self.rng, ceiling);
            fx.push(notice(
                Level::Warn,
                Some(task_id),
                format!(
                    "the final save (status `{status}`) failed, attempt {attempt} of {max}: {error}; trying again in {delay:?}"
                ),
            ));
            if let Some(record) = self.tasks.get_mut(index) {
                record.phase = Phase::FinalSave {
                    attempt: attempt.saturating_add(1),
                    retry_at: Some(now.checked_add(delay).unwrap_or(now)),
                };
            }
        } else {
            fx.push(notice(
                Level::Error,
                Some(task_id),
                format!(
                    "gave up saving the final status `{status}` after {attempt} attempt(s): {error}; the server keeps the task's last saved status"
                ),
            ));
            self.after_final_save(index, fx);
        }
    }

    /// After the final save (done or given up): the metrics, once, when
    /// the task has tokens.
    fn after_final_save(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        record.phase = Phase::Done;
        let Some(task) = record
            .ours
            .as_ref()
            .filter(|t| t.tokens.is_some() && !record.metrics_reported)
        else {
            return;
        };
        record.metrics_reported = true;
        match self.requests.metrics(task) {
            Ok(request) => {
                record.phase = Phase::Metrics;
                fx.push(Effect::Send {
                    call: Call::Metrics {
                        task_id: record.id.clone(),
                    },
                    request,
                });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(&record.id),
                format!("its metrics cannot be reported: {error}"),
            )),
        }
    }

    /// Cancels a running handler and settles its task as `error`.
    fn cancel(
        &mut self,
        index: usize,
        reason: CancelReason,
        message: String,
        fx: &mut Vec<Effect>,
    ) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        if record.handler != Handler::Running || !matches!(record.phase, Phase::Run { .. }) {
            return;
        }
        record.handler = Handler::Cancelled;
        fx.push(Effect::CancelHandler {
            task_id: record.id.clone(),
            reason,
        });
        fx.push(notice(Level::Warn, Some(&record.id), message.clone()));
        record.ours = Some(failed(&record.base, &message));
        self.reload(index, fx);
    }

    // ----- stopping --------------------------------------------------------

    fn begin_stop(&mut self, reason: StopReason, now: Instant, fx: &mut Vec<Effect>) {
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
    fn forget_queue(&mut self, why: &str, fx: &mut Vec<Effect>) {
        for queued in std::mem::take(&mut self.queue) {
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
    fn expire_grace(&mut self, fx: &mut Vec<Effect>) {
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
    fn maybe_finish(&mut self, fx: &mut Vec<Effect>) {
        self.sweep();
        if self.finished || self.in_flight() > 0 || !self.side_calls.is_empty() {
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

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("agent_id", &self.requests.agent_id())
            .field("link", &self.link)
            .field("worker_id", &self.worker_id)
            .field("running", &self.running())
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight())
            .field("busy", &self.capacity.busy)
            .field("capacity_seq", &self.capacity.seq)
            .field("stopping", &self.stopping.is_some())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// The task to save after a handler ended.
fn settle(base: &Task, outcome: HandlerOutcome) -> Task {
    match outcome {
        HandlerOutcome::Finished(task) if task.id != base.id => failed(
            base,
            &format!(
                "the handler returned another task ({:?}) than the one it was given",
                task.id
            ),
        ),
        HandlerOutcome::Finished(task) => {
            let mut task = *task;
            if matches!(task.status, None | Some(AgentExecutionStatus::Executing)) {
                task.status = Some(AgentExecutionStatus::Completed);
            }
            task
        }
        HandlerOutcome::Failed { message, task } => {
            let task = task.filter(|t| t.id == base.id);
            failed(task.as_deref().unwrap_or(base), &message)
        }
        HandlerOutcome::Cancelled => failed(base, "the handler was cancelled before it finished"),
    }
}

/// `task` with status `error` and `message` as its result.
fn failed(task: &Task, message: &str) -> Task {
    let mut task = task.clone();
    task.status = Some(AgentExecutionStatus::Error);
    task.result = Some(message.to_owned());
    task
}

/// Why a connection ended, for a notice.
fn describe(why: &Disconnect) -> String {
    match why {
        Disconnect::Eof => "the agent stream ended".to_owned(),
        Disconnect::IdleTimeout => "the agent stream was silent past its idle timeout".to_owned(),
        Disconnect::Error(error) => format!("the agent stream failed: {error}"),
    }
}

fn notice(level: Level, task_id: Option<&str>, message: String) -> Effect {
    Effect::Notice(Notice {
        level,
        task_id: task_id.map(str::to_owned),
        message,
    })
}
