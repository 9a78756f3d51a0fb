//! The core against the official client's recorded requests
//! (`tests/fixtures/official-python-client-requests.json`) and the task
//! fixtures: every request case and every fixture.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Core, HttpRequest, HttpResponse};
use crate::config::ClientBuilder;
use crate::error::Error;
use crate::model::{AgentExecutionStatus, Task};
use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
use crate::sans_io::response::{Answer, Secret};

#[path = "../../tests/common/expected.rs"]
mod expected;

const WIRE: &str = include_str!("../../tests/fixtures/official-python-client-requests.json");
const RECORDER_TASK: &str = include_str!("../../tests/fixtures/recorder-task.json");
const BASE: &str = "https://inbound.xpander.ai";

fn core() -> Core {
    let config = ClientBuilder::new()
        .api_key("test-key-123")
        .base_url(BASE)
        .into_config()
        .unwrap();
    Core::new(config)
}

fn recorder_task() -> Task {
    serde_json::from_str(RECORDER_TASK).unwrap()
}

/// Builds the request of one wire case, as the official client was driven.
fn build(case: &str) -> Result<HttpRequest, Error> {
    let core = core();
    let update = |change: UpdateTask| core.update("task_xyz", &change);
    match case {
        "update_status_result" => update(
            UpdateTask::new()
                .status(AgentExecutionStatus::Completed)
                .result("Done"),
        ),
        "update_error" => update(
            UpdateTask::new()
                .status(AgentExecutionStatus::Error)
                .result("Connector failed: 503 Service Unavailable"),
        ),
        "update_payload_extension_only" => update(
            UpdateTask::new()
                .tool_call_payload_extension(json!({"headers": {"X-Trace-ID": "abc-123"}})),
        ),
        "update_all_fields" => update(
            UpdateTask::new()
                .tool_call_payload_extension(json!({"a": 1}))
                .source("cron")
                .status(AgentExecutionStatus::Executing)
                .last_executed_node_id("node-7")
                .result("partial"),
        ),
        "update_nothing" => update(UpdateTask::new()),
        "update_empty_string_result" => update(UpdateTask::new().result("")),
        "get" => core.get("task_xyz"),
        "save_after_mutation" | "save_with_deep_plan" => {
            let mut task = recorder_task();
            task.result = Some("saved result".into());
            task.status = Some(AgentExecutionStatus::Completed);
            core.save(&task, case == "save_with_deep_plan")
        }
        "set_status" => {
            let mut task = recorder_task();
            task.status = Some(AgentExecutionStatus::Failed);
            task.result = Some("boom".into());
            core.save(&task, false)
        }
        "stop" => core.stop("task_xyz"),
        "create" => core.create(&CreateTask::new("agent-123", "Hello!")),
        "list" => core.list(
            "agent-123",
            &ListFilter::new().status(AgentExecutionStatus::Completed),
        ),
        "list_user_tasks" => core.list_user_tasks("user-9", &ListFilter::new()),
        "report_external_task" => core.report_external_task(
            "agent-123",
            &ExternalTaskReport::new("hi")
                .id("ext-1")
                .result("done")
                .duration(1.5)
                .used_tools(["t1"]),
        ),
        other => panic!("no builder for wire case {other}"),
    }
}

/// Splits `url` into path and query (`key -> [values]`), decoding the query.
fn path_and_query(url: &str) -> (String, BTreeMap<String, Vec<String>>) {
    let rest = url.strip_prefix(BASE).expect("url under the base");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .unwrap()
                .into_owned()
        };
        map.entry(decode(k)).or_default().push(decode(v));
    }
    (path.to_string(), map)
}

#[test]
fn every_wire_case_is_reproduced() {
    let wire: BTreeMap<String, Vec<Value>> = serde_json::from_str(WIRE).unwrap();
    assert_eq!(wire.len(), 15, "the wire file's cases");
    for (case, recorded) in &wire {
        let expected = &recorded[0];
        let request = build(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            request.method().as_str(),
            expected["method"],
            "{case}: method"
        );
        let (path, query) = path_and_query(&request.uri().to_string());
        assert_eq!(path, expected["path"], "{case}: path");
        let expected_query: BTreeMap<String, Vec<String>> =
            serde_json::from_value(expected["query"].clone()).unwrap();
        assert_eq!(query, expected_query, "{case}: query");
        let headers: BTreeMap<String, String> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let expected_headers: BTreeMap<String, String> =
            serde_json::from_value(expected["headers"].clone()).unwrap();
        assert_eq!(headers, expected_headers, "{case}: headers");
        let body: Value = match &request.body()[..] {
            [] => Value::Null,
            bytes => serde_json::from_slice(bytes).unwrap(),
        };
        let expected_body = if case.starts_with("save") || case == "set_status" {
            let read: Value = serde_json::from_str(RECORDER_TASK).unwrap();
            expected::save_body_we_send(&expected["body"], &read)
        } else {
            expected["body"].clone()
        };
        assert_eq!(body, expected_body, "{case}: body");
    }
}

#[test]
fn ids_are_one_segment_and_bad_ids_are_refused_before_any_request() {
    let core = core();
    let request = core.get("a/b/../c?d#e").unwrap();
    assert_eq!(
        request.uri().to_string(),
        format!("{BASE}/agent-execution/a%2Fb%2F..%2Fc%3Fd%23e/status")
    );
    for bad in ["", ".", ".."] {
        assert!(matches!(
            core.update(bad, &UpdateTask::new()),
            Err(Error::InvalidArgument {
                name: "task_id",
                ..
            })
        ));
        assert!(core.get(bad).is_err());
        assert!(core.stop(bad).is_err());
        assert!(core.create(&CreateTask::new(bad, "x")).is_err());
        assert!(core.list(bad, &ListFilter::new()).is_err());
        assert!(core.list_user_tasks(bad, &ListFilter::new()).is_err());
    }
    let mut task = recorder_task();
    task.id = "..".into();
    assert!(core.save(&task, false).is_err());
}

#[test]
fn payload_extension_must_be_an_object() {
    let err = core()
        .update(
            "t",
            &UpdateTask::new().tool_call_payload_extension(json!([1])),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidArgument {
            name: "tool_call_payload_extension",
            ..
        }
    ));
}

#[test]
fn list_filters_are_encoded_and_user_path_drops_user_filter() {
    let core = core();
    let filter = ListFilter::new()
        .user_id("u 1")
        .parent_task_id("p&1")
        .triggering_agent_id("ta")
        .status(AgentExecutionStatus::Unknown("awaiting_review".into()))
        .internal_status("waiting on CRM");
    let request = core.list("agent-123", &filter).unwrap();
    let (path, query) = path_and_query(&request.uri().to_string());
    assert_eq!(path, "/agent-execution/executions/history/agent-123");
    assert_eq!(query["user_id"], ["u 1"]);
    assert_eq!(query["parent_task_id"], ["p&1"]);
    assert_eq!(query["status"], ["awaiting_review"]);
    assert_eq!(query["internal_status"], ["waiting on CRM"]);
    let request = core.list_user_tasks("user-9", &filter).unwrap();
    let (path, query) = path_and_query(&request.uri().to_string());
    assert_eq!(path, "/agent-execution/executions/history/user/user-9");
    assert!(!query.contains_key("user_id"));
    assert_eq!(query.len(), 4);
}

#[test]
fn create_sends_the_agent_version_header() {
    let request = core()
        .create(&CreateTask::new("agent-123", "Hello!").agent_version("7"))
        .unwrap();
    assert_eq!(request.header("x-agent-version"), Some("7"));
    assert!(core()
        .create(&CreateTask::new("a", "b").agent_version("7\r\nx: y"))
        .is_err());
}

#[test]
fn debug_of_a_request_hides_the_key() {
    let request = core().get("t").unwrap();
    let shown = format!("{request:?}");
    assert!(!shown.contains("test-key-123"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

/// An answer's body holds what the server sent back: a task with its
/// tokens, a 401 echoing the key. Its `Debug` shows the size, as a
/// request's does, never the bytes (which are the secret, only spelt in
/// decimal).
#[test]
fn debug_of_an_answer_shows_no_body() {
    let body = br#"{"user_oidc_token":"s3cret"}"#.to_vec();
    let secret_bytes = format!("{:?}", b"s3cret");
    let secret_bytes = secret_bytes.trim_matches(['[', ']']);
    let response = crate::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        Some("5"),
        body.clone(),
    );
    for shown in [format!("{response:?}"), format!("{response:#?}")] {
        assert!(!shown.contains(secret_bytes), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains(&body.len().to_string()), "{shown}");
        assert!(shown.contains("200"), "{shown}");
    }
}

const FIXTURES: [(&str, &str); 4] = [
    (
        "task-full.json",
        include_str!("../../tests/fixtures/task-full.json"),
    ),
    (
        "task-minimal.json",
        include_str!("../../tests/fixtures/task-minimal.json"),
    ),
    (
        "task-forward-compat.json",
        include_str!("../../tests/fixtures/task-forward-compat.json"),
    ),
    ("recorder-task.json", RECORDER_TASK),
];

fn ok(body: &str) -> HttpResponse {
    crate::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        None,
        body.as_bytes().to_vec(),
    )
}

#[test]
fn every_task_fixture_parses_and_round_trips_what_the_server_sent() {
    for (name, body) in FIXTURES {
        let task = Task::parse(ok(body), Secret::NONE).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sent: Value = serde_json::from_str(body).unwrap();
        // Key for key, at every depth: what was read is what goes back.
        assert_eq!(task.save_body(true).unwrap(), sent, "{name}");
    }
}

#[test]
fn forward_compat_values_are_kept() {
    let task = Task::parse(ok(FIXTURES[2].1), Secret::NONE).unwrap();
    assert_eq!(
        task.status,
        Some(AgentExecutionStatus::Unknown("awaiting_review".into()))
    );
    assert_eq!(task.extra["brand_new_field"], json!({"nested": [1, 2, 3]}));
}

#[test]
fn the_list_fixture_parses() {
    let items = <Vec<crate::model::TaskListItem> as Answer>::parse(
        ok(include_str!("../../tests/fixtures/tasks-list.json")),
        Secret::NONE,
    )
    .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].id, "t-1");
    assert_eq!(items[1].status, Some(AgentExecutionStatus::Executing));
}

#[test]
fn api_errors_keep_status_body_and_detail() {
    let error = |status: u16, body: &[u8]| {
        Task::parse(
            crate::sans_io::answer(
                http::StatusCode::from_u16(status).unwrap(),
                None,
                body.to_vec(),
            ),
            Secret::NONE,
        )
        .unwrap_err()
    };
    let err = error(404, br#"{"detail":"Task t not found"}"#);
    assert!(err.is_not_found());
    assert_eq!(
        err.as_api().unwrap().detail.as_deref(),
        Some("Task t not found")
    );
    let err = error(
        422,
        br#"{"detail":[{"loc":["body","status"],"msg":"bad status","type":"enum"}]}"#,
    );
    assert_eq!(
        err.as_api().unwrap().detail.as_deref(),
        Some("body.status: bad status")
    );
    let err = error(500, b"<html>oops</html>");
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("<html>oops</html>"), "{err}");
}

#[test]
fn errors_never_carry_the_key_or_a_credential() {
    let core = core();
    // A gateway echoing the key in a 401, in the body and in the detail.
    let echo = br#"{"detail":"invalid x-api-key test-key-123","echo":"test-key-123"}"#;
    let err = core
        .task(crate::sans_io::answer(
            http::StatusCode::from_u16(401).unwrap(),
            None,
            echo.to_vec(),
        ))
        .unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        assert!(!text.contains("test-key-123"), "{text}");
    }
    assert!(err.is_unauthorized());
    // A 422 echoing a task body; a broken 200 carrying secrets.
    let task_with_secrets = r#"{"id":"t","user_oidc_token":"oidc-s3cret","mcp_servers":[{"api_key":"mcp-s3cret","client_secret":"cs-s3cret","headers":{"Authorization":"Bearer hdr-s3cret"},"env_vars":{"TOKEN":"env-s3cret"}}],"user_tokens":{"gh":"ut-s3cret"},"payload_extension":{"headers":{"x":"pe-s3cret"}},"note":"test-key-123","created_at": "#;
    for status in [200, 422] {
        let err = core
            .task(crate::sans_io::answer(
                http::StatusCode::from_u16(status).unwrap(),
                None,
                task_with_secrets.as_bytes().to_vec(),
            ))
            .unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            for secret in [
                "oidc-s3cret",
                "mcp-s3cret",
                "cs-s3cret",
                "hdr-s3cret",
                "env-s3cret",
                "ut-s3cret",
                "pe-s3cret",
                "test-key-123",
            ] {
                assert!(!text.contains(secret), "{status}: {secret} in {text}");
            }
            let id = [r#""id":"t""#, r#"\"id\":\"t\""#];
            assert!(id.iter().any(|id| text.contains(id)), "{text}");
        }
    }
}

#[test]
fn undecodable_bodies_are_decode_errors_with_a_snippet() {
    let err = Task::parse(ok(r#"{"id": "t", "agent_id": "#), Secret::NONE).unwrap_err();
    match err {
        Error::Decode(e) => {
            assert_eq!(e.status, 200);
            assert!(e.snippet.starts_with(r#"{"id": "t""#));
        }
        other => panic!("{other:?}"),
    }
    for garbage in ["", "null", "[]", "<html>", "{\"x\": 5}", "\u{feff}{}"] {
        assert!(
            matches!(
                Task::parse(ok(garbage), Secret::NONE),
                Err(Error::Decode(_))
            ),
            "{garbage:?}"
        );
    }
}

#[test]
fn the_body_limit_refuses_a_large_2xx_and_cuts_an_error_body() {
    use super::{BodyLimit, MAX_ERROR_BODY_BYTES};
    let limit = BodyLimit { bytes: 100 };
    assert_eq!(limit.start(200, Some(100)).unwrap(), 100);
    assert_eq!(limit.start(200, None).unwrap(), 100);
    assert!(matches!(
        limit.start(200, Some(101)),
        Err(Error::BodyTooLarge {
            status: 200,
            limit: 100
        })
    ));
    let mut body = vec![0; 60];
    assert!(
        limit.append(200, &mut body, &[1; 40]).unwrap(),
        "all kept, read on"
    );
    assert_eq!(body.len(), 100);
    assert!(
        limit.append(200, &mut body, &[1]).is_err(),
        "one past the limit"
    );
    assert!(limit.append(200, &mut vec![0; 60], &[1; 41]).is_err());
    // An error answer is never "too large": its first bytes are kept.
    let limit = BodyLimit { bytes: 1 << 20 };
    assert_eq!(
        limit.start(503, Some(u64::MAX)).unwrap(),
        MAX_ERROR_BODY_BYTES
    );
    let mut body = vec![0; MAX_ERROR_BODY_BYTES - 10];
    assert!(
        !limit.append(503, &mut body, &[1; 100]).unwrap(),
        "cut: read no more"
    );
    assert_eq!(body.len(), MAX_ERROR_BODY_BYTES, "its first 10 bytes kept");
    let mut body = Vec::new();
    assert!(limit.append(429, &mut body, &[1; 100]).unwrap());
    assert_eq!(body.len(), 100);
}
