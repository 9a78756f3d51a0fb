//! Shared helpers of the integration tests: an emulator, a client for it,
//! the wire file, and the official client's cases run through either face.
#![allow(dead_code)]

pub mod expected;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use xpander_sdk::emulator::{ApiKeyCheck, Emulator, EmulatorBuilder, RecordedRequest, REDACTED};
use xpander_sdk::{ClientBuilder, RetryPolicy, Tasks};

pub const WIRE: &str = include_str!("../fixtures/official-python-client-requests.json");
pub const RECORDER_TASK: &str = include_str!("../fixtures/recorder-task.json");
pub const TASK_FULL: &str = include_str!("../fixtures/task-full.json");
pub const TASK_MINIMAL: &str = include_str!("../fixtures/task-minimal.json");
pub const TASK_FORWARD_COMPAT: &str = include_str!("../fixtures/task-forward-compat.json");

/// The wire file: case name to its first recorded request.
pub fn wire() -> BTreeMap<String, Value> {
    let cases: BTreeMap<String, Vec<Value>> = serde_json::from_str(WIRE).unwrap();
    cases
        .into_iter()
        .map(|(k, mut v)| (k, v.remove(0)))
        .collect()
}

/// The key the official client sent in the wire file.
pub const WIRE_KEY: &str = "test-key-123";

/// An emulator that knows the recorder's task (`task_xyz`), with the key of
/// the wire file.
pub fn emulator() -> Emulator {
    emulator_from(Emulator::builder())
}

/// As [`emulator`], serving https (a certificate authority of its own,
/// made at start: see [`builder`]).
pub fn emulator_over_https() -> Emulator {
    emulator_from(Emulator::builder().tls(true))
}

/// An emulator from `builder`, with the key of the wire file and the
/// recorder's task.
pub fn emulator_from(builder: EmulatorBuilder) -> Emulator {
    let emulator = builder
        .api_key(WIRE_KEY)
        .start()
        .expect("the emulator starts");
    emulator
        .seed_task(serde_json::from_str(RECORDER_TASK).unwrap())
        .unwrap();
    emulator
}

/// A client of `emulator`, with quick retries.
pub fn client(emulator: &Emulator) -> Tasks {
    client_with(
        emulator,
        RetryPolicy::default().backoff(
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(20),
        ),
    )
}

/// A client of `emulator` with the given retry policy.
pub fn client_with(emulator: &Emulator, retry: RetryPolicy) -> Tasks {
    builder(emulator)
        .retry(retry)
        .build()
        .expect("the client builds")
}

/// A client builder for `emulator`: its URL and key, and its root
/// certificate when it serves https.
pub fn builder(emulator: &Emulator) -> ClientBuilder {
    let builder = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key());
    match emulator.root_certificate_pem() {
        Some(root) => builder.add_root_certificate_pem(root),
        None => builder,
    }
}

/// A task with a distinct sentinel (each starts with `SENTINEL-`) in every
/// credential-bearing field: the known ones, a secret of the input's user,
/// and credential-looking unknown keys at the top and deep down.
pub fn task_with_secrets(id: &str) -> Value {
    json!({
        "id": id, "agent_id": "agent-1", "organization_id": "org-1",
        "input": {"text": "hi", "user": {"id": "u", "api_token": "SENTINEL-input-secret"}},
        "created_at": "2026-11-20T10:00:00Z",
        "status": "executing",
        "user_oidc_token": "SENTINEL-oidc",
        "user_tokens": {"github": "SENTINEL-user-tokens"},
        "payload_extension": {"headers": {"Authorization": "Bearer SENTINEL-payload-ext"}},
        "mcp_servers": [{
            "type": "remote", "name": "crm", "url": "https://mcp.example.com",
            "api_key": "SENTINEL-mcp-api-key", "client_secret": "SENTINEL-mcp-client-secret",
            "headers": {"X-Auth": "SENTINEL-mcp-header"}, "env_vars": {"TOKEN": "SENTINEL-mcp-env"}
        }],
        "x_session_token": "SENTINEL-extra-token",
        "integration": {"oauth": [{"refresh_token": "SENTINEL-extra-deep", "scope": "crm"}]}
    })
}

/// A minimal task with the given id.
pub fn task_json(id: &str) -> Value {
    json!({
        "id": id,
        "agent_id": "agent-123",
        "organization_id": "org-1",
        "input": {"text": "Hello!"},
        "created_at": "2026-11-20T10:00:00Z",
        "status": "executing"
    })
}

/// Checks a request the emulator received against the wire file's case.
pub fn assert_wire(case: &str, got: &RecordedRequest) {
    let expected = &wire()[case];
    assert_eq!(got.method, expected["method"], "{case}: method");
    let (path, query) = got.path.split_once('?').unwrap_or((&got.path, ""));
    assert_eq!(path, expected["path"], "{case}: path");
    let mut parsed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .unwrap()
                .into_owned()
        };
        parsed.entry(decode(k)).or_default().push(decode(v));
    }
    let expected_query: BTreeMap<String, Vec<String>> =
        serde_json::from_value(expected["query"].clone()).unwrap();
    assert_eq!(parsed, expected_query, "{case}: query");
    // Every header the official client sent, with the same value; and no
    // other header but those the wire file leaves out (host, user-agent,
    // content-length, accept-encoding, connection).
    let expected_headers = expected["headers"].as_object().unwrap();
    for (name, value) in expected_headers {
        if name == "x-api-key" {
            // The log never shows the key: the wire file's key is the
            // emulator's, so the key sent must have been logged as valid.
            assert_eq!(value, WIRE_KEY, "{case}: the wire file's key");
            assert_eq!(got.api_key, ApiKeyCheck::Valid, "{case}: x-api-key");
            assert_eq!(got.header(name), Some(REDACTED), "{case}: header {name}");
        } else {
            assert_eq!(got.header(name), value.as_str(), "{case}: header {name}");
        }
    }
    for (name, _) in &got.headers {
        let ignored = [
            "host",
            "user-agent",
            "content-length",
            "accept-encoding",
            "connection",
        ];
        assert!(
            expected_headers.contains_key(name) || ignored.contains(&name.as_str()),
            "{case}: unexpected header {name}"
        );
    }
    let body = got.json.clone().unwrap_or(Value::Null);
    let expected_body = if case.starts_with("save") || case == "set_status" {
        // Deliberately not the official client's body: the task as it was
        // read, plus the change (no invented defaults, numbers as read).
        let read: Value = serde_json::from_str(RECORDER_TASK).unwrap();
        expected::save_body_we_send(&expected["body"], &read)
    } else {
        expected["body"].clone()
    };
    assert_eq!(body, expected_body, "{case}: body");
}

/// Runs the official client's cases through one face of the client. The
/// body is written once and expanded for both faces, as the crate's own
/// front end is.
macro_rules! wire_runner {
    (
        $mode:meta, $runner:ident,
        update: $update:ident, get: $get:ident, save: $save:ident,
        save_deep: $save_deep:ident, set_status: $set_status:ident, stop: $stop:ident,
        create: $create:ident, list: $list:ident, list_user: $list_user:ident,
        report: $report:ident
    ) => {
        /// Runs the wire case `case` against `tasks`.
        #[$mode]
        pub async fn $runner(tasks: &xpander_sdk::Tasks, case: &str) -> xpander_sdk::Result<()> {
            use xpander_sdk::{
                AgentExecutionStatus as S, CreateTask, ExternalTaskReport, ListFilter, UpdateTask,
            };
            let update = |change: UpdateTask| change;
            match case {
                "update_status_result" => {
                    let t = tasks
                        .$update("task_xyz", &update(UpdateTask::new().status(S::Completed).result("Done")))
                        .await?;
                    assert_eq!(t.result.as_deref(), Some("Done"));
                }
                "update_error" => {
                    tasks
                        .$update(
                            "task_xyz",
                            &UpdateTask::new()
                                .status(S::Error)
                                .result("Connector failed: 503 Service Unavailable"),
                        )
                        .await?;
                }
                "update_payload_extension_only" => {
                    tasks
                        .$update(
                            "task_xyz",
                            &UpdateTask::new().tool_call_payload_extension(
                                serde_json::json!({"headers": {"X-Trace-ID": "abc-123"}}),
                            ),
                        )
                        .await?;
                }
                "update_all_fields" => {
                    tasks
                        .$update(
                            "task_xyz",
                            &UpdateTask::new()
                                .tool_call_payload_extension(serde_json::json!({"a": 1}))
                                .source("cron")
                                .status(S::Executing)
                                .last_executed_node_id("node-7")
                                .result("partial"),
                        )
                        .await?;
                }
                "update_nothing" => {
                    tasks.$update("task_xyz", &UpdateTask::new()).await?;
                }
                "update_empty_string_result" => {
                    let t = tasks.$update("task_xyz", &UpdateTask::new().result("")).await?;
                    assert_eq!(t.result.as_deref(), Some(""));
                }
                "get" => {
                    let t = tasks.$get("task_xyz").await?;
                    assert_eq!(t.id, "task_xyz");
                }
                "save_after_mutation" | "save_with_deep_plan" | "set_status" => {
                    // The recorder's task, as the official client loaded it.
                    let mut t: xpander_sdk::Task =
                        serde_json::from_str(crate::common::RECORDER_TASK).unwrap();
                    match case {
                        "set_status" => {
                            t.$set_status(tasks, S::Failed, Some("boom")).await?;
                            assert_eq!(t.status, Some(S::Failed));
                        }
                        _ => {
                            t.result = Some("saved result".into());
                            t.status = Some(S::Completed);
                            if case == "save_with_deep_plan" {
                                t.$save_deep(tasks).await?;
                            } else {
                                t.$save(tasks).await?;
                            }
                            assert_eq!(t.result.as_deref(), Some("saved result"));
                        }
                    }
                }
                "stop" => {
                    let t = tasks.$stop("task_xyz").await?;
                    assert_eq!(t.status, Some(S::Stopped));
                }
                "create" => {
                    let t = tasks.$create(&CreateTask::new("agent-123", "Hello!")).await?;
                    assert_eq!(t.agent_id, "agent-123");
                    assert_eq!(t.input.text, "Hello!");
                }
                "list" => {
                    tasks
                        .$list("agent-123", &ListFilter::new().status(S::Completed))
                        .await?;
                }
                "list_user_tasks" => {
                    tasks.$list_user("user-9", &ListFilter::new()).await?;
                }
                "report_external_task" => {
                    let t = tasks
                        .$report(
                            "agent-123",
                            &ExternalTaskReport::new("hi")
                                .id("ext-1")
                                .result("done")
                                .duration(1.5)
                                .used_tools(["t1"]),
                        )
                        .await?;
                    assert_eq!(t.result.as_deref(), Some("done"));
                }
                other => panic!("no runner for wire case {other}"),
            }
            Ok(())
        }
    };
}

#[cfg(feature = "blocking")]
wire_runner!(maybe_async::must_be_sync, run_case_blocking,
    update: update, get: get, save: save, save_deep: save_with_deep_plan_update,
    set_status: set_status, stop: stop, create: create, list: list,
    list_user: list_user_tasks, report: report_external_task);

#[cfg(feature = "async")]
wire_runner!(maybe_async::must_be_async, run_case_async,
    update: aupdate, get: aget, save: asave, save_deep: asave_with_deep_plan_update,
    set_status: aset_status, stop: astop, create: acreate, list: alist,
    list_user: alist_user_tasks, report: areport_external_task);
