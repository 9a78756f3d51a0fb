//! The parameters of each operation: what a caller sets, and nothing else.
//!
//! These are plain values with chainable setters. They serialize straight to
//! the request body the official client sends; a field the caller did not set
//! is absent from an update body (never `null`), and a set empty string is sent.
//! Shared, no I/O: the blocking and the async form of a call take the same
//! values, and [`crate::sans_io::request`] turns them into the request.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{AgentExecutionStatus, McpServer, OutputFormat, ThinkMode, Tokens, User};

/// Generates chainable setters for `Option<T>` fields (here and in the
/// public API's parameters).
macro_rules! option_setters {
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
pub(crate) use option_setters;

/// The fields an update sets. Unset fields are not sent.
///
/// ```
/// use xpander_sdk::{AgentExecutionStatus, UpdateTask};
///
/// let change = UpdateTask::new()
///     .status(AgentExecutionStatus::Completed)
///     .result("Done");
/// assert_eq!(
///     serde_json::to_value(&change).unwrap(),
///     serde_json::json!({"status": "completed", "result": "Done"})
/// );
/// ```
#[derive(Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateTask {
    /// Extra fields merged into every tool-call payload from now on. Must be
    /// a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_payload_extension: Option<Value>,
    /// The task's origin tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The new status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentExecutionStatus>,
    /// The "current node" cursor of workflow agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_executed_node_id: Option<String>,
    /// The final result string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl UpdateTask {
    /// An update that sets nothing (sent as `{}`).
    pub fn new() -> UpdateTask {
        UpdateTask::default()
    }

    option_setters! {
        /// Sets the tool-call payload extension (a JSON object).
        tool_call_payload_extension: Value,
        /// Sets the origin tag.
        source: String,
        /// Sets the status.
        status: AgentExecutionStatus,
        /// Sets the "current node" cursor.
        last_executed_node_id: String,
        /// Sets the result (an empty string is a value and is sent).
        result: String,
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self == &UpdateTask::default()
    }
}

/// Filters of [`crate::Tasks::list`] and [`crate::Tasks::list_user_tasks`].
/// Unset filters are not sent.
///
/// ```
/// use xpander_sdk::{AgentExecutionStatus, ListFilter};
///
/// let filter = ListFilter::new().status(AgentExecutionStatus::Completed);
/// assert_eq!(filter.status, Some(AgentExecutionStatus::Completed));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ListFilter {
    /// Only tasks of this user (ignored by `list_user_tasks`, whose path names the user).
    pub user_id: Option<String>,
    /// Only sub-tasks of this task.
    pub parent_task_id: Option<String>,
    /// Only tasks triggered by this agent.
    pub triggering_agent_id: Option<String>,
    /// Only tasks in this status.
    pub status: Option<AgentExecutionStatus>,
    /// Only tasks with this internal status.
    pub internal_status: Option<String>,
}

impl ListFilter {
    /// No filter: every task.
    pub fn new() -> ListFilter {
        ListFilter::default()
    }

    option_setters! {
        /// Only tasks of this user.
        user_id: String,
        /// Only sub-tasks of this task.
        parent_task_id: String,
        /// Only tasks triggered by this agent.
        triggering_agent_id: String,
        /// Only tasks in this status.
        status: AgentExecutionStatus,
        /// Only tasks with this internal status.
        internal_status: String,
    }
}

/// The input of a new task: the prompt, file URLs and the user it is for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateInput {
    /// The prompt.
    pub text: String,
    /// URLs of files the agent should read.
    pub files: Vec<String>,
    /// The user the task is for.
    pub user: Option<User>,
}

/// A new task: [`crate::Tasks::create`]'s parameters, starting from the
/// agent id and the prompt. Every other field has the official client's default.
///
/// ```
/// use xpander_sdk::{CreateTask, ThinkMode};
///
/// let new_task = CreateTask::new("agent-123", "Hello!")
///     .title("greeting")
///     .think_mode(ThinkMode::Harder)
///     .file_urls(["https://files.example.com/a.pdf"]);
/// assert_eq!(new_task.agent_id(), "agent-123");
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateTask {
    #[serde(skip)]
    agent_id: String,
    /// Sent as the `x-agent-version` header when set.
    #[serde(skip)]
    pub agent_version: Option<String>,
    /// A task id chosen by the caller (`null`: the server assigns one).
    pub id: Option<String>,
    /// Prompt, files and user.
    pub input: CreateInput,
    /// Extra fields merged into every tool-call payload.
    pub payload_extension: Option<Map<String, Value>>,
    /// The task's origin tag.
    pub source: Option<String>,
    /// The worker that should run the task.
    pub worker_id: Option<String>,
    /// The format of the result.
    pub output_format: Option<OutputFormat>,
    /// A JSON schema the result must follow.
    pub output_schema: Option<Value>,
    /// Run on the caller's worker instead of the cloud.
    pub run_locally: bool,
    /// Stream the task's events.
    pub events_streaming: bool,
    /// Extra context for the agent.
    pub additional_context: Option<String>,
    /// Instructions that replace the agent's own for this task.
    pub instructions_override: Option<String>,
    /// Run a workflow test from this node.
    pub test_run_node_id: Option<String>,
    /// The user's OIDC token (a secret: hidden from `Debug`).
    pub user_oidc_token: Option<String>,
    /// What the result should look like.
    pub expected_output: Option<String>,
    /// MCP servers the agent may use.
    pub mcp_servers: Vec<McpServer>,
    /// The agent that triggered this task.
    pub triggering_agent_id: Option<String>,
    /// A title.
    pub title: Option<String>,
    /// How hard the agent thinks.
    pub think_mode: ThinkMode,
    /// Do not inject attachments into the prompt.
    pub disable_attachment_injection: bool,
    /// The most tool calls the task may make.
    pub tool_call_limit: Option<u32>,
    /// The user's tokens for connectors (secrets: hidden from `Debug`).
    pub user_tokens: Option<Value>,
    /// Return token and time metrics with the result.
    pub return_metrics: bool,
    /// The LLM provider.
    pub llm_model_provider: Option<String>,
    /// The LLM model.
    pub llm_model_name: Option<String>,
    /// The LLM reasoning effort.
    pub llm_reasoning_effort: Option<String>,
    /// The harness CLI.
    pub harness_cli: Option<String>,
    /// The permission mode.
    pub permission_mode: Option<String>,
}

impl CreateTask {
    /// A new task for `agent_id` with the prompt `prompt`.
    pub fn new(agent_id: impl Into<String>, prompt: impl Into<String>) -> CreateTask {
        CreateTask {
            agent_id: agent_id.into(),
            agent_version: None,
            id: None,
            input: CreateInput {
                text: prompt.into(),
                files: Vec::new(),
                user: None,
            },
            payload_extension: None,
            source: None,
            worker_id: None,
            output_format: None,
            output_schema: None,
            run_locally: false,
            events_streaming: false,
            additional_context: None,
            instructions_override: None,
            test_run_node_id: None,
            user_oidc_token: None,
            expected_output: None,
            mcp_servers: Vec::new(),
            triggering_agent_id: None,
            title: None,
            think_mode: ThinkMode::Default,
            disable_attachment_injection: false,
            tool_call_limit: None,
            user_tokens: None,
            return_metrics: false,
            llm_model_provider: None,
            llm_model_name: None,
            llm_reasoning_effort: None,
            harness_cli: None,
            permission_mode: None,
        }
    }

    /// The agent the task is for.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Sets the URLs of files the agent should read.
    pub fn file_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.input.files = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the user the task is for.
    pub fn user_details(mut self, user: User) -> Self {
        self.input.user = Some(user);
        self
    }

    /// Sets the MCP servers the agent may use.
    pub fn mcp_servers(mut self, servers: Vec<McpServer>) -> Self {
        self.mcp_servers = servers;
        self
    }

    /// Sets the think mode.
    pub fn think_mode(mut self, mode: ThinkMode) -> Self {
        self.think_mode = mode;
        self
    }

    /// Runs the task on the caller's worker.
    pub fn run_locally(mut self, yes: bool) -> Self {
        self.run_locally = yes;
        self
    }

    /// Streams the task's events.
    pub fn events_streaming(mut self, yes: bool) -> Self {
        self.events_streaming = yes;
        self
    }

    /// Does not inject attachments into the prompt.
    pub fn disable_attachment_injection(mut self, yes: bool) -> Self {
        self.disable_attachment_injection = yes;
        self
    }

    /// Returns token and time metrics with the result.
    pub fn return_metrics(mut self, yes: bool) -> Self {
        self.return_metrics = yes;
        self
    }

    option_setters! {
        /// Sets the agent version (sent as the `x-agent-version` header).
        agent_version: String,
        /// Sets a task id chosen by the caller.
        id: String,
        /// Sets the payload extension.
        payload_extension: Map<String, Value>,
        /// Sets the origin tag.
        source: String,
        /// Sets the worker that should run the task.
        worker_id: String,
        /// Sets the output format.
        output_format: OutputFormat,
        /// Sets the output JSON schema.
        output_schema: Value,
        /// Sets extra context.
        additional_context: String,
        /// Sets instructions that replace the agent's own.
        instructions_override: String,
        /// Sets the node a workflow test starts from.
        test_run_node_id: String,
        /// Sets the user's OIDC token.
        user_oidc_token: String,
        /// Sets what the result should look like.
        expected_output: String,
        /// Sets the agent that triggered this task.
        triggering_agent_id: String,
        /// Sets a title.
        title: String,
        /// Sets the most tool calls the task may make.
        tool_call_limit: u32,
        /// Sets the user's connector tokens.
        user_tokens: Value,
        /// Sets the LLM provider.
        llm_model_provider: String,
        /// Sets the LLM model.
        llm_model_name: String,
        /// Sets the LLM reasoning effort.
        llm_reasoning_effort: String,
        /// Sets the harness CLI.
        harness_cli: String,
        /// Sets the permission mode.
        permission_mode: String,
    }
}

impl fmt::Debug for UpdateTask {
    /// The values of `tool_call_payload_extension` are redacted (auth
    /// headers go there).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateTask")
            .field(
                "tool_call_payload_extension",
                &crate::redact::Redacted(&self.tool_call_payload_extension),
            )
            .field("source", &self.source)
            .field("status", &self.status)
            .field("last_executed_node_id", &self.last_executed_node_id)
            .field("result", &self.result)
            .finish()
    }
}

impl fmt::Debug for CreateTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: bool| if v { Some("<redacted>") } else { None };
        f.debug_struct("CreateTask")
            .field("agent_id", &self.agent_id)
            .field("agent_version", &self.agent_version)
            .field("id", &self.id)
            .field("input", &self.input)
            .field(
                "payload_extension",
                &crate::redact::Redacted(&self.payload_extension),
            )
            .field("source", &self.source)
            .field("worker_id", &self.worker_id)
            .field("output_format", &self.output_format)
            .field(
                "output_schema",
                &crate::redact::ShownField(&self.output_schema),
            )
            .field("run_locally", &self.run_locally)
            .field("events_streaming", &self.events_streaming)
            .field("additional_context", &self.additional_context)
            .field("instructions_override", &self.instructions_override)
            .field("test_run_node_id", &self.test_run_node_id)
            .field("user_oidc_token", &redacted(self.user_oidc_token.is_some()))
            .field("expected_output", &self.expected_output)
            .field("mcp_servers", &self.mcp_servers)
            .field("triggering_agent_id", &self.triggering_agent_id)
            .field("title", &self.title)
            .field("think_mode", &self.think_mode)
            .field(
                "disable_attachment_injection",
                &self.disable_attachment_injection,
            )
            .field("tool_call_limit", &self.tool_call_limit)
            .field("user_tokens", &redacted(self.user_tokens.is_some()))
            .field("return_metrics", &self.return_metrics)
            .field("llm_model_provider", &self.llm_model_provider)
            .field("llm_model_name", &self.llm_model_name)
            .field("llm_reasoning_effort", &self.llm_reasoning_effort)
            .field("harness_cli", &self.harness_cli)
            .field("permission_mode", &self.permission_mode)
            .finish()
    }
}

/// A task run outside xpander, reported so that it shows in the agent's history.
///
/// ```
/// use xpander_sdk::ExternalTaskReport;
///
/// let report = ExternalTaskReport::new("hi")
///     .id("ext-1")
///     .result("done")
///     .duration(1.5)
///     .used_tools(["t1"]);
/// assert!(report.is_success);
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ExternalTaskReport {
    /// The task's id in the external system.
    pub id: Option<String>,
    /// The prompt.
    pub input: String,
    /// The raw LLM response.
    pub llm_response: Option<Value>,
    /// Tokens used.
    pub tokens: Option<Tokens>,
    /// Whether the task succeeded (default true).
    pub is_success: bool,
    /// The result.
    pub result: Option<String>,
    /// How long it ran, in seconds.
    pub duration: f64,
    /// The tools it used.
    pub used_tools: Vec<String>,
}

impl fmt::Debug for ExternalTaskReport {
    /// `llm_response` shows with the values of credential-looking keys
    /// redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalTaskReport")
            .field("id", &self.id)
            .field("input", &self.input)
            .field(
                "llm_response",
                &crate::redact::ShownField(&self.llm_response),
            )
            .field("tokens", &self.tokens)
            .field("is_success", &self.is_success)
            .field("result", &self.result)
            .field("duration", &self.duration)
            .field("used_tools", &self.used_tools)
            .finish()
    }
}

impl ExternalTaskReport {
    /// A successful report of a task whose prompt was `input`.
    pub fn new(input: impl Into<String>) -> ExternalTaskReport {
        ExternalTaskReport {
            id: None,
            input: input.into(),
            llm_response: None,
            tokens: None,
            is_success: true,
            result: None,
            duration: 0.0,
            used_tools: Vec::new(),
        }
    }

    option_setters! {
        /// Sets the external id.
        id: String,
        /// Sets the raw LLM response.
        llm_response: Value,
        /// Sets the tokens used.
        tokens: Tokens,
        /// Sets the result.
        result: String,
    }

    /// Marks the task as failed or succeeded.
    pub fn is_success(mut self, success: bool) -> Self {
        self.is_success = success;
        self
    }

    /// Sets how long it ran, in seconds.
    pub fn duration(mut self, seconds: f64) -> Self {
        self.duration = seconds;
        self
    }

    /// Sets the tools it used.
    pub fn used_tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.used_tools = tools.into_iter().map(Into::into).collect();
        self
    }
}
