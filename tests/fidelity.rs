//! Fidelity through the sans-IO core: every odd-but-valid task body of
//! `fixtures/fidelity/tasks.json` (what pydantic's lax mode lets the service
//! send) is read, and its save body is the very JSON that was read, less
//! `configuration` and (unless asked) `deep_planning`; a local change changes
//! exactly the keys it touches. A property test does the same for generated
//! bodies. (The same bodies go through both faces and the emulator in
//! `tests/fidelity_faces.rs`.)

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use xpander_sdk::model::{AgentExecutionStatus, OutputFormat, Task, ThinkMode};
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::Tasks;

const TASKS: &str = include_str!("fixtures/fidelity/tasks.json");
const OFFICIAL: &str = include_str!("fixtures/fidelity/official-client-save-bodies.json");

fn bodies() -> Map<String, Value> {
    serde_json::from_str(TASKS).unwrap()
}

fn builder() -> RequestBuilder {
    RequestBuilder::new(
        Tasks::builder()
            .api_key("k")
            .base_url("https://inbound.xpander.ai")
            .build_config()
            .unwrap(),
    )
}

/// Reads `body` as the answer of a `get`, through the core.
fn read(body: &Value) -> Task {
    let response = xpander_sdk::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        None,
        serde_json::to_vec(body).unwrap(),
    );
    builder()
        .parse_task(response)
        .unwrap_or_else(|e| panic!("{}: {e}", body["id"]))
}

/// The body `save` sends for `task`, as JSON.
fn save_body(task: &Task, with_deep_plan: bool) -> Value {
    let request = builder().save(task, with_deep_plan).unwrap();
    serde_json::from_slice(request.body()).unwrap()
}

fn without(body: &Value, keys: &[&str]) -> Value {
    let mut body = body.clone();
    for key in keys {
        body.as_object_mut().unwrap().remove(*key);
    }
    body
}

#[test]
fn every_fidelity_body_is_read_and_saved_back_exactly() {
    let official: Map<String, Value> = serde_json::from_str(OFFICIAL).unwrap();
    for (name, body) in bodies() {
        let task = read(&body);
        assert_eq!(
            save_body(&task, false),
            without(&body, &["configuration", "deep_planning"]),
            "{name}"
        );
        assert_eq!(
            save_body(&task, true),
            without(&body, &["configuration"]),
            "{name}: with the deep plan"
        );
        // Every body the official client reads, we read; and the ones it
        // cannot read too (we got here).
        assert!(official.contains_key(&name), "{name} is in both files");
    }
}

#[test]
fn a_local_change_changes_exactly_the_keys_it_touches() {
    for (name, body) in bodies() {
        let mut task = read(&body);
        task.status = Some(AgentExecutionStatus::Completed);
        task.result = Some("Done".into());
        let mut expected = without(&body, &["configuration", "deep_planning"]);
        expected["status"] = json!("completed");
        expected["result"] = json!("Done");
        assert_eq!(save_body(&task, false), expected, "{name}");

        // Nested: one key of the input changes, the rest of it stays as read.
        let mut task = read(&body);
        task.input.text = "changed".into();
        let mut expected = without(&body, &["configuration", "deep_planning"]);
        expected["input"]["text"] = json!("changed");
        assert_eq!(save_body(&task, false), expected, "{name}: input.text");
    }
}

#[test]
fn the_typed_view_of_odd_values() {
    let bodies = bodies();
    let task = |name: &str| read(&bodies[name]);

    assert_eq!(task("output_format_null").output_format, OutputFormat::Text);
    let t = task("lists_null");
    assert!(t.sub_executions.is_empty() && t.used_tools.is_empty() && t.mcp_servers.is_empty());
    let t = task("bools_null");
    assert!(!t.events_streaming && !t.is_manually_stopped);
    assert!(!task("deep_planning_null").deep_planning.enabled);
    assert_eq!(task("status_missing").status, None);

    let instant = |name: &str| task(name).created_at.to_jiff().unwrap().to_string();
    assert_eq!(instant("date_only"), "2026-11-20T00:00:00Z");
    assert_eq!(instant("unix_seconds"), "2025-11-20T10:00:00Z");
    assert_eq!(instant("offset_ist"), "2026-11-20T10:00:00Z");
    assert_eq!(instant("space_separator"), "2026-11-20T10:00:00Z");
    assert_eq!(
        task("offset_ist").created_at.offset().map(|o| o.seconds()),
        Some(19_800)
    );

    let t = task("attempts_float");
    assert_eq!(t.execution_attempts, 2);
    assert_eq!(t.raw_value("execution_attempts"), Some(&json!(2.0)));
    assert_eq!(task("duration_int").duration, 42.0);
    let t = task("duration_string");
    assert_eq!(t.duration, 42.5);
    assert_eq!(t.raw_value("duration"), Some(&json!("42.5")));
    let tokens = task("tokens_float").tokens.unwrap();
    assert_eq!((tokens.completion_tokens, tokens.prompt_tokens), (10, 5));
    assert_eq!(tokens.raw_value("completion_tokens"), Some(&json!(10.0)));
    let tokens = task("tokens_extra").tokens.unwrap();
    assert_eq!(tokens.cache_read_tokens, 3);
    assert_eq!(tokens.total(), 15);
    assert_eq!(tokens.extra["brand_new_counter"], 7);

    assert_eq!(task("unknown_top").extra["another"], "s");
    let t = task("unknown_nested");
    assert_eq!(t.input.extra["brand_new_input_field"], true);
    assert_eq!(t.deep_planning.extra["brand_new_plan_flag"], 3);
    assert_eq!(
        task("unknown_enum_status").status,
        Some(AgentExecutionStatus::Unknown("awaiting_review".into()))
    );
    assert_eq!(
        task("unicode").result.as_deref(),
        Some("Résumé ✓ 漢字 😀 \u{0} end")
    );
    let t = task("input_nulls");
    assert_eq!(t.input.text, "");
    assert!(t.input.files.is_empty() && t.input.user.is_none());
    let t = task("big_numbers");
    assert_eq!(t.execution_attempts, 9_007_199_254_740_993);
    assert_eq!(t.duration, 1e308);
    let t = task("mcp_unknown");
    assert!(t.mcp_servers[0].transport.is_unknown());
    assert_eq!(
        t.mcp_servers[0].extra["brand_new_mcp_field"],
        json!({"a": 1})
    );
    let t = task("agent_version_int");
    assert_eq!(t.agent_version.as_deref(), Some("12"));
    assert_eq!(t.raw_value("agent_version"), Some(&json!(12)));
    assert_eq!(task("full").think_mode, ThinkMode::Harder);
}

#[test]
fn a_value_the_model_cannot_hold_is_kept_and_never_fails_the_call() {
    let odd = json!({
        "id": "odd", "agent_id": "a", "organization_id": "o",
        "input": "not an object", "created_at": {"when": "yesterday"},
        "status": 7, "execution_attempts": "many", "duration": [1],
        "sub_executions": ["a", 2, null], "is_app": "perhaps",
        "payload_extension": "text", "tokens": 12, "mcp_servers": {"x": 1},
        "deep_planning": [], "output_format": false, "tool_call_limit": 1.5,
        "started_at": "not a date", "user_oidc_token": 5
    });
    let task = read(&odd);
    assert_eq!(task.id, "odd");
    assert_eq!(task.status, None);
    assert_eq!(task.execution_attempts, 1);
    assert_eq!(task.sub_executions, vec!["a".to_string(), "2".to_string()]);
    assert!(!task.created_at.is_valid());
    assert_eq!(task.created_at.as_value(), &json!({"when": "yesterday"}));
    assert!(!task.started_at.as_ref().unwrap().is_valid());
    assert_eq!(task.raw_value("status"), Some(&json!(7)));
    assert_eq!(task.raw_value("input"), Some(&json!("not an object")));
    assert_eq!(task.raw_values().count(), 14);
    assert_eq!(save_body(&task, true), odd);

    // Changing a field that was kept raw sends the new typed value.
    let mut task = task;
    task.execution_attempts = 3;
    assert_eq!(save_body(&task, true)["execution_attempts"], 3);
}

/// A list the typed view holds only part of (`null`, text or numbers among
/// the models, a number among the strings): changing one element the typed
/// view holds changes that element only; the others stay as read, where
/// they were. An element added goes at the end.
#[test]
fn a_change_inside_a_partly_typed_list_keeps_the_other_elements() {
    let body = json!({
        "id": "t", "agent_id": "a", "organization_id": "o",
        "input": {"text": "hi", "files": ["f1", 7, null]},
        "created_at": "2026-11-20T10:00:00Z",
        "sub_executions": ["s1", 2, null, {"x": 1}],
        "mcp_servers": [{"name": "crm", "x_kept": 1}, null, "junk", {"name": "b", "transport": 5}],
        "deep_planning": {"enabled": true, "tasks": [{"id": "p1", "completed": "yes"}, 7, {"id": "p2"}]}
    });
    let task = read(&body);
    assert_eq!(task.mcp_servers.len(), 2);
    assert_eq!(task.sub_executions, ["s1", "2"]);
    assert_eq!(save_body(&task, true), body);

    let mut changed = task.clone();
    changed.mcp_servers[1].name = "renamed".into();
    changed.deep_planning.tasks[0].completed = false;
    changed.sub_executions[0] = "s0".into();
    changed.input.files[1] = "f2".into();
    let mut expected = body.clone();
    expected["mcp_servers"][3]["name"] = json!("renamed");
    expected["deep_planning"]["tasks"][0]["completed"] = json!(false);
    expected["sub_executions"][0] = json!("s0");
    expected["input"]["files"][1] = json!("f2");
    assert_eq!(save_body(&changed, true), expected);

    // Appended: at the end, after what the typed view left out.
    let mut appended = task.clone();
    appended.sub_executions.push("s3".into());
    let mut expected = body.clone();
    expected["sub_executions"]
        .as_array_mut()
        .unwrap()
        .push(json!("s3"));
    assert_eq!(save_body(&appended, true), expected);

    // Removed: the typed list is all there is to send.
    let mut removed = task;
    removed.mcp_servers.remove(0);
    assert_eq!(
        save_body(&removed, true)["mcp_servers"],
        json!([{"name": "b", "transport": 5}])
    );
}

// ----- generated bodies ------------------------------------------------------

/// A value for a field of each kind: valid, lax-mode, or `null`.
fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        "[a-zA-Z0-9 _é✓-]{0,12}".prop_map(Value::from),
        Just(Value::Null),
        any::<i32>().prop_map(Value::from),
    ]
    .boxed()
}

fn flag() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        prop::sample::select(vec!["true", "no", "1", "off", "maybe"]).prop_map(Value::from),
        prop::sample::select(vec![0, 1, 2]).prop_map(Value::from),
        Just(json!(1.0)),
    ]
    .boxed()
}

fn integer() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i32..1000).prop_map(|n| json!(f64::from(n))),
        (-1000i32..1000).prop_map(|n| Value::from(n.to_string())),
        Just(json!(2.5)),
        Just(Value::Null),
    ]
    .boxed()
}

fn float() -> BoxedStrategy<Value> {
    prop_oneof![
        (-1e6f64..1e6).prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(|x| Value::from(x.to_string())),
        Just(json!("inf")),
        Just(json!("NaN")),
        Just(Value::Null),
    ]
    .boxed()
}

fn date_time() -> BoxedStrategy<Value> {
    prop_oneof![
        prop::sample::select(vec![
            "2026-11-20T10:00:00Z",
            "2026-11-20",
            "2026-11-20T10:00",
            "2026-11-20 10:00:00",
            "2026-11-20T15:30:00+05:30",
            "2026-11-20T10:00:01.123456",
            "not a date",
        ])
        .prop_map(Value::from),
        (0i64..4_000_000_000).prop_map(Value::from),
        (0i64..4_000_000_000_000).prop_map(Value::from),
        (0f64..4e9).prop_map(Value::from),
        Just(Value::Null),
    ]
    .boxed()
}

fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn list_of(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        prop::collection::vec(item, 0..3).prop_map(Value::from),
        Just(Value::Null),
        any_json(),
    ]
    .boxed()
}

fn enum_of(values: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        prop::sample::select(values.to_vec()).prop_map(Value::from),
        "[a-z_]{1,10}".prop_map(Value::from),
        Just(Value::Null),
        any::<i8>().prop_map(Value::from),
    ]
    .boxed()
}

/// An object with a random subset of `fields`, plus unknown keys.
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let (names, values): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    (
        values,
        prop::collection::vec(any::<bool>(), names.len()),
        prop::collection::btree_map("x_[a-z]{1,6}", any_json(), 0..3),
    )
        .prop_map(move |(values, keep, unknown)| {
            let mut map: Map<String, Value> = names
                .iter()
                .zip(values)
                .zip(keep)
                .filter(|(_, keep)| *keep)
                .map(|((name, value), _)| (name.to_string(), value))
                .collect();
            map.extend(unknown);
            Value::Object(map)
        })
        .boxed()
}

/// The keys of each object the generator builds, with a strategy for the
/// values of each key's kind. `the_generator_knows_every_key` checks that
/// these are exactly the keys of the models.
type Fields = Vec<(&'static str, BoxedStrategy<Value>)>;

fn tokens_fields() -> Fields {
    vec![
        ("completion_tokens", integer()),
        ("prompt_tokens", integer()),
        ("cache_read_tokens", integer()),
        ("cache_write_tokens", integer()),
        ("total_tokens", integer()),
    ]
}

fn user_fields() -> Fields {
    vec![
        ("id", text()),
        ("first_name", text()),
        ("last_name", text()),
        ("email", text()),
        ("additional_attributes", any_json()),
        ("timezone", text()),
    ]
}

fn input_fields() -> Fields {
    vec![
        ("text", text()),
        ("files", list_of(text())),
        ("attachments", list_of(any_json())),
        (
            "user",
            prop_oneof![object(user_fields()), Just(Value::Null)].boxed(),
        ),
        ("principal", any_json()),
    ]
}

fn mcp_server_fields() -> Fields {
    vec![
        ("type", enum_of(&["local", "remote"])),
        ("name", text()),
        ("command", text()),
        ("url", text()),
        ("transport", enum_of(&["stdio", "sse", "streamable-http"])),
        ("auth_type", enum_of(&["api_key", "oauth2", "none"])),
        ("api_key", text()),
        ("use_secrets_manager", flag()),
        ("client_id", text()),
        ("client_secret", text()),
        ("headers", any_json()),
        ("env_vars", any_json()),
        ("allowed_tools", list_of(text())),
        ("additional_scopes", list_of(text())),
        ("share_user_token_across_other_agents", flag()),
        ("id", text()),
        ("sso_audience", text()),
        ("sso_token", text()),
    ]
}

fn plan_step_fields() -> Fields {
    vec![("id", text()), ("title", text()), ("completed", flag())]
}

fn deep_planning_fields() -> Fields {
    vec![
        ("enabled", flag()),
        ("enforce", flag()),
        ("started", flag()),
        ("question_raised", flag()),
        ("tasks", list_of(object(plan_step_fields()))),
    ]
}

fn hitl_fields() -> Fields {
    vec![("wait_node_id", text())]
}

fn eca_fields() -> Fields {
    vec![("connector_name", text()), ("auth_url", text())]
}

/// An object of `fields`, `null`, or any JSON at all.
fn nested(fields: Fields) -> BoxedStrategy<Value> {
    prop_oneof![object(fields), Just(Value::Null), any_json()].boxed()
}

/// Every optional key of a task (all but the five required ones).
fn task_fields() -> Fields {
    vec![
        (
            "status",
            enum_of(&["pending", "executing", "completed", "failed"]),
        ),
        ("internal_status", text()),
        ("last_executed_node_id", text()),
        ("agent_version", text()),
        ("started_at", date_time()),
        ("paused_at", date_time()),
        ("finished_at", date_time()),
        ("result", text()),
        ("parent_execution", text()),
        ("conversation_id", text()),
        ("conversation_kind", text()),
        ("sub_executions", list_of(text())),
        ("should_update_parent", flag()),
        ("is_manually_stopped", flag()),
        ("payload_extension", any_json()),
        ("execution_kind", text()),
        ("hitl_request", nested(hitl_fields())),
        ("pending_eca_request", nested(eca_fields())),
        ("source", text()),
        ("voice_id", text()),
        ("output_format", enum_of(&["text", "markdown", "json"])),
        ("output_schema", any_json()),
        ("events_streaming", flag()),
        ("is_orchestration", flag()),
        ("is_gateway", flag()),
        ("is_app", flag()),
        ("background_auth_eligible", flag()),
        ("additional_context", text()),
        ("tool_call_limit", integer()),
        ("instructions_override", text()),
        ("test_run_node_id", text()),
        ("user_oidc_token", text()),
        ("expected_output", text()),
        ("mcp_servers", list_of(object(mcp_server_fields()))),
        ("triggering_agent_id", text()),
        ("title", text()),
        ("think_mode", enum_of(&["default", "harder"])),
        ("disable_attachment_injection", flag()),
        ("user_tokens", any_json()),
        (
            "deep_planning",
            prop_oneof![object(deep_planning_fields()), Just(Value::Null)].boxed(),
        ),
        ("must_deep_plan", flag()),
        ("execution_attempts", integer()),
        ("return_metrics", flag()),
        ("llm_model_provider", text()),
        ("llm_model_name", text()),
        ("llm_reasoning_effort", text()),
        ("harness_cli", text()),
        ("permission_mode", text()),
        ("tokens", nested(tokens_fields())),
        ("used_tools", list_of(text())),
        ("duration", float()),
    ]
}

/// The keys a task must have; the generator always sets them.
const REQUIRED: [&str; 5] = ["id", "agent_id", "organization_id", "input", "created_at"];

fn task_body() -> BoxedStrategy<Value> {
    (
        object(task_fields()),
        object(input_fields()),
        date_time(),
        "[a-z0-9-]{1,12}",
    )
        .prop_map(|(mut body, input, created, id)| {
            let map = body.as_object_mut().unwrap();
            map.insert("id".into(), Value::from(id));
            map.insert("agent_id".into(), json!("agent-1"));
            map.insert("organization_id".into(), json!("org-1"));
            map.insert("input".into(), input);
            map.insert("created_at".into(), created);
            body
        })
        .boxed()
}

/// The generator draws from every key of every model (a model that gains a
/// field must be taught here too): the keys a model built in code writes,
/// which are all it knows.
#[test]
fn the_generator_knows_every_key() {
    use std::collections::BTreeSet;
    use xpander_sdk::model::{
        DeepPlanning, DeepPlanningTask, HitlRequest, McpServer, PendingEcaRequest, TaskInput,
        Tokens, User,
    };
    fn keys_of(value: impl serde::Serialize) -> BTreeSet<String> {
        let value = serde_json::to_value(value).unwrap();
        value.as_object().unwrap().keys().cloned().collect()
    }
    fn names(fields: Fields, extra: &[&str]) -> BTreeSet<String> {
        let names = fields.into_iter().map(|(name, _)| name);
        names
            .chain(extra.iter().copied())
            .map(String::from)
            .collect()
    }
    let task = Task::new("t", "a", "o", TaskInput::new("hi"));
    let cases = [
        ("Task", keys_of(&task), names(task_fields(), &REQUIRED)),
        (
            "TaskInput",
            keys_of(&task.input),
            names(input_fields(), &[]),
        ),
        ("User", keys_of(User::default()), names(user_fields(), &[])),
        (
            "McpServer",
            keys_of(McpServer::default()),
            names(mcp_server_fields(), &[]),
        ),
        (
            "Tokens",
            keys_of(Tokens::new(1, 2)),
            names(tokens_fields(), &[]),
        ),
        (
            "DeepPlanning",
            keys_of(DeepPlanning::default()),
            names(deep_planning_fields(), &[]),
        ),
        (
            "DeepPlanningTask",
            keys_of(DeepPlanningTask::default()),
            names(plan_step_fields(), &[]),
        ),
        (
            "HitlRequest",
            keys_of(HitlRequest::default()),
            names(hitl_fields(), &[]),
        ),
        (
            "PendingEcaRequest",
            keys_of(PendingEcaRequest::default()),
            names(eca_fields(), &[]),
        ),
    ];
    for (model, written, generated) in cases {
        assert_eq!(generated, written, "{model}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn generated_bodies_round_trip_and_changes_stay_local(body in task_body()) {
        let task = read(&body);
        prop_assert_eq!(save_body(&task, true), body.clone());
        prop_assert_eq!(save_body(&task, false), without(&body, &["deep_planning"]));

        let mut changed = task.clone();
        changed.status = Some(AgentExecutionStatus::Stopped);
        changed.result = Some("changed".into());
        let mut expected = body.clone();
        expected["status"] = json!("stopped");
        expected["result"] = json!("changed");
        prop_assert_eq!(save_body(&changed, true), expected);
    }
}
