//! The task (an agent execution) and its nested types.
//!
//! Shared by both faces, no I/O: read leniently and written back as read
//! (see [`crate::model`]). The calls on a task (`save` / `asave`, `reload`,
//! `events` / `aevents`, ...) are in [`crate::blocking`] and
//! [`crate::nonblocking`], from one body in `src/front.rs`.

use serde_json::{Map, Value};

use super::{
    AgentExecutionStatus, McpAuthType, McpServerType, McpTransport, OutputFormat, ThinkMode,
    Timestamp,
};

model_struct! {
    /// A task (agent execution) as the server returns it.
    ///
    /// Every field the official Python client knows is here; everything else
    /// the server sends is kept in [`Task::extra`] and sent back on
    /// serialization, so a save never loses data.
    ///
    /// Only the key `id` must be present: a task without `created_at`,
    /// `input` or any other field is read, the field at its default and not
    /// written back. Every value is read leniently, as the
    /// service's pydantic lax mode does (see the [module docs](crate::model)):
    /// a missing or `null` field takes its default (`Option` fields are
    /// `None`, lists empty, flags `false`, ...), a value of another kind is
    /// converted when it can be and kept as it came either way
    /// ([`Task::raw_value`]).
    ///
    /// Serialization (the body of a save, see [`Task::save_body`]) writes back
    /// exactly what was read, key for key and at every depth, except for the
    /// fields changed since: an absent key stays absent, a `null` stays
    /// `null`, `42` stays `42`. A task built in code ([`Task::new`]) writes
    /// every known field.
    ///
    /// `Debug` redacts every field that can hold a credential:
    /// `user_oidc_token`, `user_tokens`, the values of `payload_extension`,
    /// and the `api_key`, `client_secret`, `headers` and `env_vars` of
    /// `mcp_servers`; and the values of credential-looking keys (`token`,
    /// `api_key`, `authorization`, ...) at any depth of `extra` and of every
    /// free-form JSON field (`output_schema`, attachments, ...).
    ///
    /// ```
    /// use xpander_sdk::model::{AgentExecutionStatus, Task};
    ///
    /// let task: Task = serde_json::from_str(r#"{
    ///     "id": "task_xyz", "agent_id": "agent-123", "organization_id": "org-1",
    ///     "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z",
    ///     "status": "awaiting_review", "duration": "42.5", "result": null,
    ///     "brand_new_field": 1
    /// }"#)?;
    /// assert_eq!(task.input.text, "Hello!");
    /// assert_eq!(task.status, Some(AgentExecutionStatus::Unknown("awaiting_review".into())));
    /// assert_eq!(task.duration, 42.5);
    /// assert_eq!(task.raw_value("duration"), Some(&serde_json::json!("42.5")));
    /// assert_eq!(task.extra["brand_new_field"], 1);
    ///
    /// // Written back as it came: the odd `"42.5"` too, and no invented keys.
    /// let body = serde_json::to_value(&task)?;
    /// assert_eq!(body["status"], "awaiting_review");
    /// assert_eq!(body["duration"], "42.5");
    /// assert_eq!(body["result"], serde_json::Value::Null);
    /// assert_eq!(body["brand_new_field"], 1);
    /// assert!(body.get("sub_executions").is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct Task {
        /// The task id.
        id: String,
        /// The agent that runs the task.
        agent_id: String = String::new(),
        /// The organization owning the task.
        organization_id: String = String::new(),
        /// What the task was asked.
        input: TaskInput = TaskInput::default(),
        /// The execution status; `None` when the server sent none.
        status: Option<AgentExecutionStatus> = None,
        /// A free-form, server-side status detail.
        internal_status: Option<String> = None,
        /// The last node of the agent graph that ran.
        last_executed_node_id: Option<String> = None,
        /// The agent version that runs the task.
        agent_version: Option<String> = None,
        /// When the task was created (the epoch when the server sent none).
        created_at: Timestamp = Timestamp::default(),
        /// When the task started running.
        started_at: Option<Timestamp> = None,
        /// When the task was paused.
        paused_at: Option<Timestamp> = None,
        /// When the task finished.
        finished_at: Option<Timestamp> = None,
        /// The result (answer) of the task.
        result: Option<String> = None,
        /// The id of the parent task, for a sub-task.
        parent_execution: Option<String> = None,
        /// The conversation (thread) the task belongs to.
        conversation_id: Option<String> = None,
        /// The kind of that conversation.
        conversation_kind: Option<String> = None,
        /// Ids of the sub-tasks.
        sub_executions: Vec<String> = Vec::new(),
        /// Whether the parent task is updated when this one changes.
        should_update_parent: bool = false,
        /// Whether a user stopped the task.
        is_manually_stopped: bool = false,
        /// Extra payload passed to tool calls (e.g. auth headers: its values
        /// are redacted by `Debug`).
        @secret payload_extension: Option<Map<String, Value>> = None,
        /// The kind of execution.
        execution_kind: Option<String> = None,
        /// A pending human-in-the-loop request.
        hitl_request: Option<HitlRequest> = None,
        /// A pending connector authentication request.
        pending_eca_request: Option<PendingEcaRequest> = None,
        /// Where the task came from (`sdk`, `slack`, ...).
        source: Option<String> = None,
        /// The voice used for voice output.
        voice_id: Option<String> = None,
        /// The format of the answer.
        output_format: OutputFormat = OutputFormat::Text,
        /// A JSON schema for a JSON answer.
        output_schema: Option<Value> = None,
        /// Whether events are streamed.
        events_streaming: bool = false,
        /// Whether the task is an orchestration.
        is_orchestration: bool = false,
        /// Whether the task runs through a gateway.
        is_gateway: bool = false,
        /// Whether the task runs in an app.
        is_app: bool = false,
        /// Whether the task may authenticate in the background.
        background_auth_eligible: bool = false,
        /// Context added to the prompt.
        additional_context: Option<String> = None,
        /// The most tool calls the task may make.
        tool_call_limit: Option<i64> = None,
        /// Instructions replacing the agent's own.
        instructions_override: Option<String> = None,
        /// The node a test run starts from.
        test_run_node_id: Option<String> = None,
        /// The user's OIDC token (a secret: redacted by `Debug`).
        @secret user_oidc_token: Option<String> = None,
        /// What the answer should look like.
        expected_output: Option<String> = None,
        /// MCP servers made available to the task.
        mcp_servers: Vec<McpServer> = Vec::new(),
        /// The agent that triggered the task, if any.
        triggering_agent_id: Option<String> = None,
        /// A title for the task.
        title: Option<String> = None,
        /// How hard the agent thinks.
        think_mode: ThinkMode = ThinkMode::Default,
        /// Whether attachments are left out of the prompt.
        disable_attachment_injection: bool = false,
        /// User tokens passed to the task (shape not fixed by the API; a
        /// secret: redacted by `Debug`).
        @secret user_tokens: Option<Value> = None,
        /// The deep-planning state. A save sends it only when asked
        /// (see [`Task::save_body`]).
        deep_planning: DeepPlanning = DeepPlanning::default(),
        /// Whether the task must plan before acting.
        must_deep_plan: bool = false,
        /// How many times the task was attempted.
        execution_attempts: i64 = 1,
        /// Whether metrics are returned.
        return_metrics: bool = false,
        /// The LLM provider.
        llm_model_provider: Option<String> = None,
        /// The LLM model.
        llm_model_name: Option<String> = None,
        /// The LLM reasoning effort.
        llm_reasoning_effort: Option<String> = None,
        /// The harness CLI.
        harness_cli: Option<String> = None,
        /// The permission mode.
        permission_mode: Option<String> = None,
        /// Tokens used.
        tokens: Option<Tokens> = None,
        /// Names of the tools used.
        used_tools: Vec<String> = Vec::new(),
        /// Duration of the execution, in seconds.
        duration: f64 = 0.0,
    }
}

impl Task {
    /// A task built in code (for tests, fixtures and reports): the id, the
    /// agent, the organization and the input, `created_at` now, every other field at its default.
    /// Change the public fields to taste.
    ///
    /// ```
    /// use xpander_sdk::model::{AgentExecutionStatus, Task, TaskInput};
    ///
    /// let mut task = Task::new("task-1", "agent-1", "org-1", TaskInput::new("Hello!"));
    /// task.status = Some(AgentExecutionStatus::Completed);
    /// task.result = Some("Done".into());
    /// let body = task.save_body(false)?;
    /// assert_eq!(body["status"], "completed");
    /// assert_eq!(body["input"]["text"], "Hello!");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn new(
        id: impl Into<String>,
        agent_id: impl Into<String>,
        organization_id: impl Into<String>,
        input: TaskInput,
    ) -> Task {
        Task {
            id: id.into(),
            agent_id: agent_id.into(),
            organization_id: organization_id.into(),
            input,
            created_at: Timestamp::now(),
            ..Task::__defaults()
        }
    }

    /// The body of a save (`PATCH /agent-execution/{id}/update`): the task as
    /// read plus what was changed (see [`Task`]), without the local-only
    /// `configuration` key, and without `deep_planning` unless
    /// `include_deep_planning` is set (the Python client's
    /// `with_deep_plan_update`).
    ///
    /// ```
    /// use xpander_sdk::model::Task;
    ///
    /// let task: Task = serde_json::from_str(r#"{"id": "t", "agent_id": "a",
    ///     "organization_id": "o", "input": {"text": "hi"},
    ///     "created_at": "2026-11-20T10:00:00Z",
    ///     "deep_planning": {"enabled": false}}"#)?;
    /// assert!(task.save_body(false)?.get("deep_planning").is_none());
    /// assert_eq!(task.save_body(true)?["deep_planning"], serde_json::json!({"enabled": false}));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn save_body(&self, include_deep_planning: bool) -> Result<Value, serde_json::Error> {
        let mut body = serde_json::to_value(self)?;
        if let Value::Object(map) = &mut body {
            map.remove("configuration");
            if !include_deep_planning {
                map.remove("deep_planning");
            }
        }
        Ok(body)
    }

    /// `true` when the task has a terminal status (see
    /// [`AgentExecutionStatus::is_terminal`]).
    pub fn is_finished(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(AgentExecutionStatus::is_terminal)
    }
}

model_struct! {
    default;
    /// What a task was asked: a prompt, files and the user asking.
    ///
    /// ```
    /// use xpander_sdk::model::TaskInput;
    ///
    /// let input: TaskInput = serde_json::from_str(r#"{"text": "Hello!"}"#)?;
    /// assert_eq!(input.text, "Hello!");
    /// assert!(input.files.is_empty() && input.user.is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct TaskInput {
        /// The prompt.
        text: String = String::new(),
        /// URLs of the files given with the prompt.
        files: Vec<String> = Vec::new(),
        /// Attachments (shape not fixed by the API).
        attachments: Vec<Value> = Vec::new(),
        /// The user asking.
        user: Option<User> = None,
        /// The principal the task runs as (shape not fixed by the API).
        principal: Option<Value> = None,
    }
}

impl TaskInput {
    /// An input with this prompt and nothing else.
    pub fn new(text: impl Into<String>) -> TaskInput {
        TaskInput {
            text: text.into(),
            ..TaskInput::default()
        }
    }
}

model_struct! {
    default;
    /// The user a task runs for.
    ///
    /// ```
    /// use xpander_sdk::model::User;
    ///
    /// let user: User = serde_json::from_str(r#"{"id": "u-42", "email": "dana@example.com"}"#)?;
    /// assert_eq!(user.id.as_deref(), Some("u-42"));
    /// assert_eq!(user.first_name, None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct User {
        /// The user id.
        id: Option<String> = None,
        /// First name.
        first_name: Option<String> = None,
        /// Last name.
        last_name: Option<String> = None,
        /// E-mail address.
        email: Option<String> = None,
        /// Free-form attributes.
        additional_attributes: Option<Map<String, Value>> = None,
        /// IANA time zone, e.g. `Asia/Jerusalem`.
        timezone: Option<String> = None,
    }
}

model_struct! {
    default;
    /// The deep-planning state of a task.
    ///
    /// ```
    /// use xpander_sdk::model::DeepPlanning;
    ///
    /// let plan: DeepPlanning = serde_json::from_str(
    ///     r#"{"enabled": true, "tasks": [{"id": "p1", "title": "Read", "completed": true}]}"#,
    /// )?;
    /// assert!(plan.enabled && !plan.started);
    /// assert!(plan.tasks[0].completed);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct DeepPlanning {
        /// Whether deep planning is on.
        enabled: bool = false,
        /// Whether it is enforced.
        enforce: bool = false,
        /// Whether planning started.
        started: bool = false,
        /// Whether the planner asked the user a question.
        question_raised: bool = false,
        /// The plan's steps.
        tasks: Vec<DeepPlanningTask> = Vec::new(),
    }
}

model_struct! {
    default;
    /// One step of a deep plan.
    ///
    /// ```
    /// use xpander_sdk::model::DeepPlanningTask;
    /// let step: DeepPlanningTask = serde_json::from_str(r#"{"id": "p1", "title": "Read"}"#)?;
    /// assert!(!step.completed);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct DeepPlanningTask {
        /// The step id.
        id: String = String::new(),
        /// What the step does.
        title: String = String::new(),
        /// Whether the step is done.
        completed: bool = false,
    }
}

model_struct! {
    default;
    /// A pending human-in-the-loop request.
    ///
    /// ```
    /// use xpander_sdk::model::HitlRequest;
    /// let hitl: HitlRequest = serde_json::from_str(r#"{"wait_node_id": "node-approve"}"#)?;
    /// assert_eq!(hitl.wait_node_id.as_deref(), Some("node-approve"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct HitlRequest {
        /// The node waiting for the human.
        wait_node_id: Option<String> = None,
    }
}

model_struct! {
    default;
    /// A pending request to authenticate a connector.
    ///
    /// ```
    /// use xpander_sdk::model::PendingEcaRequest;
    /// let eca: PendingEcaRequest = serde_json::from_str(
    ///     r#"{"connector_name": "Salesforce", "auth_url": "https://auth.example.com"}"#,
    /// )?;
    /// assert_eq!(eca.connector_name.as_deref(), Some("Salesforce"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct PendingEcaRequest {
        /// The connector to authenticate.
        connector_name: Option<String> = None,
        /// Where the user authenticates.
        auth_url: Option<String> = None,
    }
}

model_struct! {
    default;
    /// An MCP server made available to a task.
    ///
    /// `api_key` and `client_secret` are secrets: `Debug` redacts them.
    ///
    /// ```
    /// use xpander_sdk::model::{McpServer, McpServerType, McpTransport};
    ///
    /// let server: McpServer = serde_json::from_str(r#"{"type": "remote", "name": "crm",
    ///     "url": "https://mcp.example.com", "transport": "streamable-http",
    ///     "api_key": "mcp-secret"}"#)?;
    /// assert_eq!(server.r#type, McpServerType::Remote);
    /// assert_eq!(server.transport, McpTransport::StreamableHttp);
    /// assert!(!format!("{server:?}").contains("mcp-secret"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct McpServer {
        /// Local process or remote server (wire name `type`).
        r#type: McpServerType = McpServerType::Local => "type",
        /// The server's name.
        name: String = String::new(),
        /// The command starting a local server.
        command: Option<String> = None,
        /// The URL of a remote server.
        url: Option<String> = None,
        /// The transport.
        transport: McpTransport = McpTransport::Stdio,
        /// How the client authenticates.
        auth_type: McpAuthType = McpAuthType::ApiKey,
        /// The API key (a secret: redacted by `Debug`).
        @secret api_key: Option<String> = None,
        /// Whether secrets come from the secrets manager.
        use_secrets_manager: bool = false,
        /// OAuth client id.
        client_id: Option<String> = None,
        /// OAuth client secret (a secret: redacted by `Debug`).
        @secret client_secret: Option<String> = None,
        /// HTTP headers sent to the server (may carry credentials: values
        /// redacted by `Debug`).
        @secret headers: Map<String, Value> = Map::new(),
        /// Environment variables of a local server (may carry credentials:
        /// values redacted by `Debug`).
        @secret env_vars: Map<String, Value> = Map::new(),
        /// Tools the task may use; empty means all.
        allowed_tools: Vec<String> = Vec::new(),
        /// Extra OAuth scopes.
        additional_scopes: Vec<String> = Vec::new(),
        /// Whether the user token is shared with other agents.
        share_user_token_across_other_agents: bool = false,
        /// The server's id.
        id: Option<String> = None,
        /// The audience of an SSO token exchange.
        sso_audience: Option<String> = None,
        /// Which SSO token is passed (`access`, `id`).
        sso_token: Option<String> = None,
    }
}

model_struct! {
    default;
    /// LLM token counts of a task.
    ///
    /// ```
    /// use xpander_sdk::model::Tokens;
    /// let tokens: Tokens = serde_json::from_str(r#"{"prompt_tokens": 10, "completion_tokens": 2}"#)?;
    /// assert_eq!(tokens.total_tokens, 0); // as sent (absent)
    /// assert_eq!(tokens.total(), 12);     // completion + prompt
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct Tokens {
        /// Tokens of the completion.
        completion_tokens: i64 = 0,
        /// Tokens of the prompt.
        prompt_tokens: i64 = 0,
        /// Tokens read from the prompt cache.
        cache_read_tokens: i64 = 0,
        /// Tokens written to the prompt cache.
        cache_write_tokens: i64 = 0,
        /// Total tokens, as the server sent them.
        total_tokens: i64 = 0,
    }
}

impl Tokens {
    /// Token counts, every other field at its default.
    pub fn new(prompt_tokens: i64, completion_tokens: i64) -> Tokens {
        Tokens {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            ..Tokens::default()
        }
    }

    /// The total as the official client computes it: completion + prompt
    /// (the cache counts are not added).
    pub fn total(&self) -> i64 {
        self.completion_tokens.saturating_add(self.prompt_tokens)
    }
}
