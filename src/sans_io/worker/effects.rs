//! The vocabulary between the worker and its runtime: the [`Effect`]s the
//! worker asks for, the [`Call`]s whose answers come back, and what they
//! carry.

use std::time::Instant;

use super::LlmGateway;
use crate::error::Error;
use crate::model::Task;
use crate::sans_io::HttpRequest;

/// A request the worker asked for, named so that its answer can be handed
/// back ([`WorkerMachine::on_response`](super::WorkerMachine::on_response)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// The read of the task right before its claim (is it still the
    /// worker's to run?).
    Check {
        /// The task.
        task_id: String,
    },
    /// The claim: the task's status set to `executing` (a partial update:
    /// that field only).
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
/// [module documentation](super) for how each is carried out.
#[derive(Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Open the agent stream with this request (within
    /// [`StreamPolicy::connect_timeout`](crate::sans_io::stream::StreamPolicy::connect_timeout))
    /// and hand the answer's head to
    /// [`WorkerMachine::on_stream_open`](super::WorkerMachine::on_stream_open).
    OpenStream(HttpRequest),
    /// The stream answered an event stream: read it, handing each chunk to
    /// [`WorkerMachine::on_stream_bytes`](super::WorkerMachine::on_stream_bytes), and its
    /// end (or an idle timeout, or a read error) to
    /// [`WorkerMachine::on_stream_end`](super::WorkerMachine::on_stream_end).
    ReadStream,
    /// The stream answered an error status: read at most
    /// [`MAX_ERROR_BODY_BYTES`](crate::sans_io::MAX_ERROR_BODY_BYTES) of the body,
    /// make the [`ApiError`](crate::ApiError) of it and hand it to
    /// [`WorkerMachine::on_stream_end`](super::WorkerMachine::on_stream_end) as
    /// [`Disconnect::Error`](crate::sans_io::stream::Disconnect::Error).
    ReadStreamError,
    /// Close the stream (or the attempt); the worker reconnects by itself
    /// when it should (an [`Effect::OpenStream`] from
    /// [`WorkerMachine::on_tick`](super::WorkerMachine::on_tick)).
    CloseStream,
    /// Send this request; hand the answer (or the transport's error) to
    /// [`WorkerMachine::on_response`](super::WorkerMachine::on_response) with `call`.
    Send {
        /// What it is.
        call: Call,
        /// The request.
        request: HttpRequest,
    },
    /// Send a heartbeat for this worker id: build it with
    /// [`WorkerMachine::heartbeat_request`](super::WorkerMachine::heartbeat_request) and
    /// the wall-clock time, and hand the answer to
    /// [`WorkerMachine::on_response`](super::WorkerMachine::on_response) with
    /// [`Call::Heartbeat`].
    SendHeartbeat {
        /// The worker id.
        worker_id: String,
    },
    /// Run the handler of a task.
    StartHandler(Box<HandlerStart>),
    /// Trigger the cancellation token of a task's handler. The task's fate
    /// is already settled; when the handler returns, still call
    /// [`WorkerMachine::on_handler_done`](super::WorkerMachine::on_handler_done) (the
    /// slot is free once the handler has returned and the final save is
    /// done).
    CancelHandler {
        /// The task.
        task_id: String,
        /// Why.
        reason: CancelReason,
    },
    /// Abort the handler of a task: it was cancelled
    /// ([`Effect::CancelHandler`]) [`WorkerPolicy::abort_grace`](super::WorkerPolicy::abort_grace)
    /// ago and has not returned. Its task is settled (its slot is free once
    /// its final save is done);
    /// do not call [`WorkerMachine::on_handler_done`](super::WorkerMachine::on_handler_done)
    /// for it (it is ignored if you do).
    AbortHandler {
        /// The task.
        task_id: String,
    },
    /// Something to log.
    Notice(Notice),
    /// The worker is done: every task is settled, or the shutdown
    /// deadline came. Abort the handlers and requests left, run the
    /// shutdown hooks and leave.
    Finished {
        /// Why it stopped.
        reason: StopReason,
        /// Tasks whose handler was cancelled and did not return by itself
        /// (aborted, or still running now).
        abandoned: Vec<String>,
        /// Tasks claimed whose final status the worker could not save (the
        /// deadline came first, or the save was given up); the server
        /// keeps their last saved status (`executing`).
        unsaved: Vec<String>,
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
    /// [`WorkerPolicy::task_timeout`](super::WorkerPolicy::task_timeout)).
    pub deadline: Option<Instant>,
    /// The LLM gateway route the task was delivered with.
    pub llm_gateway: Option<LlmGateway>,
}

/// Why a handler is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// Its deadline passed
    /// ([`WorkerPolicy::task_timeout`](super::WorkerPolicy::task_timeout)).
    Timeout,
    /// The shutdown grace ran out
    /// ([`WorkerPolicy::shutdown_grace`](super::WorkerPolicy::shutdown_grace)).
    Shutdown,
}

/// How a handler ended, as the runtime reports it
/// ([`WorkerMachine::on_handler_done`](super::WorkerMachine::on_handler_done)).
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
    /// [`WorkerMachine::begin_shutdown`](super::WorkerMachine::begin_shutdown) (SIGTERM, Ctrl-C).
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
    /// The server's copy is being read before the claim.
    Check,
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

pub(super) fn notice(level: Level, task_id: Option<&str>, message: String) -> Effect {
    Effect::Notice(Notice {
        level,
        task_id: task_id.map(str::to_owned),
        message,
    })
}

/// Notices among the effects answered.
pub(super) trait Notes {
    /// Adds a [`Notice`].
    fn note(&mut self, level: Level, task_id: Option<&str>, message: impl Into<String>);
}

impl Notes for Vec<Effect> {
    fn note(&mut self, level: Level, task_id: Option<&str>, message: impl Into<String>) {
        self.push(notice(level, task_id, message.into()));
    }
}
