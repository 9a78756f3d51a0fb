//! The public REST API v1: invoke an agent and read what happened.
//!
//! The service publishes, next to the Tasks API, a REST API for
//! applications (`https://api.xpander.ai`, [`crate::Config::public_api_url`]):
//! invoke an agent and get the answer in one call, invoke it and follow it,
//! hold a conversation by reusing a thread id, page through tasks, read a
//! task's thread, delete a task. Every operation is a method of
//! [`crate::Tasks`] in both faces, written once (`src/front_public.rs`),
//! its request built and its answer parsed in [`crate::sans_io::public`]:
//!
//! | operation | blocking | async | endpoint |
//! |---|---|---|---|
//! | invoke, answer in one call | `invoke` | `ainvoke` | `POST /v1/agents/{id}/invoke` |
//! | invoke, task back at once | `invoke_async` | `ainvoke_async` | `POST /v1/agents/{id}/invoke/async` |
//! | invoke, events as they come | `invoke_stream` | `ainvoke_stream` | `POST /v1/agents/{id}/invoke/stream` |
//! | one page of tasks | `list_tasks` | `alist_tasks` | `GET /v1/tasks` |
//! | every page of tasks | `tasks_pages` (`Iterator`) | `atasks_pages` (`Stream`) | `GET /v1/tasks` |
//! | one page of an agent's tasks | `agent_tasks` | `aagent_tasks` | `GET /v1/agents/{id}/tasks` |
//! | every page of an agent's tasks | `agent_tasks_pages` | `aagent_tasks_pages` | `GET /v1/agents/{id}/tasks` |
//! | a task | `get_task` | `aget_task` | `GET /v1/tasks/{id}` |
//! | delete a task | `delete_task` | `adelete_task` | `DELETE /v1/tasks/{id}` |
//! | a task's thread | `thread` | `athread` | `GET /v1/tasks/{id}/thread` |
//! | its full thread (sub-tasks too) | `full_thread` | `afull_thread` | `GET /v1/tasks/{id}/thread/full` |
//! | a conversation | [`Conversation::say`] | [`Conversation::asay`] | `invoke` with the thread id |
//!
//! # Rules
//!
//! - Same client, same key, same TLS, proxy, plain-http and redaction
//!   rules as every other host the key goes to; only the base URL differs.
//! - Retries: reads and delete are retried as every idempotent call is. An
//!   invoke (sync, async or streamed) runs an agent: it is retried only when
//!   nothing reached the server (connection refused, connect timeout) or on
//!   `429`, never once sent.
//! - A sync invoke lasts as long as the agent runs: it takes its own
//!   deadline (per call), which replaces the client's request timeout and
//!   deadline for that call. Durations are clamped to 1 ms..=24 h.
//! - Paging: `per_page` must be 1..=50 and `page` at least 1, checked
//!   before anything is sent (the service would answer `422`).
//!
//! # Paging over a list that changes
//!
//! The service pages by offset. A walk over all pages
//! ([`crate::Tasks::tasks_pages`]) fetches one page at a time, lazily (at
//! most one page in memory), and stops after page `total_pages` (as the
//! latest page says; when an answer does not say, after a page shorter
//! than `per_page`), at an empty page, at a page the same as the one
//! before, or at an answer that names another page than the one asked for
//! (a server that ignores `page` cannot make it loop). What it
//! guarantees while the list changes under it: it never yields a task that
//! the page before yielded (tasks created meanwhile push others onto the
//! next page: those are not yielded twice); a task that exists for the
//! whole walk and is pushed back by less than a page between two fetches
//! is yielded. Tasks deleted during the walk shift others forward past the
//! walk's cursor, which are then not yielded: walk again when that matters
//! (a walk that deletes what it reads, say).
//!
//! # What the published material disagrees about
//!
//! - The list `status` filter: the reference page names `queued, running,
//!   completed, failed, cancelled`, the schema `pending, executing, paused,
//!   error, failed, completed, stopped`. The crate sends what it is given
//!   and reads any value (unknown values kept).
//! - Delete answers `204` (schema) or `200 {"message": ...}` (page): both
//!   are success ([`crate::model::Deleted`]).
//! - `created_at` is an ISO date-time on tasks and Unix seconds on thread
//!   messages: both are read as a [`crate::model::Timestamp`].
//! - The stream's event types: the page sketches `task_started`,
//!   `content_chunk`, `task_completed`; the live task streams use
//!   `task_created`, `chunk`, `task_finished`. Both sets are typed, any
//!   other type is kept whole ([`crate::model::InvokeEvent`]).

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::{AgentExecutionStatus, McpServer, OutputFormat, ThinkMode, User};

/// The keys [`Invoke`] models (not to be repeated in its `extra`).
const MODELLED: [&str; 17] = [
    "input",
    "id",
    "payload_extension",
    "parent_execution_id",
    "worker_id",
    "source",
    "output_format",
    "output_schema",
    "run_locally",
    "additional_context",
    "expected_output",
    "events_streaming",
    "mcp_servers",
    "triggering_agent_id",
    "title",
    "think_mode",
    "disable_attachment_injection",
];

/// The largest page the service serves.
pub const MAX_PER_PAGE: u32 = 50;

/// The shortest and the longest per-call deadline of a sync invoke.
pub const INVOKE_DEADLINE_RANGE: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(24 * 3600));

/// The deadline a [`Conversation`] gives each turn unless told otherwise.
pub const DEFAULT_INVOKE_DEADLINE: Duration = Duration::from_secs(600);

/// A caller's duration, floored and clamped to [`INVOKE_DEADLINE_RANGE`].
pub(crate) fn clamp_deadline(deadline: Duration) -> Duration {
    deadline.clamp(INVOKE_DEADLINE_RANGE.0, INVOKE_DEADLINE_RANGE.1)
}

/// The input of an invoke: text and/or file URLs, and the user.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct InvokeInput {
    /// The prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// URLs of files the agent should read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// The user the task runs for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

/// The body of an invoke (`AgentExecutionRequest`). Fields left unset are
/// not sent (the service's defaults apply).
///
/// ```
/// use xpander_sdk::public::Invoke;
///
/// let request = Invoke::new("What is 2+2?").thread_id("thread-1").title("math");
/// assert_eq!(
///     serde_json::to_value(&request)?,
///     serde_json::json!({"input": {"text": "What is 2+2?"}, "id": "thread-1", "title": "math"})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Invoke {
    /// Text, files and user.
    pub input: InvokeInput,
    /// The thread id: reuse it to continue a conversation (absent: the
    /// service makes one; the answer carries it back as the task's `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Extra fields merged into every tool-call payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_extension: Option<Map<String, Value>>,
    /// The parent task, for a sub-task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_execution_id: Option<String>,
    /// The worker that should run the task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The task's origin tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The format of the result (`text` by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// A JSON schema the result must follow (with `json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Run on the caller's worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_locally: Option<bool>,
    /// Extra context for the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
    /// What the result should look like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<String>,
    /// Stream the task's events (on the Tasks API's event stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_streaming: Option<bool>,
    /// MCP servers the agent may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<McpServer>>,
    /// The agent that triggered this task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggering_agent_id: Option<String>,
    /// A title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// How hard the agent thinks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think_mode: Option<ThinkMode>,
    /// Do not inject attachments into the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_attachment_injection: Option<bool>,
    /// Fields this crate does not model, sent as given (after the others);
    /// a modelled field's name here is refused before sending.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Invoke {
    /// The payload extension, the output schema and `extra` show with the
    /// values of credential-looking keys redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: Value| {
            let mut v = v;
            crate::redact::redact_credentials(&mut v);
            v
        };
        f.debug_struct("Invoke")
            .field("input", &self.input)
            .field("id", &self.id)
            .field(
                "payload_extension",
                &self
                    .payload_extension
                    .clone()
                    .map(|m| redacted(Value::Object(m))),
            )
            .field("parent_execution_id", &self.parent_execution_id)
            .field("worker_id", &self.worker_id)
            .field("source", &self.source)
            .field("output_format", &self.output_format)
            .field("output_schema", &self.output_schema.clone().map(redacted))
            .field("run_locally", &self.run_locally)
            .field("additional_context", &self.additional_context)
            .field("expected_output", &self.expected_output)
            .field("events_streaming", &self.events_streaming)
            .field("mcp_servers", &self.mcp_servers)
            .field("triggering_agent_id", &self.triggering_agent_id)
            .field("title", &self.title)
            .field("think_mode", &self.think_mode)
            .field(
                "disable_attachment_injection",
                &self.disable_attachment_injection,
            )
            .field("extra", &redacted(Value::Object(self.extra.clone())))
            .finish()
    }
}

macro_rules! invoke_setters {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                self.$field = Some(value.into());
                self
            }
        )*
    };
}

impl Invoke {
    /// An invoke with the prompt `text`.
    pub fn new(text: impl Into<String>) -> Invoke {
        Invoke {
            input: InvokeInput {
                text: Some(text.into()),
                ..InvokeInput::default()
            },
            ..Invoke::default()
        }
    }

    /// Continues the conversation of thread `id` (the request's `id`).
    pub fn thread_id(mut self, id: impl Into<String>) -> Invoke {
        self.id = Some(id.into());
        self
    }

    /// Adds file URLs to the input.
    pub fn files<I, S>(mut self, urls: I) -> Invoke
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.input
            .files
            .get_or_insert_with(Vec::new)
            .extend(urls.into_iter().map(Into::into));
        self
    }

    /// Sets the user the task runs for.
    pub fn user(mut self, user: User) -> Invoke {
        self.input.user = Some(user);
        self
    }

    invoke_setters! {
        /// Sets the payload extension.
        payload_extension: Map<String, Value>,
        /// Sets the parent task.
        parent_execution_id: String,
        /// Sets the worker.
        worker_id: String,
        /// Sets the origin tag.
        source: String,
        /// Sets the result's format.
        output_format: OutputFormat,
        /// Sets the result's JSON schema.
        output_schema: Value,
        /// Runs on the caller's worker.
        run_locally: bool,
        /// Sets extra context.
        additional_context: String,
        /// Sets what the result should look like.
        expected_output: String,
        /// Streams the task's events.
        events_streaming: bool,
        /// Sets the MCP servers.
        mcp_servers: Vec<McpServer>,
        /// Sets the triggering agent.
        triggering_agent_id: String,
        /// Sets the title.
        title: String,
        /// Sets the think mode.
        think_mode: ThinkMode,
        /// Disables attachment injection.
        disable_attachment_injection: bool,
    }

    /// Checks what the service would refuse with a `422`: an input without
    /// text or files, an empty thread id.
    pub(crate) fn check(&self) -> Result<()> {
        let text = self.input.text.as_deref().is_some_and(|t| !t.is_empty());
        let files = self.input.files.as_ref().is_some_and(|f| !f.is_empty());
        if !text && !files {
            return Err(Error::invalid(
                "input",
                "needs text or files (the service answers 422 otherwise)",
            ));
        }
        if self.id.as_deref() == Some("") {
            return Err(Error::invalid("id", "the thread id must not be empty"));
        }
        if let Some(key) = self.extra.keys().find(|k| MODELLED.contains(&k.as_str())) {
            return Err(Error::invalid(
                "extra",
                format!("holds {key:?}, a field of its own: set that field instead"),
            ));
        }
        Ok(())
    }
}

/// Which page of a task list, and its filters (`GET /v1/tasks`,
/// `GET /v1/agents/{id}/tasks`). Unset values are not sent.
///
/// ```
/// use xpander_sdk::public::TaskQuery;
///
/// let query = TaskQuery::new().per_page(50).status("completed");
/// assert_eq!(query.per_page, Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskQuery {
    /// The page, from 1 (default 1). A walk over all pages starts here.
    pub page: Option<u32>,
    /// The page size, 1..=50 (default 20).
    pub per_page: Option<u32>,
    /// Only tasks of this user.
    pub user_id: Option<String>,
    /// Only sub-tasks of this task.
    pub parent_task_id: Option<String>,
    /// Only tasks of this agent (`GET /v1/tasks` only: the agent route's path names it).
    pub agent_id: Option<String>,
    /// Only tasks triggered by this agent.
    pub triggering_agent_id: Option<String>,
    /// Only tasks in this status (sent as given: the published material
    /// disagrees on the set, see the [module documentation](self)).
    pub status: Option<AgentExecutionStatus>,
    /// Only tasks with this internal status.
    pub internal_status: Option<String>,
}

impl TaskQuery {
    /// The first page, default size, no filter.
    pub fn new() -> TaskQuery {
        TaskQuery::default()
    }

    /// Sets the page (from 1).
    pub fn page(mut self, page: u32) -> TaskQuery {
        self.page = Some(page);
        self
    }

    /// Sets the page size (1..=50).
    pub fn per_page(mut self, per_page: u32) -> TaskQuery {
        self.per_page = Some(per_page);
        self
    }

    /// Only tasks in this status.
    pub fn status(mut self, status: impl Into<AgentExecutionStatus>) -> TaskQuery {
        self.status = Some(status.into());
        self
    }

    invoke_setters! {
        /// Only tasks of this user.
        user_id: String,
        /// Only sub-tasks of this task.
        parent_task_id: String,
        /// Only tasks of this agent.
        agent_id: String,
        /// Only tasks triggered by this agent.
        triggering_agent_id: String,
        /// Only tasks with this internal status.
        internal_status: String,
    }

    /// Refuses what the service would answer with a `422`.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(per_page) = self.per_page {
            if !(1..=MAX_PER_PAGE).contains(&per_page) {
                return Err(Error::invalid(
                    "per_page",
                    format!("must be 1..={MAX_PER_PAGE}, not {per_page}"),
                ));
            }
        }
        if self.page == Some(0) {
            return Err(Error::invalid("page", "starts at 1, not 0"));
        }
        Ok(())
    }
}

/// A multi-turn conversation with one agent: keeps the thread id across
/// turns (the first answer's task id, or the one given), so a chat loop is
/// three lines. Each turn is a sync invoke ([`crate::Tasks::invoke`]) with
/// [`Conversation::deadline`].
///
/// ```
/// # #[cfg(all(feature = "blocking", feature = "emulator"))] {
/// # let emulator = xpander_sdk::emulator::Emulator::start()?;
/// use xpander_sdk::{public::Conversation, Tasks};
///
/// let tasks = Tasks::builder()
///     .api_key(emulator.api_key())
///     .public_api_url(emulator.base_url())
///     .build()?;
/// let mut chat = Conversation::new(&tasks, "echo-agent");
/// let first = chat.say("Hello")?;
/// let second = chat.say("And again")?;
/// assert_eq!(chat.thread_id(), Some(first.id.as_str()));
/// assert_eq!(second.id, first.id, "the same thread");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conversation {
    pub(crate) tasks: crate::Tasks,
    pub(crate) agent_id: String,
    pub(crate) thread_id: Option<String>,
    pub(crate) template: Invoke,
    pub(crate) deadline: Duration,
}

impl Conversation {
    /// A new conversation with agent `agent_id` (the service makes the
    /// thread id at the first turn).
    pub fn new(tasks: &crate::Tasks, agent_id: impl Into<String>) -> Conversation {
        Conversation {
            tasks: tasks.clone(),
            agent_id: agent_id.into(),
            thread_id: None,
            template: Invoke::default(),
            deadline: DEFAULT_INVOKE_DEADLINE,
        }
    }

    /// Continues thread `thread_id`.
    pub fn resume(mut self, thread_id: impl Into<String>) -> Conversation {
        self.thread_id = Some(thread_id.into());
        self
    }

    /// The fields every turn sends besides its text and the thread id (a
    /// user, an output format, ...).
    pub fn with_template(mut self, template: Invoke) -> Conversation {
        self.template = template;
        self
    }

    /// Each turn's deadline (default 10 minutes; clamped to 1 ms..=24 h).
    pub fn deadline(mut self, deadline: Duration) -> Conversation {
        self.deadline = clamp_deadline(deadline);
        self
    }

    /// The thread id, once known.
    pub fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    /// The agent.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The request of the next turn.
    pub(crate) fn turn(&self, text: &str) -> Invoke {
        let mut request = self.template.clone();
        request.input.text = Some(text.to_owned());
        request.id = self.thread_id.clone().or(request.id);
        request
    }

    /// After a turn: the answer's id is the thread's.
    pub(crate) fn answered(&mut self, task: &crate::model::Task) {
        if !task.id.is_empty() {
            self.thread_id = Some(task.id.clone());
        }
    }
}
