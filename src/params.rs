//! The parameters of each operation: what a caller sets, and nothing else.
//!
//! These are plain values with chainable setters. They serialize straight to
//! the request body the official client sends; a field the caller did not set
//! is absent from an update body (never `null`), and a set empty string is sent.
//! Shared, no I/O: the blocking and the async form of a call take the same
//! values, and [`crate::sans_io::request`] turns them into the request.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{AgentExecutionStatus, McpServer, OutputFormat, ThinkMode, Tokens, User};
use crate::redact::redacting_debug;

/// Generates the chainable setters of every builder, parameter and policy
/// type. `name(T)` sets the field `name` to the value (`.into()` it), `=>
/// Some` (or another wrapper) wraps it first, and `in a.b` names a field
/// other than `name`; each carries its own doc. `fields { name: T => adjust
/// }` sets a field of the same name, documented as such, through an
/// optional adjustment (a floor, a forced flag).
macro_rules! setters {
    (fields { $( $field:ident : $ty:ty $(=> $adjust:expr)? ),* $(,)? }) => {$(
        #[doc = concat!("Sets [`", stringify!($field), "`](field@Self::", stringify!($field), ").")]
        #[must_use]
        pub fn $field(mut self, value: $ty) -> Self {
            self.$field = value;
            $( self.$field = $adjust(self.$field); )?
            self
        }
    )*};
    ($( $(#[$doc:meta])* $name:ident($ty:ty) $(in $($path:ident).+)? $(=> $wrap:path)? ),* $(,)?) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                $crate::params::setters!(@place self $name $($($path).+)?) = $($wrap)?(value.into());
                self
            }
        )*
    };
    (@place $s:ident $name:ident) => { $s.$name };
    (@place $s:ident $name:ident $($path:ident).+) => { $s.$($path).+ };
}
pub(crate) use setters;

redacting_debug! {
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
    pub tool_call_payload_extension: Option<Value> [crate::redact::Redacted],
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
}

impl UpdateTask {
    /// An update that sets nothing (sent as `{}`).
    pub fn new() -> UpdateTask {
        UpdateTask::default()
    }

    setters! {
        /// Sets the tool-call payload extension (a JSON object).
        tool_call_payload_extension(impl Into<Value>) => Some,
        /// Sets the origin tag.
        source(impl Into<String>) => Some,
        /// Sets the status.
        status(impl Into<AgentExecutionStatus>) => Some,
        /// Sets the "current node" cursor.
        last_executed_node_id(impl Into<String>) => Some,
        /// Sets the result (an empty string is a value and is sent).
        result(impl Into<String>) => Some,
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

    setters! {
        /// Only tasks of this user.
        user_id(impl Into<String>) => Some,
        /// Only sub-tasks of this task.
        parent_task_id(impl Into<String>) => Some,
        /// Only tasks triggered by this agent.
        triggering_agent_id(impl Into<String>) => Some,
        /// Only tasks in this status.
        status(impl Into<AgentExecutionStatus>) => Some,
        /// Only tasks with this internal status.
        internal_status(impl Into<String>) => Some,
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

redacting_debug! {
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
#[derive(Clone, Default, PartialEq, Serialize)]
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
    pub payload_extension: Option<Map<String, Value>> [crate::redact::Redacted],
    /// The task's origin tag.
    pub source: Option<String>,
    /// The worker that should run the task.
    pub worker_id: Option<String>,
    /// The format of the result.
    pub output_format: Option<OutputFormat>,
    /// A JSON schema the result must follow.
    pub output_schema: Option<Value> [crate::redact::ShownField],
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
    pub user_oidc_token: Option<String> [crate::redact::Redacted],
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
    pub user_tokens: Option<Value> [crate::redact::Redacted],
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
}

impl CreateTask {
    /// A new task for `agent_id` with the prompt `prompt`.
    pub fn new(agent_id: impl Into<String>, prompt: impl Into<String>) -> CreateTask {
        CreateTask {
            agent_id: agent_id.into(),
            input: CreateInput {
                text: prompt.into(),
                ..CreateInput::default()
            },
            ..CreateTask::default()
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

    setters! {
        /// Sets the user the task is for.
        user_details(User) in input.user => Some,
        /// Sets the MCP servers the agent may use.
        mcp_servers(Vec<McpServer>),
        /// Sets the think mode.
        think_mode(ThinkMode),
        /// Runs the task on the caller's worker.
        run_locally(bool),
        /// Streams the task's events.
        events_streaming(bool),
        /// Does not inject attachments into the prompt.
        disable_attachment_injection(bool),
        /// Returns token and time metrics with the result.
        return_metrics(bool),
    }

    setters! {
        /// Sets the agent version (sent as the `x-agent-version` header).
        agent_version(impl Into<String>) => Some,
        /// Sets a task id chosen by the caller.
        id(impl Into<String>) => Some,
        /// Sets the payload extension.
        payload_extension(impl Into<Map<String, Value>>) => Some,
        /// Sets the origin tag.
        source(impl Into<String>) => Some,
        /// Sets the worker that should run the task.
        worker_id(impl Into<String>) => Some,
        /// Sets the output format.
        output_format(impl Into<OutputFormat>) => Some,
        /// Sets the output JSON schema.
        output_schema(impl Into<Value>) => Some,
        /// Sets extra context.
        additional_context(impl Into<String>) => Some,
        /// Sets instructions that replace the agent's own.
        instructions_override(impl Into<String>) => Some,
        /// Sets the node a workflow test starts from.
        test_run_node_id(impl Into<String>) => Some,
        /// Sets the user's OIDC token.
        user_oidc_token(impl Into<String>) => Some,
        /// Sets what the result should look like.
        expected_output(impl Into<String>) => Some,
        /// Sets the agent that triggered this task.
        triggering_agent_id(impl Into<String>) => Some,
        /// Sets a title.
        title(impl Into<String>) => Some,
        /// Sets the most tool calls the task may make.
        tool_call_limit(impl Into<u32>) => Some,
        /// Sets the user's connector tokens.
        user_tokens(impl Into<Value>) => Some,
        /// Sets the LLM provider.
        llm_model_provider(impl Into<String>) => Some,
        /// Sets the LLM model.
        llm_model_name(impl Into<String>) => Some,
        /// Sets the LLM reasoning effort.
        llm_reasoning_effort(impl Into<String>) => Some,
        /// Sets the harness CLI.
        harness_cli(impl Into<String>) => Some,
        /// Sets the permission mode.
        permission_mode(impl Into<String>) => Some,
    }
}

redacting_debug! {
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
    pub llm_response: Option<Value> [crate::redact::ShownField],
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

    setters! {
        /// Sets the external id.
        id(impl Into<String>) => Some,
        /// Sets the raw LLM response.
        llm_response(impl Into<Value>) => Some,
        /// Sets the tokens used.
        tokens(impl Into<Tokens>) => Some,
        /// Sets the result.
        result(impl Into<String>) => Some,
    }

    setters! {
        /// Marks the task as failed or succeeded.
        is_success(bool),
        /// Sets how long it ran, in seconds.
        duration(f64),
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
