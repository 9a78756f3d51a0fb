//! What a task's handler is, and what it gets besides the task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::model::{EventPayload, Task, TaskEvent, TaskEventType};
use crate::sans_io::worker::LlmGateway;
use crate::Tasks;

/// Any error a handler returns: its `Display` is the message saved as the
/// task's `result` (with status `error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The future a [`Handler`] answers: the task (changed as the handler
/// pleases) or an error.
pub type HandlerFuture = Pin<Box<dyn Future<Output = std::result::Result<Task, BoxError>> + Send>>;

/// Runs one task. Implemented for every closure
/// `Fn(Task, TaskContext) -> impl Future<Output = Result<Task, E>>` with
/// `E: Into<BoxError>`; implement it on your own type for a handler with
/// state (it is then held as a trait object, shared by all tasks: `&self`),
/// and pass it to
/// [`WorkerBuilder::custom_handler`](super::WorkerBuilder::custom_handler).
/// The usual handler is a closure given to
/// [`WorkerBuilder::handler`](super::WorkerBuilder::handler), whose error
/// type is [`BoxError`] (so that the closure needs no annotation).
///
/// The handler returns the task it was given, changed: `result`, and as it
/// needs `status` (anything but `executing` is kept; `executing` becomes
/// `completed`), `tokens` (then metrics are reported, once), `used_tools`,
/// or any other field. An error saves the task as `error` with the error's
/// message as its `result`; return [`TaskFailed`] to keep the task's
/// fields too (the tokens already spent).
///
/// ```
/// use xpander_sdk::runtime::{Handler, HandlerFuture, TaskContext};
/// use xpander_sdk::Task;
///
/// struct Echo {
///     prefix: String,
/// }
///
/// impl Handler for Echo {
///     fn handle(&self, mut task: Task, _ctx: TaskContext) -> HandlerFuture {
///         let prefix = self.prefix.clone();
///         Box::pin(async move {
///             task.result = Some(format!("{prefix}{}", task.input.text));
///             Ok(task)
///         })
///     }
/// }
/// # let _ = Echo { prefix: "echo: ".into() };
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Runs `task`. Cooperative cancellation: stop when
    /// [`TaskContext::cancelled`] completes (the deadline passed, or the
    /// worker shuts down); what the handler returns then is not used.
    fn handle(&self, task: Task, ctx: TaskContext) -> HandlerFuture;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(Task, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Task, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn handle(&self, task: Task, ctx: TaskContext) -> HandlerFuture {
        let run = self(task, ctx);
        Box::pin(async move { run.await.map_err(Into::into) })
    }
}

/// A blocking handler, run on tokio's blocking threads
/// ([`WorkerBuilder::blocking_handler`](super::WorkerBuilder::blocking_handler)).
pub(crate) struct Blocking<F>(pub(crate) Arc<F>);

impl<F, E> Handler for Blocking<F>
where
    F: Fn(Task, TaskContext) -> std::result::Result<Task, E> + Send + Sync + 'static,
    E: Into<BoxError>,
{
    fn handle(&self, task: Task, ctx: TaskContext) -> HandlerFuture {
        let run = self.0.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || run(task, ctx).map_err(Into::into)).await {
                Ok(outcome) => outcome,
                // A panic goes on as a panic (the runtime reports it as
                // one); a blocking task is never aborted.
                Err(error) => match error.try_into_panic() {
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(error) => Err(Box::new(error) as BoxError),
                },
            }
        })
    }
}

/// A handler's error that keeps the task as the handler left it: the task
/// is saved as `error` with this error's message, and with the task's other
/// fields (its `tokens` are reported).
///
/// ```
/// use xpander_sdk::runtime::{BoxError, TaskFailed};
/// use xpander_sdk::model::{Task, Tokens};
///
/// fn fail(mut task: Task) -> Result<Task, BoxError> {
///     task.tokens = Some(Tokens::new(120, 0));
///     Err(TaskFailed::new("the model refused the prompt", task).into())
/// }
/// # let task: Task = serde_json::from_value(serde_json::json!({"id": "t", "agent_id": "a",
/// #     "organization_id": "o", "input": {"text": "x"}, "created_at": "2026-01-01T00:00:00Z"})).unwrap();
/// let error = fail(task).unwrap_err();
/// assert_eq!(error.to_string(), "the model refused the prompt");
/// ```
pub struct TaskFailed {
    error: BoxError,
    task: Box<Task>,
}

impl TaskFailed {
    /// `error`, with the task as the handler left it.
    pub fn new(error: impl Into<BoxError>, task: Task) -> TaskFailed {
        TaskFailed {
            error: error.into(),
            task: Box::new(task),
        }
    }

    /// The task as the handler left it.
    pub fn task(&self) -> &Task {
        &self.task
    }

    pub(crate) fn into_parts(self) -> (BoxError, Box<Task>) {
        (self.error, self.task)
    }
}

impl fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for TaskFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFailed")
            .field("error", &self.error)
            .field("task_id", &self.task.id)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for TaskFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// What a handler gets besides its task: the run's attempt number and
/// deadline, a cancellation token, the LLM gateway route the task came
/// with, and a way to push the task's live events.
///
/// Its `Debug` shows no credential (the gateway's token is hidden).
#[derive(Clone)]
pub struct TaskContext {
    task_id: String,
    organization_id: String,
    attempt: u32,
    deadline: Option<Instant>,
    cancel: CancellationToken,
    llm_gateway: Option<LlmGateway>,
    tasks: Tasks,
}

impl TaskContext {
    pub(crate) fn new(
        tasks: Tasks,
        task: &Task,
        attempt: u32,
        deadline: Option<Instant>,
        cancel: CancellationToken,
        llm_gateway: Option<LlmGateway>,
    ) -> TaskContext {
        TaskContext {
            task_id: task.id.clone(),
            organization_id: task.organization_id.clone(),
            attempt,
            deadline,
            cancel,
            llm_gateway,
            tasks,
        }
    }

    /// The task's id.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The run number of this task on this worker (1: the first). The
    /// worker never runs a task again behind the handler's back.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// When the worker gives up on this run (then the token is cancelled
    /// and the task saved as `error`: "timeout"); `None`: no deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline (zero once it passed); `None`:
    /// no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The token cancelled when the worker gives up on this run: its
    /// deadline passed, or the shutdown grace ran out. Hand it to the
    /// libraries the handler calls, or `select!` on
    /// [`cancelled`](Self::cancelled).
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// True once the run is cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the run is cancelled.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The LLM gateway route the task was delivered with
    /// (`payload_extension.llm_gateway`), if any. It is never saved back.
    pub fn llm_gateway(&self) -> Option<&LlmGateway> {
        self.llm_gateway.as_ref()
    }

    /// The worker's client, for other calls the handler makes.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// Pushes an event to the task's live stream
    /// ([`Tasks::apush_events`]).
    pub async fn push(&self, event: TaskEvent) -> Result<()> {
        self.tasks
            .apush_events(&self.task_id, std::slice::from_ref(&event))
            .await
    }

    /// Pushes a `chunk` of the answer's text to the task's live stream.
    pub async fn chunk(&self, text: impl Into<String>) -> Result<()> {
        self.push(self.event(TaskEventType::Chunk, EventPayload::Text(text.into())))
            .await
    }

    /// An event of `kind` about this task, stamped now, to
    /// [`push`](Self::push).
    pub fn event(&self, kind: TaskEventType, payload: EventPayload) -> TaskEvent {
        TaskEvent::new(kind, &self.task_id, &self.organization_id, payload)
    }

    /// [`push`](Self::push) from a blocking handler (it must run on the
    /// worker's blocking threads, as
    /// [`blocking_handler`](super::WorkerBuilder::blocking_handler) runs
    /// it; not from an async context).
    pub fn push_blocking(&self, event: TaskEvent) -> Result<()> {
        tokio::runtime::Handle::current().block_on(self.push(event))
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("task_id", &self.task_id)
            .field("attempt", &self.attempt)
            .field("deadline", &self.deadline)
            .field("cancelled", &self.cancel.is_cancelled())
            .field("llm_gateway", &self.llm_gateway)
            .finish_non_exhaustive()
    }
}
