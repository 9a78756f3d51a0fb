//! The activity log of a task (`Task::get_activity_log`): the thread of what
//! happened, entry by entry.
//!
//! Entries carry no discriminator field; they are told apart by their keys,
//! as the published official client (2.0.537) does. An entry of no known
//! kind, or of a known kind but missing one of its required keys, is kept
//! whole as [`ActivityEntry::Other`].

use std::fmt;

use serde::ser::Serializer;
use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::{from_object, Model};
use super::{AuthEventType, Reasoning, Timestamp, User};
use crate::redact::ShownField;

model_struct! {
    /// A task's activity thread (`GET /activity/{agent_id}/{task_id}`).
    ///
    /// ```
    /// use xpander_sdk::model::{ActivityEntry, ActivityThread};
    ///
    /// let thread: ActivityThread = serde_json::from_str(r#"{
    ///     "id": "task-1", "created_at": "2025-06-01T12:00:00Z",
    ///     "messages": [
    ///         {"id": "m1", "created_at": "2025-06-01T12:00:01Z", "role": "user",
    ///          "content": {"text": "Summarize the report"}},
    ///         {"id": "t1", "created_at": "2025-06-01T12:00:02Z", "tool_name": "web_search",
    ///          "payload": {"q": "q2"}, "result": {"hits": 3}},
    ///         {"id": "o1", "created_at": "2025-06-01T12:00:03Z", "action": "approval_card"}
    ///     ]}"#)?;
    /// assert!(matches!(&thread.messages[0], ActivityEntry::Message(m) if m.content.text.as_deref() == Some("Summarize the report")));
    /// assert!(matches!(&thread.messages[1], ActivityEntry::ToolCall(c) if c.tool_name == "web_search"));
    /// assert!(matches!(&thread.messages[2], ActivityEntry::Other(_)));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct ActivityThread {
        /// The thread's id (the task id).
        id: String,
        /// When the thread began (the epoch when the server sent none).
        created_at: Timestamp = Timestamp::default(),
        /// The entries, in order.
        messages: Vec<ActivityEntry> = Vec::new(),
        /// The user the task ran for.
        user: Option<User> = None,
    }
}

wire_enum! {
    /// Who wrote a message.
    pub enum MessageRole {
        /// The user.
        User = "user",
        /// The agent.
        Agent = "agent",
    }
}

model_struct! {
    default;
    /// The content of a message.
    pub struct MessageContent {
        /// The text.
        text: Option<String> = None,
        /// URLs of attached files.
        files: Vec<String> = Vec::new(),
    }
}

model_struct! {
    /// A message of the user or the agent.
    pub struct ActivityMessage {
        /// The entry id.
        id: String,
        /// When it was written.
        created_at: Timestamp = Timestamp::default(),
        /// Who wrote it.
        role: MessageRole = MessageRole::Unknown(String::new()),
        /// What it says.
        content: MessageContent = MessageContent::default(),
        /// Whether it is the result of a sub-execution.
        sub_execution_result: bool = false,
        /// The user who wrote it.
        user: Option<User> = None,
    }
}

model_struct! {
    /// A tool call and its result.
    pub struct ActivityToolCall {
        /// The entry id.
        id: String,
        /// When the call was made.
        created_at: Timestamp = Timestamp::default(),
        /// The tool.
        tool_name: String = String::new(),
        /// The call's arguments.
        payload: Value = Value::Null,
        /// Whether the tool failed.
        is_error: bool = false,
        /// Why the call was made.
        reasoning: Option<Reasoning> = None,
        /// What the tool answered.
        result: Option<Value> = None,
        /// The plan step the call served.
        plan_task_id: Option<String> = None,
    }
}

wire_enum! {
    /// The kind of a reasoning step.
    pub enum ReasoningKind {
        /// Thinking.
        Think = "think",
        /// Analysing.
        Analyze = "analyze",
    }
}

model_struct! {
    /// A reasoning step (`think` or `analyze`).
    pub struct ActivityReasoning {
        /// The entry id.
        id: String,
        /// When it happened.
        created_at: Timestamp = Timestamp::default(),
        /// `think` or `analyze`.
        r#type: ReasoningKind = ReasoningKind::Unknown(String::new()) => "type",
        /// A title.
        title: String = String::new(),
        /// The model's confidence.
        confidence: f64 = 0.0,
        /// The thought.
        thought: Option<String> = None,
        /// The action decided.
        action: Option<String> = None,
        /// Its result.
        result: Option<String> = None,
        /// The analysis.
        analysis: Option<String> = None,
        /// The plan step it served.
        plan_task_id: Option<String> = None,
    }
}

model_struct! {
    /// A sub-agent triggered.
    pub struct ActivitySubAgentTrigger {
        /// The entry id.
        id: String,
        /// When it happened.
        created_at: Timestamp = Timestamp::default(),
        /// The agent triggered.
        agent_id: String = String::new(),
        /// What it was asked.
        query: Option<String> = None,
        /// Files handed over.
        files: Vec<String> = Vec::new(),
        /// Why.
        reasoning: Reasoning = Reasoning::default(),
        /// The plan step it served.
        plan_task_id: Option<String> = None,
    }
}

model_struct! {
    /// An MCP authentication step. `Debug` redacts its data (a ready token
    /// carries `access_token`).
    pub struct ActivityAuth {
        /// The entry id.
        id: String,
        /// When it happened.
        created_at: Timestamp = Timestamp::default(),
        /// The step.
        r#type: AuthEventType = AuthEventType::Unknown(String::new()) => "type",
        /// Its details.
        @secret data: Value = Value::Null,
    }
}

wire_enum! {
    /// What a gateway entry did.
    pub enum GatewayAction {
        /// Created an execution.
        CreateExecution = "create_execution",
        /// Asked an execution something.
        AskExecution = "ask_execution",
        /// Stopped an execution.
        StopExecution = "stop_execution",
        /// Continued an execution.
        ContinueExecution = "continue_execution",
        /// Read executions' results.
        GetExecutionsResult = "get_executions_result",
    }
}

model_struct! {
    /// An agent-gateway action. Which of the optional fields are set depends
    /// on the [`action`](Self::action); an unset one is `None`.
    pub struct ActivityGateway {
        /// The entry id.
        id: String,
        /// When it happened.
        created_at: Timestamp = Timestamp::default(),
        /// The action.
        action: GatewayAction = GatewayAction::Unknown(String::new()),
        /// Why.
        reasoning: String = String::new(),
        /// The agent acted on.
        agent_id: Option<String> = None,
        /// A title.
        title: String = String::new(),
        /// A description.
        description: String = String::new(),
        /// The execution created or acted on.
        created_execution_id: Option<String> = None,
        /// The query of a created execution.
        query: Option<String> = None,
        /// Whether a created execution runs asynchronously.
        is_async: Option<bool> = None,
        /// The new input of an ask.
        new_input: Option<String> = None,
        /// Whether an ask or continue was rejected.
        rejected: Option<bool> = None,
        /// The executions read (`get_executions_result`).
        executions: Option<Vec<Value>> = None,
    }
}

/// One entry of an activity thread.
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub enum ActivityEntry {
    /// A message (`role` + `content`).
    Message(ActivityMessage),
    /// A tool call (`tool_name` + `payload`).
    ToolCall(ActivityToolCall),
    /// A reasoning step (`type` think/analyze + `title` + `confidence`).
    Reasoning(ActivityReasoning),
    /// A sub-agent triggered (`agent_id` + a `reasoning` object).
    SubAgentTrigger(ActivitySubAgentTrigger),
    /// An MCP authentication step (`type` of the OAuth steps + `data`).
    Auth(ActivityAuth),
    /// An agent-gateway action (`action` of the five gateway actions).
    Gateway(ActivityGateway),
    /// Any other entry, kept whole.
    Other(OtherEntry),
}

field_debug_as_debug!(ActivityEntry);

/// An entry of no known kind (or missing a key its kind requires), kept as it came.
#[derive(Clone, PartialEq)]
pub struct OtherEntry(pub Value);

impl fmt::Debug for OtherEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OtherEntry")
            .field(&ShownField(&self.0))
            .finish()
    }
}

impl OtherEntry {
    /// The entry's id, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.0.get("id").and_then(Value::as_str)
    }
}

impl ActivityEntry {
    /// Tells one entry's kind by its keys, as the published client does.
    pub fn classify(value: Value) -> ActivityEntry {
        fn typed<T: Model>(value: Value, wrap: impl FnOnce(T) -> ActivityEntry) -> ActivityEntry {
            from_object(value).map_or_else(|v| ActivityEntry::Other(OtherEntry(v)), wrap)
        }
        let Some(map) = value.as_object() else {
            return ActivityEntry::Other(OtherEntry(value));
        };
        let has = |key: &str| map.contains_key(key);
        let text = |key: &str| map.get(key).and_then(Value::as_str);
        if let Some(action) = text("action") {
            if GatewayAction::from(action).is_unknown() || !has_gateway_keys(action, map) {
                return ActivityEntry::Other(OtherEntry(value));
            }
            return typed(value, ActivityEntry::Gateway);
        }
        if has("role") && has("content") {
            if !MessageRole::from(text("role").unwrap_or_default()).is_unknown()
                && map.get("content").is_some_and(Value::is_object)
            {
                return typed(value, ActivityEntry::Message);
            }
            return ActivityEntry::Other(OtherEntry(value));
        }
        let kind = text("type").unwrap_or_default();
        if !ReasoningKind::from(kind).is_unknown() && has("title") && has("confidence") {
            return typed(value, ActivityEntry::Reasoning);
        }
        if !AuthEventType::from(kind).is_unknown() && has("data") {
            return typed(value, ActivityEntry::Auth);
        }
        if has("tool_name") && has("payload") {
            return typed(value, ActivityEntry::ToolCall);
        }
        if has("agent_id") && map.get("reasoning").is_some_and(Value::is_object) {
            return typed(value, ActivityEntry::SubAgentTrigger);
        }
        ActivityEntry::Other(OtherEntry(value))
    }

    /// The entry's id.
    pub fn id(&self) -> Option<&str> {
        match self {
            ActivityEntry::Message(e) => Some(&e.id),
            ActivityEntry::ToolCall(e) => Some(&e.id),
            ActivityEntry::Reasoning(e) => Some(&e.id),
            ActivityEntry::SubAgentTrigger(e) => Some(&e.id),
            ActivityEntry::Auth(e) => Some(&e.id),
            ActivityEntry::Gateway(e) => Some(&e.id),
            ActivityEntry::Other(e) => e.id(),
        }
    }
}

/// The keys each gateway action requires besides `reasoning`.
fn has_gateway_keys(action: &str, map: &Map<String, Value>) -> bool {
    let needs: &[&str] = match action {
        "create_execution" | "stop_execution" | "continue_execution" => &["created_execution_id"],
        "ask_execution" => &["created_execution_id", "new_input"],
        _ => &[],
    };
    map.get("reasoning").is_some_and(Value::is_string) && needs.iter().all(|k| map.contains_key(*k))
}

impl Serialize for ActivityEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ActivityEntry::Message(e) => e.serialize(serializer),
            ActivityEntry::ToolCall(e) => e.serialize(serializer),
            ActivityEntry::Reasoning(e) => e.serialize(serializer),
            ActivityEntry::SubAgentTrigger(e) => e.serialize(serializer),
            ActivityEntry::Auth(e) => e.serialize(serializer),
            ActivityEntry::Gateway(e) => e.serialize(serializer),
            ActivityEntry::Other(e) => e.0.serialize(serializer),
        }
    }
}

field_by_exact!(ActivityEntry, |v| Ok(ActivityEntry::classify(v)), |value| {
    Some(ActivityEntry::classify(value.clone()))
});
