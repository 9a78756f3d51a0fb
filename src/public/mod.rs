//! The public REST API v1: invoke an agent and read what happened.
//!
//! The service publishes, next to the Tasks API, a REST API for
//! applications (`https://api.xpander.ai`, [`crate::Config::public_api_url`]):
//! invoke an agent and get the answer in one call, invoke it and follow it,
//! hold a conversation by reusing a thread id, page through tasks, read a
//! task's thread, delete a task. Every operation is a method of
//! [`crate::Tasks`] in both faces, written once (`src/front_public.rs`),
//! its request built in [`crate::sans_io::request`] and its answer parsed
//! by [`crate::sans_io::response`]:
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

use std::time::Duration;

mod params;

pub(crate) use params::clamp_deadline;
pub use params::{
    Invoke, InvokeInput, TaskQuery, DEFAULT_INVOKE_DEADLINE, INVOKE_DEADLINE_RANGE, MAX_PER_PAGE,
};

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
