//! Models of the public REST API v1 (`/v1/...`, see [`crate::public`]):
//! a page of tasks, a task's conversation thread and its messages, the
//! answer of a delete, and the events of a streamed invoke.
//!
//! Shared by both faces, no I/O. Read leniently, unknown keys kept in
//! `extra` (and written back), as every model of this crate. A task of the
//! v1 API (`AgentExecution`, `CreatedTask`) has the shape of a Tasks API
//! task and is read as a [`Task`]; a list item (`TasksListItem`) as a
//! [`TaskListItem`].

use std::fmt;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{entries, from_object, Field};
use super::{TaskEvent, TaskEventType, TaskListItem, Timestamp};

model_struct! {
    default;
    /// One page of a task list (`GET /v1/tasks`, `GET /v1/agents/{id}/tasks`):
    /// `{items, total, page, per_page, total_pages}`.
    ///
    /// ```
    /// use xpander_sdk::model::TaskPage;
    ///
    /// let page: TaskPage = serde_json::from_str(r#"{"items": [{"id": "t1",
    ///     "agent_id": "a", "organization_id": "o", "created_at": "2025-11-06T06:05:43Z"}],
    ///     "total": 8, "page": 1, "per_page": 1, "total_pages": 8, "cursor": "new"}"#)?;
    /// assert_eq!((page.items.len(), page.total_pages), (1, Some(8)));
    /// assert_eq!(page.extra["cursor"], "new");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct TaskPage {
        /// The tasks of this page.
        items: Vec<TaskListItem> = Vec::new(),
        /// How many tasks match, over all pages.
        total: Option<i64> = None,
        /// This page's number (from 1).
        page: Option<i64> = None,
        /// The page size asked for.
        per_page: Option<i64> = None,
        /// How many pages there are (0 for an empty result; `None` when the
        /// answer does not say: a walk then goes on until a short page).
        total_pages: Option<i64> = None,
    }
}

wire_enum! {
    /// Who wrote a message of a thread.
    pub enum ThreadRole {
        /// The user.
        User = "user",
        /// The agent (the model).
        Assistant = "assistant",
        /// The system prompt.
        System = "system",
        /// A tool's answer.
        Tool = "tool",
    }
}

model_struct! {
    default;
    /// The token counts of a message (other counters kept in `extra`).
    pub struct MessageMetrics {
        /// Tokens read.
        input_tokens: i64 = 0,
        /// Tokens written.
        output_tokens: i64 = 0,
        /// Both.
        total_tokens: i64 = 0,
    }
}

model_struct! {
    default;
    /// One message of a task's thread (`GET /v1/tasks/{id}/thread`). Every
    /// key is optional; the many media keys (`audio`, `images`, ...) and
    /// any other are kept in `extra`. `created_at` is Unix seconds on the
    /// wire, read as a [`Timestamp`] (which keeps the number as sent).
    ///
    /// ```
    /// use xpander_sdk::model::{ThreadMessage, ThreadRole};
    ///
    /// let m: ThreadMessage = serde_json::from_str(r#"{"id": "m1", "role": "assistant",
    ///     "content": "5 + 5 = 10", "metrics": {"total_tokens": 304, "timer": null},
    ///     "created_at": 1762463339, "images": null}"#)?;
    /// assert_eq!(m.role, Some(ThreadRole::Assistant));
    /// assert_eq!(m.metrics.unwrap().total_tokens, 304);
    /// assert_eq!(m.created_at.unwrap().to_jiff().unwrap().as_second(), 1762463339);
    /// assert!(m.extra.contains_key("images"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct ThreadMessage {
        /// The message id.
        id: Option<String> = None,
        /// Who wrote it.
        role: Option<ThreadRole> = None,
        /// What it says (a non-text content is kept as sent, see `raw_value`).
        content: Option<String> = None,
        /// The author's name.
        name: Option<String> = None,
        /// The tool call this message answers.
        tool_call_id: Option<String> = None,
        /// The tool calls the message makes, as sent.
        tool_calls: Option<Value> = None,
        /// The tool's name.
        tool_name: Option<String> = None,
        /// The tool's arguments, as sent.
        tool_args: Option<Value> = None,
        /// Whether the tool call failed.
        tool_call_error: Option<bool> = None,
        /// The model's reasoning.
        reasoning_content: Option<String> = None,
        /// Token counts.
        metrics: Option<MessageMetrics> = None,
        /// When it was written (Unix seconds on the wire).
        created_at: Option<Timestamp> = None,
    }
}

/// A task's whole thread (`GET /v1/tasks/{id}/thread/full`): the messages of
/// the task (`"root"`) and of each sub-task (by its id), in the order sent.
/// A value that is not an array of messages is kept in
/// [`FullThread::other`], and written back.
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct FullThread {
    /// Each key (`"root"`, sub-task ids) with its messages, in the order sent.
    pub threads: Vec<(String, Vec<ThreadMessage>)>,
    /// Keys whose value is not an array of message objects, as sent.
    pub other: Vec<(String, Value)>,
}

impl FullThread {
    /// The messages of the task itself (`"root"`).
    pub fn root(&self) -> Option<&[ThreadMessage]> {
        self.get("root")
    }

    /// The messages under `key` (`"root"` or a sub-task id).
    pub fn get(&self, key: &str) -> Option<&[ThreadMessage]> {
        self.threads
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_slice())
    }
}

impl fmt::Debug for FullThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let other: Vec<(&str, crate::redact::ShownField<'_, Value>)> = self
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), crate::redact::ShownField(v)))
            .collect();
        f.debug_struct("FullThread")
            .field("threads", &self.threads)
            .field("other", &other)
            .finish()
    }
}

impl<'de> Deserialize<'de> for FullThread {
    /// An array whose every element is an object is read as messages (each
    /// kept as it came); any other value is kept in `other`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut full = FullThread::default();
        entries(deserializer, &mut |key, value| match Field::exact(value) {
            Ok(messages) => full.threads.push((key.into_owned(), messages)),
            Err(value) => full.other.push((key.into_owned(), value)),
        })?;
        Ok(full)
    }
}

impl Serialize for FullThread {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map =
            serializer.serialize_map(Some(self.threads.len().saturating_add(self.other.len())))?;
        for (key, messages) in &self.threads {
            map.serialize_entry(key, messages)?;
        }
        for (key, value) in &self.other {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

model_struct! {
    default;
    /// `task_started` of a streamed invoke (the reference page's sketch).
    pub struct InvokeStarted {
        /// The task.
        task_id: Option<String> = None,
        /// When it started.
        timestamp: Option<Timestamp> = None,
    }
}

model_struct! {
    default;
    /// `content_chunk` of a streamed invoke: a piece of the answer.
    pub struct ContentChunk {
        /// The text.
        content: String = String::new(),
        /// Whether it is the last piece.
        is_final: bool = false,
    }
}

model_struct! {
    default;
    /// `task_completed` of a streamed invoke: the terminal event.
    pub struct InvokeCompleted {
        /// The task.
        task_id: Option<String> = None,
        /// Its result.
        result: Option<String> = None,
    }
}

/// One event of a streamed invoke (`POST /v1/agents/{id}/invoke/stream`).
///
/// The type set is open: the reference page sketches `task_started`,
/// `content_chunk` and `task_completed`; the live task streams
/// (`task_created`, `chunk`, `task_finished`, ...) are read as
/// [`TaskEvent`]s; any other `type` (or a `data` that is not a JSON object)
/// is [`InvokeEvent::Other`], kept whole. Each typed variant keeps the
/// keys it does not model in its `extra` (the `type` key included).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum InvokeEvent {
    /// `task_started`.
    Started(InvokeStarted),
    /// `content_chunk`.
    Chunk(ContentChunk),
    /// `task_completed` (terminal).
    Completed(InvokeCompleted),
    /// An event of the live task streams' set (`task_finished` is terminal).
    Task(Box<TaskEvent>),
    /// Any other event, kept whole.
    Other {
        /// The JSON `type`, or the SSE event name (`message` by default) when
        /// the data has no `type` or is not JSON.
        kind: String,
        /// The `data` as JSON (a string when it is not JSON).
        data: Value,
    },
}

impl fmt::Debug for InvokeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeEvent::Started(e) => f.debug_tuple("Started").field(e).finish(),
            InvokeEvent::Chunk(e) => f.debug_tuple("Chunk").field(e).finish(),
            InvokeEvent::Completed(e) => f.debug_tuple("Completed").field(e).finish(),
            InvokeEvent::Task(e) => f.debug_tuple("Task").field(e).finish(),
            InvokeEvent::Other { kind, data } => f
                .debug_struct("Other")
                .field("kind", kind)
                .field("data", &crate::redact::ShownField(data))
                .finish(),
        }
    }
}

impl InvokeEvent {
    /// Reads one event from its SSE `data` (and `event` name and `id`).
    /// Never fails: what is not understood is [`InvokeEvent::Other`].
    pub fn from_sse(event_name: &str, data: &str, id: Option<&str>) -> InvokeEvent {
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) => {
                return InvokeEvent::Other {
                    kind: event_name.to_owned(),
                    data: Value::String(data.to_owned()),
                }
            }
        };
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let typed = match kind.as_str() {
            "task_started" => from_object(value.clone()).ok().map(InvokeEvent::Started),
            "content_chunk" => from_object(value.clone()).ok().map(InvokeEvent::Chunk),
            "task_completed" => from_object(value.clone()).ok().map(InvokeEvent::Completed),
            other if !TaskEventType::from(other).is_unknown() => TaskEvent::from_json(data, id)
                .ok()
                .map(|e| InvokeEvent::Task(Box::new(e))),
            _ => None,
        };
        typed.unwrap_or(InvokeEvent::Other {
            kind: if kind.is_empty() && value.get("type").is_none() {
                event_name.to_owned()
            } else {
                kind
            },
            data: value,
        })
    }

    /// Whether the stream ends after this event (`task_completed`, or a
    /// live stream's `task_finished`).
    pub fn is_terminal(&self) -> bool {
        match self {
            InvokeEvent::Completed(_) => true,
            InvokeEvent::Task(e) => e.is_finished(),
            _ => false,
        }
    }

    /// The text this event adds to the answer (`content_chunk`'s content, a
    /// live `chunk`'s text), if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            InvokeEvent::Chunk(c) => Some(&c.content),
            InvokeEvent::Task(e) if e.kind == TaskEventType::Chunk => e.payload.as_text(),
            _ => None,
        }
    }

    /// The event's type as sent.
    pub fn kind(&self) -> &str {
        match self {
            InvokeEvent::Started(_) => "task_started",
            InvokeEvent::Chunk(_) => "content_chunk",
            InvokeEvent::Completed(_) => "task_completed",
            InvokeEvent::Task(e) => e.kind.as_str(),
            InvokeEvent::Other { kind, .. } => kind,
        }
    }
}
