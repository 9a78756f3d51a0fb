//! Tests of the typed models against the wire fixtures.

use serde_json::{json, Value};
use xpander_sdk::model::{
    AgentExecutionStatus, McpAuthType, McpServerType, McpTransport, OutputFormat, Task,
    TaskListItem, ThinkMode,
};

#[path = "common/expected.rs"]
mod expected;

const TASK_FULL: &str = include_str!("fixtures/task-full.json");
const TASK_MINIMAL: &str = include_str!("fixtures/task-minimal.json");
const TASK_FORWARD: &str = include_str!("fixtures/task-forward-compat.json");
const TASKS_LIST: &str = include_str!("fixtures/tasks-list.json");
const RECORDER_TASK: &str = include_str!("fixtures/recorder-task.json");
const REQUESTS: &str = include_str!("fixtures/official-python-client-requests.json");

fn task(text: &str) -> Task {
    serde_json::from_str(text).expect("task parses")
}

/// The body the official client sent in one case of the wire file.
fn wire_body(case: &str) -> Value {
    let requests: Value = serde_json::from_str(REQUESTS).unwrap();
    requests[case][0]["body"].clone()
}

#[test]
fn every_fixture_parses() {
    task(TASK_FULL);
    task(TASK_MINIMAL);
    task(TASK_FORWARD);
    task(RECORDER_TASK);
    let items: Vec<TaskListItem> = serde_json::from_str(TASKS_LIST).unwrap();
    assert_eq!(items.len(), 2);
}

#[test]
fn task_full_fields() {
    let t = task(TASK_FULL);
    assert_eq!(t.id, "5f1c2a9e-8d7b-4c3e-9a41-0b6d2e7f8a13");
    assert_eq!(t.agent_id, "a1b2c3d4-0000-4000-8000-00000000abcd");
    assert_eq!(t.organization_id, "org-7e57");

    assert_eq!(t.input.text, "Summarise the Q3 sales deck and flag risks");
    assert_eq!(t.input.files.len(), 2);
    assert_eq!(t.input.files[1], "https://files.example.com/chart.png");
    assert!(t.input.attachments.is_empty());
    assert_eq!(t.input.principal, None);
    let user = t.input.user.as_ref().unwrap();
    assert_eq!(user.id.as_deref(), Some("u-42"));
    assert_eq!(user.first_name.as_deref(), Some("Dana"));
    assert_eq!(user.last_name.as_deref(), Some("Levi"));
    assert_eq!(user.email.as_deref(), Some("dana@example.com"));
    assert_eq!(
        user.additional_attributes.as_ref().unwrap()["team"],
        "sales"
    );
    assert_eq!(user.timezone.as_deref(), Some("Asia/Jerusalem"));
    assert!(user.extra.is_empty());
    assert!(t.input.extra.is_empty());

    assert_eq!(t.status, Some(AgentExecutionStatus::Executing));
    assert_eq!(
        t.internal_status.as_deref(),
        Some("waiting on CRM connector")
    );
    assert_eq!(t.last_executed_node_id.as_deref(), Some("node-analyse-3"));
    assert_eq!(t.agent_version.as_deref(), Some("12"));
    assert_eq!(t.created_at.as_str(), Some("2026-11-20T10:00:00Z"));
    assert_eq!(t.created_at.offset(), Some(jiff::tz::Offset::UTC));
    let started = t.started_at.as_ref().unwrap();
    assert_eq!(started.as_str(), Some("2026-11-20T10:00:01.123456"));
    assert_eq!(started.offset(), None);
    assert_eq!(started.civil().unwrap().subsec_nanosecond(), 123_456_000);
    assert_eq!(t.paused_at, None);
    assert_eq!(t.finished_at, None);
    assert_eq!(t.result, None);
    assert_eq!(
        t.parent_execution.as_deref(),
        Some("9d8c7b6a-1111-4222-8333-444455556666")
    );
    assert_eq!(t.conversation_id, None);
    assert_eq!(t.conversation_kind, None);
    assert_eq!(t.sub_executions.len(), 2);
    assert!(!t.should_update_parent);
    assert!(!t.is_manually_stopped);
    assert_eq!(
        t.payload_extension.as_ref().unwrap()["headers"]["X-Trace-ID"],
        "abc-123"
    );
    assert_eq!(t.execution_kind, None);
    assert_eq!(
        t.hitl_request.as_ref().unwrap().wait_node_id.as_deref(),
        Some("node-approve")
    );
    let eca = t.pending_eca_request.as_ref().unwrap();
    assert_eq!(eca.connector_name.as_deref(), Some("Salesforce"));
    assert_eq!(
        eca.auth_url.as_deref(),
        Some("https://auth.example.com/sf?state=xyz")
    );
    assert_eq!(t.source.as_deref(), Some("slack"));
    assert_eq!(t.voice_id, None);
    assert_eq!(t.output_format, OutputFormat::Markdown);
    assert_eq!(
        t.output_schema.as_ref().unwrap()["properties"]["risks"]["items"]["type"],
        "string"
    );
    assert!(t.events_streaming);
    assert!(!t.is_orchestration && !t.is_gateway && !t.is_app);
    assert!(!t.background_auth_eligible);
    assert_eq!(t.additional_context.as_deref(), Some("Customer is in EMEA"));
    assert_eq!(t.tool_call_limit, Some(25));
    assert_eq!(t.instructions_override, None);
    assert_eq!(t.test_run_node_id, None);
    assert_eq!(t.user_oidc_token, None);
    assert_eq!(t.expected_output.as_deref(), Some("A bullet list of risks"));

    assert_eq!(t.mcp_servers.len(), 1);
    let mcp = &t.mcp_servers[0];
    assert_eq!(mcp.r#type, McpServerType::Remote);
    assert_eq!(mcp.name, "crm");
    assert_eq!(mcp.command, None);
    assert_eq!(mcp.url.as_deref(), Some("https://mcp.example.com/crm"));
    assert_eq!(mcp.transport, McpTransport::StreamableHttp);
    assert_eq!(mcp.auth_type, McpAuthType::ApiKey);
    assert_eq!(mcp.api_key.as_deref(), Some("mcp-secret"));
    assert!(!mcp.use_secrets_manager);
    assert_eq!(mcp.client_id, None);
    assert_eq!(mcp.client_secret, None);
    assert!(mcp.headers.is_empty() && mcp.env_vars.is_empty());
    assert_eq!(mcp.allowed_tools, ["search"]);
    assert!(mcp.additional_scopes.is_empty());
    assert!(mcp.share_user_token_across_other_agents);
    assert!(mcp.extra.is_empty());

    assert_eq!(t.triggering_agent_id, None);
    assert_eq!(t.title.as_deref(), Some("Q3 deck summary"));
    assert_eq!(t.think_mode, ThinkMode::Harder);
    assert!(!t.disable_attachment_injection);
    assert_eq!(t.user_tokens, None);
    let plan = &t.deep_planning;
    assert!(plan.enabled && plan.enforce && plan.started && !plan.question_raised);
    assert_eq!(plan.tasks.len(), 2);
    assert_eq!(plan.tasks[0].id, "p1");
    assert_eq!(plan.tasks[0].title, "Read the deck");
    assert!(plan.tasks[0].completed);
    assert!(!plan.tasks[1].completed);
    assert!(!t.must_deep_plan);
    assert_eq!(t.execution_attempts, 2);
    assert!(!t.return_metrics);
    assert_eq!(t.llm_model_provider.as_deref(), Some("anthropic"));
    assert_eq!(t.llm_model_name.as_deref(), Some("claude-sonnet"));
    assert_eq!(t.llm_reasoning_effort, None);
    assert_eq!(t.harness_cli, None);
    assert_eq!(t.permission_mode, None);
    let tokens = t.tokens.as_ref().unwrap();
    assert_eq!(
        (
            tokens.completion_tokens,
            tokens.prompt_tokens,
            tokens.total_tokens
        ),
        (812, 10450, 11262)
    );
    assert_eq!(t.used_tools, ["crm_search", "pdf_reader"]);
    assert_eq!(t.duration, 42.7);
    assert!(t.extra.is_empty(), "every field of task-full is known");
    assert!(!t.is_finished());
}

#[test]
fn task_full_round_trips_exactly() {
    // task-full has every known field, so serialization gives it back as is.
    let original: Value = serde_json::from_str(TASK_FULL).unwrap();
    let back = serde_json::to_value(task(TASK_FULL)).unwrap();
    assert_eq!(back, original);
    assert_eq!(Task::FIELD_NAMES.len(), original.as_object().unwrap().len());
}

#[test]
fn task_minimal_defaults() {
    let t = task(TASK_MINIMAL);
    assert_eq!(t.id, "task_xyz");
    assert_eq!(t.input.text, "Hello!");
    assert_eq!(t.status, None);
    assert_eq!(t.output_format, OutputFormat::Text);
    assert_eq!(t.think_mode, ThinkMode::Default);
    assert_eq!(t.execution_attempts, 1);
    assert_eq!(t.duration, 0.0);
    assert!(!t.events_streaming);
    assert!(t.mcp_servers.is_empty());
    assert!(t.extra.is_empty());
}

#[test]
fn only_the_id_is_required() {
    let full: Value = serde_json::from_str(TASK_MINIMAL).unwrap();
    let mut body = full.clone();
    body.as_object_mut().unwrap().remove("id");
    let err = serde_json::from_value::<Task>(body).unwrap_err();
    assert!(err.to_string().contains("id"), "{err}");
    // Every other key may be absent: read at its default, and not written
    // back (no key invented).
    for key in ["agent_id", "organization_id", "input", "created_at"] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(key);
        let t =
            serde_json::from_value::<Task>(body.clone()).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(t.id, "task_xyz");
        assert_eq!(serde_json::to_value(&t).unwrap(), body, "{key}");
    }
    let bare = serde_json::from_value::<Task>(json!({"id": "t"})).unwrap();
    assert_eq!(bare.created_at, xpander_sdk::model::Timestamp::default());
    assert_eq!(bare.input.text, "");
    assert_eq!(bare.save_body(true).unwrap(), json!({"id": "t"}));
    // Present but odd: read, and kept as it came.
    let mut body = full.clone();
    body["created_at"] = json!("yesterday");
    let t = serde_json::from_value::<Task>(body).unwrap();
    assert!(!t.created_at.is_valid());
    assert_eq!(serde_json::to_value(&t).unwrap()["created_at"], "yesterday");
    // A repeated key: the last one wins, as with Python's `json`.
    let dup = r#"{"id": "a", "id": "b", "agent_id": "x", "organization_id": "o",
        "input": {"text": ""}, "created_at": "2026-11-20T10:00:00Z"}"#;
    assert_eq!(serde_json::from_str::<Task>(dup).unwrap().id, "b");
    // Not an object.
    assert!(serde_json::from_str::<Task>("[]").is_err());
    assert!(serde_json::from_str::<Task>("null").is_err());
}

#[test]
fn null_takes_the_default_for_non_optional_fields() {
    let mut body: Value = serde_json::from_str(TASK_MINIMAL).unwrap();
    for key in [
        "sub_executions",
        "should_update_parent",
        "output_format",
        "think_mode",
        "deep_planning",
        "execution_attempts",
        "duration",
    ] {
        body[key] = Value::Null;
    }
    let t: Task = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(t.execution_attempts, 1);
    assert_eq!(t.output_format, OutputFormat::Text);
    assert!(!t.deep_planning.enabled);
    // And the nulls go back as nulls.
    assert_eq!(serde_json::to_value(&t).unwrap(), body);
}

#[test]
fn forward_compat_survives_a_round_trip() {
    let original: Value = serde_json::from_str(TASK_FORWARD).unwrap();
    let t = task(TASK_FORWARD);
    assert_eq!(
        t.status,
        Some(AgentExecutionStatus::Unknown("awaiting_review".into()))
    );
    assert_eq!(t.extra["brand_new_field"], json!({"nested": [1, 2, 3]}));
    assert_eq!(t.input.extra["future_input_field"], json!(true));
    assert_eq!(t.deep_planning.extra["future_plan_flag"], json!("x"));

    let back = serde_json::to_value(&t).unwrap();
    assert_eq!(back["status"], original["status"]);
    assert_eq!(back["brand_new_field"], original["brand_new_field"]);
    assert_eq!(
        back["input"]["future_input_field"],
        original["input"]["future_input_field"]
    );
    assert_eq!(
        back["deep_planning"]["future_plan_flag"],
        original["deep_planning"]["future_plan_flag"]
    );
    // Every key the server sent comes back with its value, and no other.
    assert_eq!(back, original);
    // And a second round trip is stable.
    let again =
        serde_json::to_value(serde_json::from_value::<Task>(back.clone()).unwrap()).unwrap();
    assert_eq!(again, back);
}

#[test]
fn extra_never_duplicates_a_known_key() {
    let mut t = task(TASK_MINIMAL);
    t.extra.insert("id".into(), json!("shadow"));
    t.extra.insert("new".into(), json!(1));
    let text = serde_json::to_string(&t).unwrap();
    assert_eq!(text.matches("\"id\"").count(), 1);
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["id"], "task_xyz");
    assert_eq!(back["new"], 1);
}

fn recorder_task_after(status: AgentExecutionStatus, result: &str) -> Task {
    let mut t = task(RECORDER_TASK);
    t.status = Some(status);
    t.result = Some(result.to_owned());
    t
}

/// The official client's save body for `case`, less the defaults it
/// invented for keys the recorder's task never had.
fn our_wire_body(case: &str) -> Value {
    let read: Value = serde_json::from_str(RECORDER_TASK).unwrap();
    expected::save_body_we_send(&wire_body(case), &read)
}

#[test]
fn save_after_mutation_body() {
    let t = recorder_task_after(AgentExecutionStatus::Completed, "saved result");
    let mut body = serde_json::to_value(&t).unwrap();
    body.as_object_mut().unwrap().remove("deep_planning");
    assert_eq!(body, our_wire_body("save_after_mutation"));
    assert_eq!(
        t.save_body(false).unwrap(),
        our_wire_body("save_after_mutation")
    );
}

#[test]
fn save_with_deep_plan_body() {
    let t = recorder_task_after(AgentExecutionStatus::Completed, "saved result");
    assert_eq!(
        serde_json::to_value(&t).unwrap(),
        our_wire_body("save_with_deep_plan")
    );
    assert_eq!(
        t.save_body(true).unwrap(),
        our_wire_body("save_with_deep_plan")
    );
}

#[test]
fn set_status_body() {
    let t = recorder_task_after(AgentExecutionStatus::Failed, "boom");
    assert_eq!(t.save_body(false).unwrap(), our_wire_body("set_status"));
}

#[test]
fn save_body_key_order_follows_the_python_client() {
    // Not required for JSON equality, but keeps the bytes recognisable.
    let t = recorder_task_after(AgentExecutionStatus::Completed, "saved result");
    let text = serde_json::to_string(&t).unwrap();
    let mut last = 0;
    for key in Task::FIELD_NAMES {
        if let Some(pos) = text.find(&format!("\"{key}\":")) {
            assert!(pos >= last, "{key} out of order");
            last = pos;
        }
    }
}

#[test]
fn list_items() {
    let items: Vec<TaskListItem> = serde_json::from_str(TASKS_LIST).unwrap();
    let first = &items[0];
    assert_eq!(first.id, "t-1");
    assert_eq!(first.agent_id, "agent-123");
    assert_eq!(first.organization_id, "org-1");
    assert_eq!(first.user_id.as_deref(), Some("u-42"));
    assert_eq!(first.parent_task_id, None);
    assert_eq!(first.triggering_agent_id, None);
    assert_eq!(first.status, Some(AgentExecutionStatus::Completed));
    assert_eq!(first.created_at.as_str(), Some("2026-11-20T10:00:00Z"));
    let updated = first.updated_at.as_ref().unwrap();
    assert_eq!(updated.civil().unwrap().subsec_nanosecond(), 500_000_000);
    assert_eq!(first.source_node_type.as_deref(), Some("slack"));
    assert_eq!(first.result.as_deref(), Some("ok"));
    assert_eq!(first.title.as_deref(), Some("first"));
    let second = &items[1];
    assert_eq!(second.status, Some(AgentExecutionStatus::Executing));
    assert_eq!(second.created_at.offset(), Some(jiff::tz::Offset::UTC));
    assert_eq!(second.updated_at, None);
    assert_eq!(second.user_id, None);
    assert!(first.extra.is_empty() && second.extra.is_empty());
    // The first item has every field: it round-trips exactly.
    let original: Value = serde_json::from_str(TASKS_LIST).unwrap();
    assert_eq!(serde_json::to_value(first).unwrap(), original[0]);
}

#[test]
fn debug_redacts_secrets() {
    let mut t = task(TASK_FULL);
    t.user_oidc_token = Some("oidc-very-secret".into());
    t.mcp_servers[0].client_secret = Some("client-very-secret".into());
    let debug = format!("{t:?}");
    let pretty = format!("{t:#?}");
    for text in [&debug, &pretty] {
        assert!(!text.contains("oidc-very-secret"));
        assert!(!text.contains("client-very-secret"));
        assert!(!text.contains("mcp-secret"));
        assert!(text.contains("<redacted>"));
        // The rest is there.
        assert!(text.contains("Q3 deck summary"));
        assert!(text.contains("user_oidc_token"));
        assert!(text.contains("crm_search"));
    }
    // Serialization, on the other hand, keeps them: a save sends them back.
    let body = serde_json::to_value(&t).unwrap();
    assert_eq!(body["user_oidc_token"], "oidc-very-secret");
    assert_eq!(body["mcp_servers"][0]["api_key"], "mcp-secret");
}

#[test]
fn enums_display_and_parse() {
    for status in AgentExecutionStatus::KNOWN {
        assert_eq!(
            &status.to_string().parse::<AgentExecutionStatus>().unwrap(),
            status
        );
    }
    assert_eq!(AgentExecutionStatus::KNOWN.len(), 7);
    assert_eq!(OutputFormat::KNOWN.len(), 4);
    assert_eq!(ThinkMode::KNOWN.len(), 2);
    assert_eq!(McpServerType::KNOWN.len(), 2);
    assert_eq!(McpTransport::KNOWN.len(), 3);
    assert_eq!(McpAuthType::KNOWN.len(), 3);
}

#[test]
fn garbage_does_not_panic() {
    let inputs = [
        "",
        "{",
        "{}",
        "[1,2]",
        r#"{"agent_id": 1}"#,
        r#"{"input": "é🦀"}"#,
        r#"{"created_at": "2026-11-20T10:00:00é"}"#,
        r#"{"mcp_servers": [{"type": 1}]}"#,
    ];
    for input in inputs {
        assert!(serde_json::from_str::<Task>(input).is_err(), "{input}");
        let _ = serde_json::from_str::<TaskListItem>(input);
    }
    // Only the id is required, and read leniently as any field is (a number
    // as its text, kept as it came).
    let lean = serde_json::from_str::<Task>(r#"{"id": 1}"#).unwrap();
    assert_eq!(lean.id, "1");
    assert_eq!(lean.raw_value("id"), Some(&serde_json::json!(1)));
    // Escaped keys are matched too.
    let escaped = TASK_MINIMAL.replace("\"agent_id\"", "\"agent\\u005fid\"");
    assert_eq!(task(&escaped).agent_id, "agent-123");
}

/// Free-form JSON of any model (tool payloads and results, an output
/// schema, attachments, a user's attributes, an event envelope's unknown
/// keys) is shown by `Debug` with the values of credential-looking keys
/// redacted, as `extra` is: a tool called with an API key must not print it.
#[test]
fn debug_redacts_credentials_inside_free_form_fields() {
    use xpander_sdk::model::{ActivityThread, TaskEvent};
    const SECRET: &str = "free-form-s3cret";
    let mut t = task(TASK_FULL);
    t.output_schema = Some(json!({"token": SECRET}));
    t.input.attachments = vec![json!({"api_key": SECRET})];
    t.input.principal = Some(json!({"password": SECRET}));
    let user = t.input.user.get_or_insert_with(Default::default);
    user.additional_attributes = Some(
        json!({"session_token": SECRET})
            .as_object()
            .unwrap()
            .clone(),
    );
    let call = json!({"request_id": "r", "operation_id": "o",
        "payload": {"headers": {"Authorization": SECRET}},
        "result": {"access_token": SECRET}});
    let thread: ActivityThread = serde_json::from_value(json!({
        "id": "t", "created_at": "2026-11-20T10:00:00Z",
        "messages": [{"id": "c", "created_at": "2026-11-20T10:00:00Z",
            "tool_name": "login", "payload": {"password": SECRET},
            "result": {"refresh_token": SECRET}},
            {"id": "g", "created_at": "2026-11-20T10:00:00Z",
            "action": "get_executions_result", "reasoning": "r",
            "executions": [{"user_oidc_token": SECRET}]}]
    }))
    .unwrap();
    let events = [
        json!({"type": "tool_call_request", "data": call}),
        json!({"type": "tool_call_result", "data": call}),
        json!({"type": "task_compactization", "data": {"type": "retry", "data": {"api_key": SECRET}}}),
        json!({"type": "chunk", "data": "hi", "x_credentials": {"token": SECRET}, "cookie": SECRET}),
    ];
    let create = xpander_sdk::CreateTask::new("a", "hi").output_schema(json!({"api_key": SECRET}));
    let mut report = xpander_sdk::ExternalTaskReport::new("hi");
    report.llm_response = Some(json!({"choices": [], "authorization": SECRET}));
    let mut shown = vec![
        format!("{t:?}"),
        format!("{thread:#?}"),
        format!("{create:?}"),
        format!("{report:?}"),
    ];
    for event in events {
        let event = TaskEvent::from_json(&event.to_string(), None).unwrap();
        shown.push(format!("{event:?}"));
    }
    for text in shown {
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

/// An event envelope must say what it is: a `type` that is absent, not a
/// string, `null` or empty is refused (the stream skips it as malformed),
/// never delivered as an event of kind `Unknown("")`.
#[test]
fn an_event_without_a_type_is_refused() {
    use xpander_sdk::model::TaskEvent;
    for data in [
        r#"{"task_id": "t", "data": "x"}"#,
        r#"{"type": 7, "task_id": "t"}"#,
        r#"{"type": null, "task_id": "t"}"#,
        r#"{"type": "", "task_id": "t"}"#,
        r#"{"type": ["chunk"], "task_id": "t"}"#,
        r#""chunk""#,
        "null",
    ] {
        assert!(TaskEvent::from_json(data, None).is_err(), "{data}");
    }
    let odd = TaskEvent::from_json(r#"{"type": "brand_new"}"#, None).unwrap();
    assert!(odd.kind.is_unknown());
}

/// Issue #20: an activity entry and a tool-call event need only their id;
/// every other key may be absent (read at its default, not written back).
#[test]
fn activity_entries_and_tool_call_events_need_only_their_id() {
    use xpander_sdk::model::{ActivityEntry, EventPayload, TaskEvent};
    let entries = [
        json!({"id": "m", "role": "user", "content": {}}),
        json!({"id": "t", "tool_name": "search", "payload": null}),
        json!({"id": "r", "type": "think", "title": "t", "confidence": 0.5}),
        json!({"id": "s", "agent_id": "a", "reasoning": {}}),
        json!({"id": "a", "type": "token_issue", "data": {}}),
        json!({"id": "g", "action": "get_executions_result", "reasoning": "r"}),
    ];
    for entry in entries {
        let typed = ActivityEntry::classify(entry.clone());
        assert!(!matches!(typed, ActivityEntry::Other(_)), "{entry}");
        assert_eq!(typed.id(), entry["id"].as_str());
        assert_eq!(serde_json::to_value(&typed).unwrap(), entry);
    }
    // Without its id, an entry is kept whole.
    let no_id = json!({"tool_name": "search", "payload": null});
    assert!(matches!(
        ActivityEntry::classify(no_id),
        ActivityEntry::Other(_)
    ));
    for kind in ["tool_call_request", "tool_call_result"] {
        let data = json!({"request_id": "r1"});
        let event =
            TaskEvent::from_json(&json!({"type": kind, "data": data}).to_string(), None).unwrap();
        assert!(
            matches!(
                event.payload,
                EventPayload::ToolCallRequest(_) | EventPayload::ToolCallResult(_)
            ),
            "{kind}: {:?}",
            event.payload
        );
        assert_eq!(event.payload.to_value(), data);
        // Without its request id, the payload stays raw.
        let event = TaskEvent::from_json(
            &json!({"type": kind, "data": {"operation_id": "o"}}).to_string(),
            None,
        )
        .unwrap();
        assert!(matches!(event.payload, EventPayload::Raw(_)), "{kind}");
    }
}

/// A body the client cannot read says what it expected and where: the
/// model's name, and the position of the object that lacks its id.
#[test]
fn a_refused_body_names_the_model_and_the_position() {
    let missing = serde_json::from_str::<Task>("{}").unwrap_err().to_string();
    assert!(missing.contains("missing field `id`"), "{missing}");
    assert!(missing.contains("line 1 column 2"), "{missing}");
    let nested = serde_json::from_str::<Vec<Task>>("[\n  {\"id\": \"a\"},\n  {\"x\": 1}\n]")
        .unwrap_err()
        .to_string();
    assert!(nested.contains("missing field `id`"), "{nested}");
    assert!(nested.contains("line 3"), "{nested}");
    let null = serde_json::from_str::<Task>("null")
        .unwrap_err()
        .to_string();
    assert!(null.contains("a JSON object (Task)"), "{null}");
}
