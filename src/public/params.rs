//! The public API's call parameters: what an invoke sends and what a task
//! list asks (re-exported by [`crate::public`]).

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::{AgentExecutionStatus, McpServer, OutputFormat, ThinkMode, User};
use crate::params::setters;
use crate::redact::redacting_debug;

/// The largest page the service serves.
pub const MAX_PER_PAGE: u32 = 50;

/// The shortest and the longest per-call deadline of a sync invoke.
pub const INVOKE_DEADLINE_RANGE: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(24 * 3600));

/// The deadline a [`Conversation`](super::Conversation) gives each turn unless told otherwise.
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

redacting_debug! {
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
    pub payload_extension: Option<Map<String, Value>> [crate::redact::ShownField],
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
    pub output_schema: Option<Value> [crate::redact::ShownField],
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
    pub extra: Map<String, Value> [crate::redact::ShownField],
}
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

    setters! {
        /// Continues the conversation of thread `id` (the request's `id`).
        thread_id(impl Into<String>) in id => Some,
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

    setters! {
        /// Sets the user the task runs for.
        user(User) in input.user => Some,
        /// Sets the payload extension.
        payload_extension(impl Into<Map<String, Value>>) => Some,
        /// Sets the parent task.
        parent_execution_id(impl Into<String>) => Some,
        /// Sets the worker.
        worker_id(impl Into<String>) => Some,
        /// Sets the origin tag.
        source(impl Into<String>) => Some,
        /// Sets the result's format.
        output_format(impl Into<OutputFormat>) => Some,
        /// Sets the result's JSON schema.
        output_schema(impl Into<Value>) => Some,
        /// Runs on the caller's worker.
        run_locally(impl Into<bool>) => Some,
        /// Sets extra context.
        additional_context(impl Into<String>) => Some,
        /// Sets what the result should look like.
        expected_output(impl Into<String>) => Some,
        /// Streams the task's events.
        events_streaming(impl Into<bool>) => Some,
        /// Sets the MCP servers.
        mcp_servers(impl Into<Vec<McpServer>>) => Some,
        /// Sets the triggering agent.
        triggering_agent_id(impl Into<String>) => Some,
        /// Sets the title.
        title(impl Into<String>) => Some,
        /// Sets the think mode.
        think_mode(impl Into<ThinkMode>) => Some,
        /// Disables attachment injection.
        disable_attachment_injection(impl Into<bool>) => Some,
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
        // The keys `Invoke` models are not to be repeated in its `extra`.
        let modelled = |key: &str| key != "extra" && Invoke::FIELDS.contains(&key);
        if let Some(key) = self.extra.keys().find(|k| modelled(k)) {
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
    /// disagrees on the set, see the [module documentation](crate::public)).
    pub status: Option<AgentExecutionStatus>,
    /// Only tasks with this internal status.
    pub internal_status: Option<String>,
}

impl TaskQuery {
    /// The first page, default size, no filter.
    pub fn new() -> TaskQuery {
        TaskQuery::default()
    }

    setters! {
        /// Sets the page (from 1).
        page(u32) => Some,
        /// Sets the page size (1..=50).
        per_page(u32) => Some,
        /// Only tasks in this status.
        status(impl Into<AgentExecutionStatus>) => Some,
        /// Only tasks of this user.
        user_id(impl Into<String>) => Some,
        /// Only sub-tasks of this task.
        parent_task_id(impl Into<String>) => Some,
        /// Only tasks of this agent.
        agent_id(impl Into<String>) => Some,
        /// Only tasks triggered by this agent.
        triggering_agent_id(impl Into<String>) => Some,
        /// Only tasks with this internal status.
        internal_status(impl Into<String>) => Some,
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
