//! Events of a task's live stream (`Task::events` / `aevents`) and of an
//! event push (`Tasks::push_events`).
//!
//! Each server-sent event carries one JSON envelope: its `type`, the task,
//! the organization, a time, an optional `identity` (the skill speaking),
//! and a `data` payload whose shape depends on the type. [`TaskEvent`]
//! types the envelope and the payload ([`EventPayload`]); a payload this
//! crate cannot type is kept as raw JSON, never dropped.

use std::fmt;

use serde_json::{Map, Value};

use super::wire::{from_object, Model};
use super::{DeepPlanning, Task, Timestamp};
use crate::redact::ShownField;

wire_enum! {
    /// The kind of a task event (the envelope's `type`).
    ///
    /// ```
    /// use xpander_sdk::model::TaskEventType;
    /// assert!(TaskEventType::TaskFinished.is_task());
    /// assert!("brand_new_kind".parse::<TaskEventType>().unwrap().is_unknown());
    /// ```
    pub enum TaskEventType {
        /// The stream's handshake, sent first.
        Connected = "connected",
        /// The task was created (payload: the task).
        TaskCreated = "task_created",
        /// The task changed (payload: the task).
        TaskUpdated = "task_updated",
        /// The task reached its end (payload: the task).
        TaskFinished = "task_finished",
        /// A piece of the answer's text.
        Chunk = "chunk",
        /// An MCP authentication step.
        AuthEvent = "auth_event",
        /// A tool call is made.
        ToolCallRequest = "tool_call_request",
        /// A tool call answered.
        ToolCallResult = "tool_call_result",
        /// A sub-agent was triggered.
        SubAgentTrigger = "sub_agent_trigger",
        /// A reasoning step.
        Think = "think",
        /// An analysis step.
        Analyze = "analyze",
        /// The deep plan changed (payload: the plan).
        PlanUpdated = "plan_updated",
        /// The session was compacted for a retry or summarised.
        TaskCompactization = "task_compactization",
        /// The state of the context window.
        ContextStatus = "context_status",
        /// A gateway decision.
        AgentGatewayDecision = "agent_gateway_decision",
        /// A process changed state.
        ProcessStateChanged = "process_state_changed",
        /// A process update.
        ProcessUpdate = "process_update",
        /// A gateway steer was applied.
        GatewaySteerApplied = "gateway_steer_applied",
        /// The agent asks the user questions.
        AskUserQuestions = "ask_user_questions",
        /// A sub-task was created.
        SubTaskCreated = "sub_task_created",
        /// A sub-task changed.
        SubTaskUpdated = "sub_task_updated",
        /// A sub-task finished.
        SubTaskFinished = "sub_task_finished",
        /// A member is invited.
        InviteMember = "invite_member",
        /// A member was invited.
        MemberInvited = "member_invited",
        /// The agent asks for a secret.
        AskForSecret = "ask_for_secret",
        /// A secret was saved.
        SecretSaved = "secret_saved",
        /// A live surface was created.
        LiveSurfaceCreated = "live_surface_created",
        /// An inline card.
        InlineCard = "inline_card",
    }
}

impl TaskEventType {
    /// `true` for `task_created`, `task_updated` and `task_finished`, whose
    /// payload is the task.
    pub fn is_task(&self) -> bool {
        matches!(
            self,
            TaskEventType::TaskCreated | TaskEventType::TaskUpdated | TaskEventType::TaskFinished
        )
    }
}

model_struct! {
    default;
    /// Who speaks in an event (a skill's display identity).
    pub struct Identity {
        /// The display name.
        name: String = String::new(),
        /// An icon.
        icon: Option<String> = None,
    }
}

model_struct! {
    default;
    /// Why a tool is called, or a sub-agent triggered.
    pub struct Reasoning {
        /// A short title.
        title: Option<String> = None,
        /// A longer description.
        description: Option<String> = None,
    }
}

model_struct! {
    /// A tool call being made (`tool_call_request`).
    pub struct ToolCallRequest {
        /// The request id.
        request_id: String,
        /// The operation called.
        operation_id: String = String::new(),
        /// The LLM's tool-call id.
        tool_call_id: Option<String> = None,
        /// The graph node making the call.
        graph_node_id: Option<String> = None,
        /// The tool's name.
        tool_name: Option<String> = None,
        /// The call's arguments.
        payload: Option<Value> = None,
        /// Why the call is made.
        reasoning: Option<Reasoning> = None,
        /// The plan step the call serves.
        plan_task_id: Option<String> = None,
    }
}

model_struct! {
    /// A tool call answered (`tool_call_result`).
    pub struct ToolCallResult {
        /// The request id.
        request_id: String,
        /// The operation called.
        operation_id: String = String::new(),
        /// The LLM's tool-call id.
        tool_call_id: Option<String> = None,
        /// The graph node that made the call.
        graph_node_id: Option<String> = None,
        /// The tool's name.
        tool_name: Option<String> = None,
        /// The call's arguments.
        payload: Option<Value> = None,
        /// What the tool answered.
        result: Option<Value> = None,
        /// Whether the tool failed.
        is_error: bool = false,
        /// Why the call was made.
        reasoning: Option<Reasoning> = None,
        /// The plan step the call served.
        plan_task_id: Option<String> = None,
        /// An approval request the call waits for.
        approval_request_id: Option<String> = None,
    }
}

wire_enum! {
    /// The step of an MCP authentication flow.
    pub enum AuthEventType {
        /// The server does not support the flow.
        NotSupported = "not_supported",
        /// The user must log in (data: `url`, `server_url`, `server_name`).
        LoginRequired = "login_required",
        /// Something went wrong (data: `message`).
        TokenIssue = "token_issue",
        /// A token is ready (data: `access_token`, a secret).
        TokenReady = "token_ready",
    }
}

model_struct! {
    /// An MCP authentication event (`auth_event`; also an activity-log entry).
    ///
    /// `Debug` redacts the data's `access_token` (and any other
    /// credential-looking key).
    pub struct AuthEvent {
        /// The step.
        r#type: AuthEventType => "type",
        /// The step's details (`url`, `server_url`, `server_name`,
        /// `message`, `access_token`).
        @secret data: Value = Value::Null,
    }
}

model_struct! {
    /// A compaction of the session (`task_compactization`): `type` is
    /// `retry` or `summarization`.
    pub struct Compaction {
        /// `retry` or `summarization`.
        r#type: String => "type",
        /// Its details.
        data: Value = Value::Null,
    }
}

/// The keys without which a task payload is a truncated task (see
/// [`EventPayload::Raw`]).
const TRUNCATED_WITHOUT: [&str; 4] = ["id", "agent_id", "organization_id", "input"];

/// The payload of a [`TaskEvent`], typed by the event's kind.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum EventPayload {
    /// No payload (`connected`, or `data: null`).
    None,
    /// The task, for `task_created`, `task_updated` and `task_finished`.
    Task(Box<Task>),
    /// Text, for `chunk`.
    Text(String),
    /// A tool call being made.
    ToolCallRequest(ToolCallRequest),
    /// A tool call answered.
    ToolCallResult(ToolCallResult),
    /// The deep plan, for `plan_updated`.
    Plan(DeepPlanning),
    /// An MCP authentication step.
    Auth(AuthEvent),
    /// A compaction of the session.
    Compaction(Compaction),
    /// Any other kind, or a payload that does not have its kind's shape (a
    /// truncated task, without its `agent_id`, `organization_id` or `input`,
    /// say): the JSON as it came.
    Raw(Value),
}

impl EventPayload {
    /// Types `data` by the event's kind; what does not fit stays raw.
    pub(crate) fn read(kind: &TaskEventType, data: Value) -> EventPayload {
        fn typed<T: Model>(data: Value, wrap: impl FnOnce(T) -> EventPayload) -> EventPayload {
            from_object(data).map_or_else(EventPayload::Raw, wrap)
        }
        if data.is_null() {
            return EventPayload::None;
        }
        match kind {
            // A task needs only its id to be read, but a payload without the
            // agent, organization and input is a truncated task: kept raw, so
            // that a waiter fetches the whole task.
            k if k.is_task() && TRUNCATED_WITHOUT.iter().all(|key| data.get(key).is_some()) => {
                typed(data, |t: Task| EventPayload::Task(Box::new(t)))
            }
            TaskEventType::Chunk => match data {
                Value::String(text) => EventPayload::Text(text),
                other => EventPayload::Raw(other),
            },
            TaskEventType::ToolCallRequest => typed(data, EventPayload::ToolCallRequest),
            TaskEventType::ToolCallResult => typed(data, EventPayload::ToolCallResult),
            TaskEventType::PlanUpdated => typed(data, EventPayload::Plan),
            TaskEventType::AuthEvent => typed(data, EventPayload::Auth),
            TaskEventType::TaskCompactization => typed(data, EventPayload::Compaction),
            _ => EventPayload::Raw(data),
        }
    }

    /// The payload as JSON, as it would be sent.
    pub fn to_value(&self) -> Value {
        fn json<T: serde::Serialize>(value: &T) -> Value {
            serde_json::to_value(value).unwrap_or(Value::Null)
        }
        match self {
            EventPayload::None => Value::Null,
            EventPayload::Task(task) => json(task),
            EventPayload::Text(text) => Value::String(text.clone()),
            EventPayload::ToolCallRequest(v) => json(v),
            EventPayload::ToolCallResult(v) => json(v),
            EventPayload::Plan(v) => json(v),
            EventPayload::Auth(v) => json(v),
            EventPayload::Compaction(v) => json(v),
            EventPayload::Raw(v) => v.clone(),
        }
    }

    /// The task, for a `task_*` event whose payload is one.
    pub fn as_task(&self) -> Option<&Task> {
        match self {
            EventPayload::Task(task) => Some(task),
            _ => None,
        }
    }

    /// The text, for a `chunk`.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            EventPayload::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Debug for EventPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventPayload::None => f.write_str("None"),
            EventPayload::Task(v) => f.debug_tuple("Task").field(v).finish(),
            EventPayload::Text(v) => f.debug_tuple("Text").field(v).finish(),
            EventPayload::ToolCallRequest(v) => f.debug_tuple("ToolCallRequest").field(v).finish(),
            EventPayload::ToolCallResult(v) => f.debug_tuple("ToolCallResult").field(v).finish(),
            EventPayload::Plan(v) => f.debug_tuple("Plan").field(v).finish(),
            EventPayload::Auth(v) => f.debug_tuple("Auth").field(v).finish(),
            EventPayload::Compaction(v) => f.debug_tuple("Compaction").field(v).finish(),
            EventPayload::Raw(v) => f.debug_tuple("Raw").field(&ShownField(v)).finish(),
        }
    }
}

/// One event of a task's stream: the envelope, its typed payload, and the
/// SSE event id it came with.
///
/// ```
/// use xpander_sdk::model::{EventPayload, TaskEvent, TaskEventType};
///
/// let event = TaskEvent::from_json(
///     r#"{"type":"chunk","task_id":"t1","organization_id":"o","time":"2025-06-01T12:00:02Z","data":"Hel"}"#,
///     Some("7"),
/// )?;
/// assert_eq!(event.kind, TaskEventType::Chunk);
/// assert_eq!(event.payload.as_text(), Some("Hel"));
/// assert_eq!(event.id.as_deref(), Some("7"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskEvent {
    /// The kind (`type`).
    pub kind: TaskEventType,
    /// The task the event is about.
    pub task_id: String,
    /// The organization.
    pub organization_id: String,
    /// When it happened (as sent).
    pub time: Option<Timestamp>,
    /// The skill speaking, if any.
    pub identity: Option<Identity>,
    /// The payload, typed by the kind.
    pub payload: EventPayload,
    /// The SSE event id (what a reconnect sends as `Last-Event-ID`).
    pub id: Option<String>,
    /// Envelope keys this crate does not know.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for TaskEvent {
    /// Unknown envelope keys show with the values of credential-looking keys
    /// redacted, as a model's `extra` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskEvent")
            .field("kind", &self.kind)
            .field("task_id", &self.task_id)
            .field("organization_id", &self.organization_id)
            .field("time", &self.time)
            .field("identity", &self.identity)
            .field("payload", &self.payload)
            .field("id", &self.id)
            .field("extra", &ShownField(&self.extra))
            .finish()
    }
}

model_struct! {
    /// The wire envelope, read leniently.
    pub struct Envelope {
        /// `type`
        r#type: TaskEventType => "type",
        /// `task_id`
        task_id: String = String::new(),
        /// `organization_id`
        organization_id: String = String::new(),
        /// `time`
        time: Option<Timestamp> = None,
        /// `data`
        data: Value = Value::Null,
        /// `identity`
        identity: Option<Identity> = None,
    }
}

impl TaskEvent {
    /// An event of `kind` about `task_id`, stamped now (for pushing events).
    pub fn new(
        kind: TaskEventType,
        task_id: impl Into<String>,
        organization_id: impl Into<String>,
        payload: EventPayload,
    ) -> TaskEvent {
        TaskEvent {
            kind,
            task_id: task_id.into(),
            organization_id: organization_id.into(),
            time: Some(Timestamp::now()),
            identity: None,
            payload,
            id: None,
            extra: Map::new(),
        }
    }

    /// A `chunk` of text about `task`, stamped now (for pushing events).
    ///
    /// ```
    /// use xpander_sdk::model::{Task, TaskEvent, TaskInput};
    /// let task = Task::new("t1", "agent-1", "org-1", TaskInput::new("hi"));
    /// let event = TaskEvent::chunk(&task, "Hel");
    /// assert_eq!(event.to_json()["data"], "Hel");
    /// ```
    pub fn chunk(task: &Task, text: impl Into<String>) -> TaskEvent {
        TaskEvent::new(
            TaskEventType::Chunk,
            &task.id,
            &task.organization_id,
            EventPayload::Text(text.into()),
        )
    }

    /// Reads one event's JSON (an SSE `data` field) and its SSE id. Fails
    /// only when the text is not a JSON object with a `type` (a string that
    /// is not empty).
    pub fn from_json(data: &str, id: Option<&str>) -> Result<TaskEvent, serde_json::Error> {
        let envelope: Envelope = serde_json::from_str(data)?;
        if envelope.raw_value("type").is_some() {
            return Err(serde::de::Error::custom(
                "the event's `type` is not a string",
            ));
        }
        // `null` (read as the type's fallback) or "": no kind at all.
        if envelope.r#type.as_str().is_empty() {
            return Err(serde::de::Error::custom("the event's `type` is empty"));
        }
        Ok(TaskEvent {
            payload: EventPayload::read(&envelope.r#type, envelope.data),
            kind: envelope.r#type,
            task_id: envelope.task_id,
            organization_id: envelope.organization_id,
            time: envelope.time,
            identity: envelope.identity,
            id: id.map(str::to_owned),
            extra: envelope.extra,
        })
    }

    /// The envelope as JSON (`type`, `task_id`, `organization_id`, `time`,
    /// `data`, `identity`, then unknown keys), as an event push sends it.
    pub fn to_json(&self) -> Value {
        let envelope = Envelope {
            r#type: self.kind.clone(),
            task_id: self.task_id.clone(),
            organization_id: self.organization_id.clone(),
            time: self.time.clone(),
            data: self.payload.to_value(),
            identity: self.identity.clone(),
            extra: self.extra.clone(),
            ..Envelope::__defaults()
        };
        serde_json::to_value(envelope).unwrap_or(Value::Null)
    }

    /// `true` for `task_finished`.
    pub fn is_finished(&self) -> bool {
        self.kind == TaskEventType::TaskFinished
    }
}
