//! The worker's decisions on crafted inputs: every time is passed in, so
//! nothing here sleeps or races.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use super::*;
use crate::config::{ClientBuilder, Config};
use crate::error::{ApiError, Error, TransportError, TransportErrorKind};
use crate::model::{AgentExecutionStatus, Task};
use crate::sans_io::stream::{Disconnect, EventSession, StreamPolicy};
use crate::sans_io::{HttpRequest, HttpResponse, Method, Operation};

const SSE: Option<&str> = Some("text/event-stream");
const KEY: &str = "sekrit-api-key-123";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// --- builders ----------------------------------------------------------------

fn config(base: Option<&str>, org: Option<&str>) -> Config {
    let mut builder = ClientBuilder::new().api_key(KEY);
    if let Some(base) = base {
        builder = builder.base_url(base);
    }
    if let Some(org) = org {
        builder = builder.organization_id(org);
    }
    builder.build_config().unwrap()
}

fn requests() -> WorkerRequests {
    WorkerRequests::new(config(None, Some("org-1")), "agent-1", Environment::Local).unwrap()
}

/// The default policy without jitter, so that delays can be compared.
/// The default policy with a queue of four (small enough to overflow in a
/// test) and no jitter.
fn policy() -> WorkerPolicy {
    let mut policy = WorkerPolicy::default().queue_capacity(4);
    policy.stream.jitter = false;
    policy
}

fn worker(policy: WorkerPolicy) -> WorkerMachine {
    WorkerMachine::new(requests(), policy).seed(42)
}

fn registration(id: &str) -> String {
    format!(
        "event: worker-registration\ndata: {{\"id\":\"{id}\",\"name\":\"worker-{id}\",\"organization_id\":\"org-1\",\"type\":\"worker\",\"created_at\":\"2026-11-28T03:38:30Z\",\"created_by\":\"user-1\",\"last_heartbeat\":\"2026-11-28T03:38:30Z\",\"configuration\":null,\"dedicated_agent_id\":\"agent-1\",\"parent_asset_id\":null,\"is_busy\":false}}\n\n"
    )
}

/// A task as the stream delivers it: with an LLM gateway stamp, user
/// credentials, an MCP server with a secret, and keys the model does not
/// know (one credential-like).
fn task_value(id: &str) -> Value {
    json!({
        "id": id, "agent_id": "agent-1", "organization_id": "org-1",
        "input": {"text": format!("do {id}"), "files": [], "user": null},
        "status": "pending", "created_at": "2026-11-28T03:38:30.000000+00:00",
        "agent_version": "3", "source": "api", "output_format": "text",
        "payload_extension": {
            "llm_gateway": {"base_url": "https://llm-gw.example", "token": "run-token"},
            "custom_field": "kept"
        },
        "user_oidc_token": "oidc-secret",
        "user_tokens": {"github": "gh-secret"},
        "mcp_servers": [{"name": "m", "url": "https://mcp.example", "api_key": "mcp-secret"}],
        "brand_new_field": {"nested": [1, 2.5, "x"]},
        "session_secret": "extra-secret",
        "is_manually_stopped": false,
        "duration": 0.0
    })
}

fn task_event(id: &str) -> String {
    format!("event: agent-execution\ndata: {}\n\n", task_value(id))
}

fn task_ids(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("task-{i}")).collect()
}

/// A worker with an open stream, registered as `w-1` at `t0`; the
/// registration's effects are answered (heartbeat OK).
fn registered(policy: WorkerPolicy, t0: Instant) -> WorkerMachine {
    let mut w = worker(policy);
    let fx = w.start();
    assert!(matches!(&fx[..], [Effect::OpenStream(_)]));
    assert!(matches!(
        &w.on_stream_open(200, SSE, t0)[..],
        [Effect::ReadStream]
    ));
    let fx = w.on_stream_bytes(registration("w-1").as_bytes(), t0);
    assert_eq!(heartbeats(&fx), ["w-1"]);
    w.on_response(heartbeat_call("w-1"), ok(), t0);
    w
}

fn heartbeat_call(worker_id: &str) -> Call {
    Call::Heartbeat {
        worker_id: worker_id.to_owned(),
    }
}

/// Delivers the tasks, and answers the read before each claim with the
/// server's copy, still `pending` (the effects of both).
fn deliver(w: &mut WorkerMachine, ids: &[String], now: Instant) -> Vec<Effect> {
    let bytes: String = ids.iter().map(|id| task_event(id)).collect();
    let fx = w.on_stream_bytes(bytes.as_bytes(), now);
    checked(w, fx, now)
}

/// Answers every read before a claim among `fx` with a `pending` copy
/// (and those the answers give), appending what they answer.
fn checked(w: &mut WorkerMachine, mut fx: Vec<Effect>, now: Instant) -> Vec<Effect> {
    let mut done = 0;
    loop {
        let reads: Vec<String> = calls(&fx[done..])
            .into_iter()
            .filter_map(|c| match c {
                Call::Check { task_id } => Some(task_id),
                _ => None,
            })
            .collect();
        done = fx.len();
        if reads.is_empty() {
            return fx;
        }
        for id in reads {
            let more = w.on_response(
                Call::Check {
                    task_id: id.clone(),
                },
                server_copy(&id, "pending"),
                now,
            );
            fx.extend(more);
        }
    }
}

/// Answers every final-status read (`executing`) and final save (ok) in
/// `fx` and in what they lead to, then the reads before a claim: a task
/// holds its slot until its final status is saved.
fn saved(w: &mut WorkerMachine, mut fx: Vec<Effect>, now: Instant) -> Vec<Effect> {
    let mut done = 0;
    loop {
        let answers: Vec<(Call, Result<HttpResponse, Error>)> = calls(&fx[done..])
            .into_iter()
            .filter_map(|c| match &c {
                Call::Reload { task_id } => {
                    let copy = server_copy(task_id, "executing");
                    Some((c, copy))
                }
                Call::FinalSave { .. } => Some((c, ok())),
                _ => None,
            })
            .collect();
        done = fx.len();
        if answers.is_empty() {
            return checked(w, fx, now);
        }
        for (call, answer) in answers {
            let more = w.on_response(call, answer, now);
            fx.extend(more);
        }
    }
}

// --- answers -------------------------------------------------------------------

fn ok() -> Result<HttpResponse, Error> {
    Ok(crate::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        None,
        b"{}".to_vec(),
    ))
}

fn answer(status: u16) -> Result<HttpResponse, Error> {
    Ok(crate::sans_io::answer(
        http::StatusCode::from_u16(status).unwrap(),
        None,
        br#"{"detail":"nope"}"#.to_vec(),
    ))
}

fn refused() -> Error {
    Error::Transport(TransportError::new(
        TransportErrorKind::Connect,
        "connection refused",
        None,
    ))
}

/// The server's copy of a task, with this status (and a stop flag and a
/// start time the server set meanwhile when stopped).
fn server_copy(id: &str, status: &str) -> Result<HttpResponse, Error> {
    let mut value = task_value(id);
    value["status"] = json!(status);
    value["started_at"] = json!("2026-11-28T03:38:31Z");
    if status == "stopped" {
        value["is_manually_stopped"] = json!(true);
    }
    Ok(crate::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        None,
        value.to_string().into_bytes(),
    ))
}

// --- effect inspection ---------------------------------------------------------

fn sends(fx: &[Effect]) -> Vec<(Call, HttpRequest)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { call, request } => Some((call.clone(), request.clone())),
            _ => None,
        })
        .collect()
}

fn calls(fx: &[Effect]) -> Vec<Call> {
    sends(fx).into_iter().map(|(c, _)| c).collect()
}

fn claims(fx: &[Effect]) -> Vec<String> {
    calls(fx)
        .into_iter()
        .filter_map(|c| match c {
            Call::SaveExecuting { task_id } => Some(task_id),
            _ => None,
        })
        .collect()
}

fn releases(fx: &[Effect]) -> Vec<String> {
    calls(fx)
        .into_iter()
        .filter_map(|c| match c {
            Call::Release { task_id } => Some(task_id),
            _ => None,
        })
        .collect()
}

fn capacity(fx: &[Effect]) -> Vec<(u64, bool)> {
    calls(fx)
        .into_iter()
        .filter_map(|c| match c {
            Call::Capacity { seq, busy, .. } => Some((seq, busy)),
            _ => None,
        })
        .collect()
}

fn heartbeats(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SendHeartbeat { worker_id } => Some(worker_id.clone()),
            _ => None,
        })
        .collect()
}

fn started(fx: &[Effect]) -> Vec<&HandlerStart> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::StartHandler(start) => Some(&**start),
            _ => None,
        })
        .collect()
}

fn cancels(fx: &[Effect]) -> Vec<(String, CancelReason)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::CancelHandler { task_id, reason } => Some((task_id.clone(), *reason)),
            _ => None,
        })
        .collect()
}

/// The bodies of the metrics reports among the effects.
fn metrics(fx: &[Effect]) -> Vec<Value> {
    sends(fx)
        .into_iter()
        .filter(|(c, _)| matches!(c, Call::Metrics { .. }))
        .map(|(_, request)| {
            assert_eq!(request.method(), Method::POST);
            assert_eq!(
                request.uri().to_string(),
                "https://inbound.xpander.ai/agents-metrics/agent-1/execution"
            );
            body(&request)
        })
        .collect()
}

fn notices(fx: &[Effect]) -> Vec<&Notice> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Notice(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn finished(fx: &[Effect]) -> Option<(&StopReason, &Vec<String>)> {
    fx.iter().find_map(|e| match e {
        Effect::Finished {
            reason, abandoned, ..
        } => Some((reason, abandoned)),
        _ => None,
    })
}

fn opens(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::OpenStream(_)))
        .count()
}

fn body(request: &HttpRequest) -> Value {
    serde_json::from_slice(request.body()).unwrap()
}

/// The one request of this call among the effects.
fn request_of(fx: &[Effect], call: &Call) -> HttpRequest {
    sends(fx)
        .into_iter()
        .find(|(c, _)| c == call)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no {call:?} in {fx:?}"))
}

fn final_save(task_id: &str, attempt: u32) -> Call {
    Call::FinalSave {
        task_id: task_id.to_owned(),
        attempt,
    }
}

fn reload(task_id: &str) -> Call {
    Call::Reload {
        task_id: task_id.to_owned(),
    }
}

fn claim_call(task_id: &str) -> Call {
    Call::SaveExecuting {
        task_id: task_id.to_owned(),
    }
}

fn metrics_call(task_id: &str) -> Call {
    Call::Metrics {
        task_id: task_id.to_owned(),
    }
}

fn release_call(task_id: &str) -> Call {
    Call::Release {
        task_id: task_id.to_owned(),
    }
}

fn capacity_call(worker_id: &str, seq: u64, busy: bool) -> Call {
    Call::Capacity {
        worker_id: worker_id.to_owned(),
        seq,
        busy,
    }
}

/// Answers every claim among the effects with OK; the handler starts.
fn answer_claims(w: &mut WorkerMachine, fx: &[Effect], now: Instant) -> Vec<Effect> {
    let mut out = Vec::new();
    for id in claims(fx) {
        out.extend(w.on_response(claim_call(&id), ok(), now));
    }
    out
}

/// A handler's result: the task it got, with a result, tokens and a tool.
fn handler_result(start: &HandlerStart) -> HandlerOutcome {
    let mut task = start.task.clone();
    task.result = Some(format!("done: {}", task.input.text));
    task.tokens = Some(crate::model::Tokens::new(10, 5));
    task.used_tools = vec!["demo_tool".to_owned()];
    HandlerOutcome::Finished(Box::new(task))
}

/// Runs one task from delivery to its handler's start; answers the
/// `StartHandler` effects.
fn run_to_handler(w: &mut WorkerMachine, id: &str, now: Instant) -> HandlerStart {
    let fx = deliver(w, &[id.to_owned()], now);
    assert_eq!(claims(&fx), [id]);
    let fx = w.on_response(claim_call(id), ok(), now);
    let mut starts = fx.into_iter().filter_map(|e| match e {
        Effect::StartHandler(s) => Some(*s),
        _ => None,
    });
    let start = starts.next().expect("the handler starts");
    assert!(starts.next().is_none());
    start
}

// --- URLs and requests ---------------------------------------------------------

#[test]
fn events_root_by_base_url() {
    let root = |base: Option<&str>| events_root(&config(base, Some("org-1"))).unwrap();
    // The cloud default and staging: the agent controller, with the org.
    assert_eq!(root(None), "https://agent-controller.xpander.ai/org-1");
    assert_eq!(
        root(Some("https://inbound.xpander.ai/some/path")),
        "https://agent-controller.xpander.ai/org-1"
    );
    assert_eq!(
        root(Some("https://inbound.stg.xpander.ai")),
        "https://agent-controller.stg.xpander.ai/org-1"
    );
    let staging = ClientBuilder::new()
        .api_key(KEY)
        .organization_id("org-1")
        .staging(true)
        .build_config()
        .unwrap();
    assert_eq!(
        events_root(&staging).unwrap(),
        "https://agent-controller.stg.xpander.ai/org-1"
    );
    // Exact host match only.
    assert_eq!(
        root(Some("https://inbound.xpander.ai.example.com")),
        "https://inbound.xpander.ai.example.com/org-1"
    );
    // A loopback host on 8085: the local agent controller.
    for base in [
        "http://localhost:8085",
        "http://127.0.0.1:8085/api",
        "http://[::1]:8085",
    ] {
        assert_eq!(root(Some(base)), "http://localhost:9016/org-1", "{base}");
    }
    // Any other base: itself, then the org (the capture's fake backend).
    assert_eq!(
        root(Some("http://127.0.0.1:40719")),
        "http://127.0.0.1:40719/org-1"
    );
    assert_eq!(
        root(Some("https://api.example.com/v1/")),
        "https://api.example.com/v1/org-1"
    );
    // A base the configuration already appended the org to: not twice.
    let controller = config(Some("https://agent-controller.example.com"), Some("org-1"));
    assert_eq!(
        controller.base_url,
        "https://agent-controller.example.com/org-1"
    );
    assert_eq!(
        events_root(&controller).unwrap(),
        "https://agent-controller.example.com/org-1"
    );
    let local = config(Some("http://localhost:9016"), Some("org 1"));
    assert_eq!(
        events_root(&local).unwrap(),
        "http://localhost:9016/org%201"
    );
    // The org is one encoded segment.
    assert_eq!(
        events_root(&config(None, Some("a/b?c"))).unwrap(),
        "https://agent-controller.xpander.ai/a%2Fb%3Fc"
    );
}

#[test]
fn events_root_needs_an_org_or_an_override() {
    for org in [None, Some("")] {
        let err = events_root(&config(None, org)).unwrap_err();
        let Error::Config(message) = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("XPANDER_ORGANIZATION_ID"), "{message}");
        assert!(!message.contains("None"), "{message}");
        assert!(matches!(
            WorkerRequests::new(config(None, org), "agent-1", Environment::Local),
            Err(Error::Config(_))
        ));
    }
    // The configuration's override is the whole root.
    let config = ClientBuilder::new()
        .api_key(KEY)
        .events_base_url("https://events.example.com/my-org/")
        .build_config()
        .unwrap();
    let requests = WorkerRequests::new(config, "agent-1", Environment::Local).unwrap();
    assert_eq!(requests.events_root(), "https://events.example.com/my-org");
    let session = EventSession::new("agent-1", StreamPolicy::default());
    assert!(requests
        .agent_stream(&session)
        .uri()
        .to_string()
        .starts_with("https://events.example.com/my-org/events/agent-1/?"));
}

#[test]
fn stream_and_worker_event_requests() {
    let requests = WorkerRequests::new(
        config(None, Some("org-1")),
        "agent 1/x",
        Environment::Xpander,
    )
    .unwrap();
    let session = EventSession::new("agent 1/x", StreamPolicy::default());
    let stream = requests.agent_stream(&session);
    assert_eq!(stream.method(), Method::GET);
    assert_eq!(stream.operation, Operation::AgentStream);
    assert_eq!(
        stream.uri().to_string(),
        "https://agent-controller.xpander.ai/org-1/events/agent%201%2Fx/?environment=xpander&supports_llm_gateway=true"
    );
    assert_eq!(stream.header("accept"), Some("text/event-stream"));
    assert_eq!(stream.header("cache-control"), Some("no-store"));
    assert_eq!(stream.header("x-api-key"), Some(KEY));
    assert_eq!(stream.header("content-type"), None);
    assert_eq!(stream.header("last-event-id"), None);
    assert!(stream.body().is_empty());
    assert_eq!(
        stream
            .headers()
            .iter()
            .filter(|(n, _)| *n == "accept")
            .count(),
        1
    );

    let event = crate::model::WorkerEvent::capacity(true);
    let post = requests.worker_event("w/1", &event).unwrap();
    assert_eq!(post.method(), Method::POST);
    assert_eq!(post.operation, Operation::WorkerEvent);
    assert_eq!(
        post.uri().to_string(),
        "https://agent-controller.xpander.ai/org-1/events/w%2F1?type=worker&agent_id=agent%201%2Fx"
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("x-api-key"), Some(KEY));
    assert_eq!(
        body(&post),
        json!({"id": event.id, "event": "worker-capacity-update", "data": {"is_busy": true}})
    );
    assert!(requests.worker_event("", &event).is_err());
    assert!(matches!(
        WorkerRequests::new(config(None, Some("o")), "..", Environment::Local),
        Err(Error::InvalidArgument { .. })
    ));
    // The task calls go to the API base, not the events root.
    let reload = requests.reload("t 1").unwrap();
    assert_eq!(
        reload.uri().to_string(),
        "https://inbound.xpander.ai/agent-execution/t%201/status"
    );
    let release = requests
        .set_status("t1", AgentExecutionStatus::Pending, "why")
        .unwrap();
    assert_eq!(release.method(), Method::PATCH);
    assert_eq!(
        release.uri().to_string(),
        "https://inbound.xpander.ai/agent-execution/t1/update"
    );
    assert_eq!(
        body(&release),
        json!({"status": "pending", "result": "why"})
    );
    // Debug never shows the key.
    assert!(!format!("{requests:?}{stream:?}{post:?}").contains(KEY));
}

#[test]
fn heartbeat_request_is_an_rfc3339_utc_envelope() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_250);
    let request = w.heartbeat_request("w-1", at).unwrap();
    assert_eq!(
        request.uri().to_string(),
        "https://agent-controller.xpander.ai/org-1/events/w-1?type=worker&agent_id=agent-1"
    );
    let envelope = body(&request);
    assert_eq!(envelope["event"], "worker-heartbeat");
    assert_eq!(envelope["data"], "2026-11-18T11:06:40.25Z");
    let id = uuid::Uuid::parse_str(envelope["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    let again = w.heartbeat_request("w-1", at).unwrap();
    assert_ne!(body(&again)["id"], envelope["id"]);
}

// --- classification ----------------------------------------------------------------

#[test]
fn classification_of_every_event_kind() {
    let registration = classify_parts(
        "worker-registration",
        registration("w-9")
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    );
    assert!(matches!(&registration, AgentEvent::Registration(a) if a.id == "w-9"));

    let AgentEvent::Task { task, llm_gateway } =
        classify_parts("agent-execution", &task_value("task-1").to_string())
    else {
        panic!("a task");
    };
    assert_eq!(task.id, "task-1");
    let extension = task.payload_extension.as_ref().unwrap();
    assert!(extension.get("llm_gateway").is_none());
    assert_eq!(extension["custom_field"], "kept");
    let gateway = llm_gateway.unwrap();
    assert_eq!(gateway.base_url(), Some("https://llm-gw.example"));
    assert_eq!(gateway.token(), Some("run-token"));
    let debug = format!(
        "{:?}",
        AgentEvent::Task {
            task,
            llm_gateway: Some(gateway)
        }
    );
    for secret in ["run-token", "oidc-secret", "gh-secret", "mcp-secret"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }

    assert!(matches!(
        classify_parts("worker-environment-conflict", r#"{"error":"served elsewhere","code":1}"#),
        AgentEvent::Conflict { message } if message == "served elsewhere"
    ));
    for data in ["", "not json", "{}", r#"{"error":""}"#] {
        assert!(matches!(
            classify_parts("worker-environment-conflict", data),
            AgentEvent::Conflict { message } if message.contains("another environment")
        ));
    }
    let long = json!({ "error": "x".repeat(5000) }).to_string();
    assert!(matches!(
        classify_parts("worker-environment-conflict", &long),
        AgentEvent::Conflict { message } if message.chars().count() == 501
    ));
    for name in ["message", "worker-finished", "deployment"] {
        assert!(matches!(
            classify_parts(name, "{}"),
            AgentEvent::Ignored { name: n } if n == name
        ));
    }
}

#[test]
fn malformed_events_with_and_without_an_id() {
    // No `id`, or an `id` that is neither a string nor an integer: the reason names the
    // field and quotes no data. (A task without `created_at`, or any other
    // field but the id, is a task: see the next test.)
    let mut no_id = task_value("task-bad");
    no_id.as_object_mut().unwrap().remove("id");
    let mut number_id = task_value("task-bad");
    number_id["id"] = json!(12.5);
    for value in [no_id, number_id] {
        let AgentEvent::Malformed { reason } =
            classify_parts("agent-execution", &value.to_string())
        else {
            panic!();
        };
        assert!(reason.contains("id"), "{reason}");
        assert!(!reason.contains("oidc-secret") && !reason.contains("do task-bad"));
    }

    // Not an object: no data quoted. (A field of the wrong type is read
    // leniently, as the model reads every task.)
    let AgentEvent::Malformed { reason } =
        classify_parts("agent-execution", r#""a secret prompt""#)
    else {
        panic!();
    };
    assert!(!reason.contains("a secret prompt"), "{reason}");
    assert!(reason.contains("wrong type"), "{reason}");

    // No usable id.
    for data in [
        "not json at all".to_owned(),
        json!({"id": 12.5, "agent_id": "a"}).to_string(),
        json!({"id": "..", "agent_id": "a"}).to_string(),
        json!(["id"]).to_string(),
    ] {
        assert!(
            matches!(
                classify_parts("agent-execution", &data),
                AgentEvent::Malformed { .. }
            ),
            "{data}"
        );
    }
    let mut value = task_value("");
    value["id"] = json!("");
    assert!(matches!(
        classify_parts("agent-execution", &value.to_string()),
        AgentEvent::Malformed { .. }
    ));
    // A registration that is not a worker record.
    assert!(matches!(
        classify_parts("worker-registration", r#"{"name":"x"}"#),
        AgentEvent::Malformed { reason } if reason.contains("`id`")
    ));
}

#[test]
fn a_task_with_only_an_id_is_a_task() {
    let mut value = task_value("task-lean");
    value.as_object_mut().unwrap().remove("created_at");
    for bare in [value, json!({"id": "task-lean"})] {
        let AgentEvent::Task { task, .. } = classify_parts("agent-execution", &bare.to_string())
        else {
            panic!("{bare}");
        };
        assert_eq!(task.id, "task-lean");
        assert!(task.save_body(true).unwrap().get("created_at").is_none());
    }
}

// --- save bodies ---------------------------------------------------------------------

#[test]
fn runtime_save_bodies_carry_no_credential() {
    let task: Task = serde_json::from_value(task_value("task-1")).unwrap();
    let body = runtime_save_body(&task).unwrap();
    let text = body.to_string();
    for secret in [
        "run-token",
        "oidc-secret",
        "gh-secret",
        "mcp-secret",
        "extra-secret",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    for key in NEVER_SAVED {
        assert!(body.get(*key).is_none(), "{key}");
    }
    assert!(body.get("session_secret").is_none());
    // The rest goes back as it came, unknown keys and extension keys too.
    assert_eq!(body["payload_extension"], json!({"custom_field": "kept"}));
    assert_eq!(body["brand_new_field"], json!({"nested": [1, 2.5, "x"]}));
    // Token counts are not credentials.
    let mut task = task;
    task.tokens = Some(crate::model::Tokens::new(3, 4));
    assert_eq!(
        runtime_save_body(&task).unwrap()["tokens"]["prompt_tokens"],
        3
    );
}

#[test]
fn the_claim_reads_the_task_then_sends_its_status_only() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = w.on_stream_bytes(task_event("task-1").as_bytes(), t0);
    // First the read of the server's copy (one GET), no claim yet.
    assert!(claims(&fx).is_empty());
    let read = request_of(
        &fx,
        &Call::Check {
            task_id: "task-1".into(),
        },
    );
    assert_eq!(read.method(), Method::GET);
    assert_eq!(
        read.uri().to_string(),
        "https://inbound.xpander.ai/agent-execution/task-1/status"
    );
    assert_eq!(w.phase("task-1"), Some(Phase::Check));
    assert_eq!(w.running(), 1, "the read holds the slot");
    let fx = checked(&mut w, fx, t0);
    let request = request_of(&fx, &claim_call("task-1"));
    assert_eq!(request.method(), Method::PATCH);
    assert_eq!(
        request.uri().to_string(),
        "https://inbound.xpander.ai/agent-execution/task-1/update"
    );
    // A partial update: the field it changes, never a copy of the rest.
    assert_eq!(body(&request), json!({"status": "executing"}));
}

#[test]
fn the_final_merge_keeps_the_handlers_changes_and_the_servers() {
    let delivered: Task = serde_json::from_value(task_value("task-1")).unwrap();
    let mut ours = delivered.clone();
    ours.status = Some(AgentExecutionStatus::Completed);
    ours.result = Some("answer".to_owned());
    ours.title = Some("the handler's title".to_owned());
    let mut theirs_value = task_value("task-1");
    theirs_value["status"] = json!("executing");
    theirs_value["is_manually_stopped"] = json!(true);
    theirs_value["started_at"] = json!("2026-11-28T03:38:31Z");
    theirs_value["title"] = json!("the server's title");
    theirs_value["user_oidc_token"] = json!("fresh-oidc-secret");
    let theirs: Task = serde_json::from_value(theirs_value).unwrap();
    let merged = body::merged_save_body(&delivered, &ours, &theirs).unwrap();
    assert_eq!(merged["status"], "completed");
    assert_eq!(merged["result"], "answer");
    assert_eq!(merged["title"], "the handler's title");
    assert_eq!(merged["is_manually_stopped"], true);
    assert_eq!(merged["started_at"], "2026-11-28T03:38:31Z");
    assert_eq!(merged["brand_new_field"], json!({"nested": [1, 2.5, "x"]}));
    assert!(merged.get("user_oidc_token").is_none());
    assert!(!merged.to_string().contains("secret"));
}

// --- intake and capacity -------------------------------------------------------

#[test]
fn eight_tasks_six_slots_a_queue_of_four() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let ids = task_ids(8);
    let fx = deliver(&mut w, &ids, t0);
    assert_eq!(claims(&fx), ids[..6]);
    assert!(releases(&fx).is_empty());
    assert_eq!((w.running(), w.queued(), w.in_flight()), (6, 2, 8));
    // Busy once, when the 6th slot was taken.
    assert_eq!(capacity(&fx), [(1, true)]);
    assert!(w.is_busy());
    assert_eq!(w.capacity_seq(), 1);
    let request = request_of(&fx, &capacity_call("w-1", 1, true));
    assert_eq!(body(&request)["data"], json!({"is_busy": true}));

    // Beyond the queue: released, with a message, never dropped.
    let fx = deliver(&mut w, &task_ids(12)[8..], t0);
    assert_eq!(releases(&fx), ["task-11", "task-12"]);
    assert!(claims(&fx).is_empty());
    assert!(capacity(&fx).is_empty());
    let release = request_of(&fx, &release_call("task-11"));
    let sent = body(&release);
    assert_eq!(sent["status"], "pending");
    assert!(sent["result"].as_str().unwrap().contains("no free slot"));
    assert_eq!((w.running(), w.queued()), (6, 4));
}

#[test]
fn completions_start_queued_tasks_in_order() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(2).queue_capacity(3), t0);
    let ids = task_ids(5);
    let fx = deliver(&mut w, &ids, t0);
    assert_eq!(claims(&fx), ["task-1", "task-2"]);
    let fx = answer_claims(&mut w, &fx, t0);
    let starts: Vec<_> = started(&fx).iter().map(|s| s.task.id.clone()).collect();
    assert_eq!(starts, ["task-1", "task-2"]);
    let outcome = handler_result(started(&fx)[1]);

    // task-2 ends first: its slot is taken until its final status is
    // saved, then task-3 takes it; busy all along.
    let fx = w.on_handler_done("task-2", outcome);
    let fx = checked(&mut w, fx, t0);
    assert!(claims(&fx).is_empty(), "the final save holds the slot");
    assert_eq!(w.running(), 2);
    let fx = saved(&mut w, fx, t0);
    assert_eq!(claims(&fx), ["task-3"]);
    assert!(capacity(&fx).is_empty());
    let fx = w.on_handler_done("task-1", HandlerOutcome::Cancelled);
    let fx = saved(&mut w, fx, t0);
    assert_eq!(claims(&fx), ["task-4"]);
    let fx = w.on_response(claim_call("task-3"), ok(), t0);
    let fx = w.on_handler_done("task-3", handler_result(started(&fx)[0]));
    let fx = saved(&mut w, fx, t0);
    assert_eq!(claims(&fx), ["task-5"]);
    assert_eq!(w.queued(), 0);
    assert_eq!(w.capacity_seq(), 1);
}

#[test]
fn capacity_goes_only_on_change_one_at_a_time_in_order() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(2).queue_capacity(0), t0);
    // Never busy: nothing is sent (the official runtime sends `false`
    // after every task).
    let start = run_to_handler(&mut w, "task-1", t0);
    let fx = w.on_handler_done("task-1", handler_result(&start));
    let fx = saved(&mut w, fx, t0);
    assert!(capacity(&fx).is_empty());

    // Busy: sent once (#1); while it is out, the value flips back and
    // forth: nothing more is sent until its answer.
    let fx = deliver(&mut w, &task_ids(3)[1..], t0);
    assert_eq!(capacity(&fx), [(1, true)]);
    let fx = w.on_response(claim_call("task-2"), ok(), t0);
    let fx = w.on_handler_done("task-2", handler_result(started(&fx)[0]));
    let fx = saved(&mut w, fx, t0);
    assert!(capacity(&fx).is_empty(), "one at a time");
    assert_eq!(w.capacity_seq(), 2);
    // The answer to #1: the server thinks busy, the worker is not: #2.
    let fx = w.on_response(capacity_call("w-1", 1, true), ok(), t0);
    assert_eq!(capacity(&fx), [(2, false)]);
    let fx = w.on_response(capacity_call("w-1", 2, false), ok(), t0);
    assert!(capacity(&fx).is_empty());

    // Busy then free again before the answer: the server's view (free)
    // is what the worker ends at, so nothing more goes.
    let fx = deliver(&mut w, &task_ids(4)[3..], t0);
    assert_eq!(capacity(&fx), [(3, true)]);
    let fx = w.on_response(claim_call("task-4"), ok(), t0);
    let fx = w.on_handler_done("task-4", handler_result(started(&fx)[0]));
    saved(&mut w, fx, t0);
    let fx = w.on_response(capacity_call("w-1", 3, true), ok(), t0);
    assert_eq!(capacity(&fx), [(4, false)]);
}

#[test]
fn a_failed_capacity_update_is_sent_again_later() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(0), t0);
    let fx = deliver(&mut w, &["task-1".to_owned()], t0);
    assert_eq!(capacity(&fx), [(1, true)]);
    let call = capacity_call("w-1", 1, true);
    let fx = w.on_response(call.clone(), Err(refused()), t0);
    assert!(capacity(&fx).is_empty());
    assert_eq!(notices(&fx)[0].level, Level::Warn);
    assert!(!w.is_finished() && !w.is_stopping());
    assert!(w.next_wakeup().unwrap() <= t0 + secs(2));
    assert!(capacity(&w.on_tick(t0 + secs(1))).is_empty());
    let fx = w.on_tick(t0 + secs(2));
    assert_eq!(capacity(&fx), [(1, true)]);
}

#[test]
fn a_task_delivered_twice_is_taken_once() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = deliver(&mut w, &["task-1".to_owned(), "task-1".to_owned()], t0);
    assert_eq!(claims(&fx), ["task-1"]);
    assert!(releases(&fx).is_empty());
    assert_eq!(w.in_flight(), 1);
}

// --- registration and heartbeats -------------------------------------------------

#[test]
fn heartbeats_first_at_once_then_every_interval_after_the_answer() {
    let t0 = Instant::now();
    let mut w = worker(policy());
    w.start();
    w.on_stream_open(200, SSE, t0);
    assert!(!w.is_ready());
    let fx = w.on_stream_bytes(registration("w-1").as_bytes(), t0);
    assert_eq!(heartbeats(&fx), ["w-1"]);
    assert!(notices(&fx)
        .iter()
        .any(|n| n.message.contains("registered as worker w-1")));
    assert_eq!(w.worker_id(), Some("w-1"));
    assert!(w.is_ready());
    // Nothing before the answer, however long it takes.
    assert!(heartbeats(&w.on_tick(t0 + secs(30))).is_empty());
    let answered = t0 + secs(31);
    w.on_response(heartbeat_call("w-1"), ok(), answered);
    assert_eq!(w.next_wakeup(), Some(answered + secs(2)));
    assert!(heartbeats(&w.on_tick(answered + secs(1))).is_empty());
    assert_eq!(heartbeats(&w.on_tick(answered + secs(2))), ["w-1"]);
    // A failed heartbeat is a warning, and the beat goes on.
    let fx = w.on_response(heartbeat_call("w-1"), answer(500), answered + secs(3));
    assert_eq!(notices(&fx)[0].level, Level::Warn);
    assert_eq!(heartbeats(&w.on_tick(answered + secs(5))), ["w-1"]);
    let fx = w.on_response(heartbeat_call("w-1"), Err(refused()), answered + secs(6));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Finished { .. })));
    assert_eq!(heartbeats(&w.on_tick(answered + secs(8))), ["w-1"]);
}

#[test]
fn a_new_registration_replaces_the_worker_id() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    w.on_tick(t0 + secs(2)); // a heartbeat of w-1 is out
    let fx = w.on_stream_bytes(registration("w-2").as_bytes(), t0 + secs(2));
    assert_eq!(heartbeats(&fx), ["w-2"]);
    assert!(notices(&fx).iter().any(|n| n.message.contains("(was w-1)")));
    assert_eq!(w.worker_id(), Some("w-2"));
    // The late answer of w-1's beat schedules nothing.
    w.on_response(heartbeat_call("w-1"), ok(), t0 + secs(3));
    assert_eq!(w.next_wakeup(), None);
    w.on_response(heartbeat_call("w-2"), ok(), t0 + secs(3));
    assert_eq!(heartbeats(&w.on_tick(t0 + secs(5))), ["w-2"]);
}

#[test]
fn a_registration_while_busy_tells_the_new_worker_id() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1), t0);
    let fx = deliver(&mut w, &["task-1".to_owned()], t0);
    assert_eq!(capacity(&fx), [(1, true)]);
    // The stream drops; the task keeps running; a new worker id comes.
    w.on_stream_end(Disconnect::Eof, t0 + secs(1));
    assert!(!w.is_registered());
    let fx = w.on_tick(t0 + secs(2));
    assert_eq!(opens(&fx), 1);
    w.on_stream_open(200, SSE, t0 + secs(2));
    let fx = w.on_stream_bytes(registration("w-2").as_bytes(), t0 + secs(2));
    // The server's record of w-2 says not busy: it is told.
    assert_eq!(capacity(&fx), []);
    // (#1 to w-1 is still out; its answer lets #1 go to w-2.)
    let fx = w.on_response(capacity_call("w-1", 1, true), ok(), t0 + secs(2));
    let sent = sends(&fx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, capacity_call("w-2", 1, true));
    assert!(sent[0].1.uri().to_string().contains("/events/w-2?"));
}

// --- the stream: reconnects --------------------------------------------------------

/// Fails the connection attempt under way with `why`; answers the delay.
fn fail(w: &mut WorkerMachine, why: Disconnect, now: Instant) -> Duration {
    let fx = w.on_stream_end(why, now);
    assert!(finished(&fx).is_none(), "{fx:?}");
    let at = w.next_wakeup().expect("a reconnect is scheduled");
    at.duration_since(now)
}

fn api(status: u16) -> Disconnect {
    Disconnect::Error(Error::Api(ApiError::new(status, "{}")))
}

#[test]
fn reconnects_back_off_capped_and_reset_after_a_healthy_connection() {
    let t0 = Instant::now();
    let mut w = worker(policy());
    let mut now = t0;
    assert_eq!(opens(&w.start()), 1);
    let mut delays = Vec::new();
    for _ in 0..8 {
        delays.push(fail(&mut w, Disconnect::Error(refused()), now));
        now += delays[delays.len() - 1];
        assert_eq!(opens(&w.on_tick(now)), 1);
    }
    assert_eq!(
        delays,
        [1, 2, 4, 8, 16, 30, 30, 30].map(secs),
        "doubling from 1 s, capped at 30 s"
    );
    // A connection that registers starts a new count of failures, but the
    // handshake does not reset the backoff: it broke after 1 s.
    w.on_stream_open(200, SSE, now);
    w.on_stream_bytes(registration("w-1").as_bytes(), now);
    assert_eq!(fail(&mut w, Disconnect::Eof, now + secs(1)), secs(30));
    assert_eq!(w.stream_failures(), 1);
    // One that opens but never registers is not even that.
    now += secs(31);
    w.on_tick(now);
    w.on_stream_open(200, SSE, now);
    assert_eq!(fail(&mut w, Disconnect::Eof, now + secs(1)), secs(30));
    assert_eq!(w.stream_failures(), 2);
    // One that stays up for `reset_after` (60 s) resets the backoff.
    now += secs(31);
    w.on_tick(now);
    w.on_stream_open(200, SSE, now);
    w.on_stream_bytes(registration("w-2").as_bytes(), now);
    now += secs(60);
    assert_eq!(fail(&mut w, Disconnect::Eof, now), secs(1));
    now += secs(1);
    w.on_tick(now);
    w.on_stream_open(200, SSE, now);
    assert_eq!(fail(&mut w, Disconnect::Eof, now + secs(1)), secs(2));
    // Error statuses of every kind are retried; so are a 2xx that is not a
    // stream and a 204.
    for why in [api(503), api(500), api(404), api(400)] {
        now += secs(60);
        w.on_tick(now);
        fail(&mut w, why, now);
    }
    for (status, content_type) in [(200, Some("text/html")), (204, None), (204, SSE)] {
        now += secs(60);
        assert_eq!(opens(&w.on_tick(now)), 1);
        let fx = w.on_stream_open(status, content_type, now);
        assert!(matches!(fx[0], Effect::CloseStream), "{fx:?}");
        assert!(w.next_wakeup().is_some());
    }
    assert!(!w.is_stopping());
}

#[test]
fn reconnect_delays_are_jittered_within_their_ceiling() {
    let t0 = Instant::now();
    let mut w = worker(WorkerPolicy::default());
    w.start();
    let mut now = t0;
    let mut seen = std::collections::HashSet::new();
    for n in 0..40u32 {
        let delay = fail(&mut w, Disconnect::Error(refused()), now);
        // Between the delay (1 s doubled) and twice it, at most 30 s, at
        // least 1 s; once capped, between 15 s and 30 s.
        let ceiling = secs(2)
            .saturating_mul(2u32.saturating_pow(n.min(10)))
            .min(secs(30));
        let low = (ceiling / 2).max(secs(1));
        assert!(delay >= low && delay <= ceiling, "{n}: {delay:?}");
        seen.insert(delay);
        now += delay;
        w.on_tick(now);
    }
    assert!(seen.len() > 20, "{}", seen.len());
}

#[test]
fn an_idle_timeout_reconnects() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    assert_eq!(w.stream_policy().idle_timeout, secs(120));
    assert!(w.stream_policy().persistent);
    let fx = w.on_stream_end(Disconnect::IdleTimeout, t0 + secs(200));
    assert!(notices(&fx)[0].message.contains("idle timeout"));
    assert!(!w.is_registered());
    // Heartbeats stop with the stream; the reconnect comes after 1 s.
    assert_eq!(w.next_wakeup(), Some(t0 + secs(201)));
    let fx = w.on_tick(t0 + secs(201));
    assert_eq!(opens(&fx), 1);
    assert!(heartbeats(&fx).is_empty());
}

#[test]
fn a_dropped_connection_leaves_its_queued_tasks_to_the_dispatch() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let ids = task_ids(8);
    let fx = deliver(&mut w, &ids, t0);
    let fx = answer_claims(&mut w, &fx, t0);
    assert_eq!(started(&fx).len(), 6);
    assert_eq!(w.queued(), 2);
    let fx = w.on_stream_end(Disconnect::Eof, t0);
    // Unclaimed: the server hands them to another connection; no call.
    assert_eq!(w.queued(), 0);
    assert!(releases(&fx).is_empty() && claims(&fx).is_empty());
    // The running ones go on; a slot freed starts nothing.
    assert_eq!(w.running(), 6);
    // Delivered again on the next connection, a forgotten task is taken
    // afresh; one the worker runs is ignored.
    let fx = w.on_tick(t0 + secs(1));
    assert_eq!(opens(&fx), 1);
    w.on_stream_open(200, Some("text/event-stream"), t0 + secs(1));
    w.on_stream_bytes(registration("w-2").as_bytes(), t0 + secs(1));
    deliver(&mut w, &ids[5..], t0 + secs(1));
    assert_eq!(w.queued(), 2);
    assert_eq!(w.running(), 6);
}

#[test]
fn the_reconnect_resumes_after_the_last_event_id() {
    let t0 = Instant::now();
    let mut w = worker(policy());
    w.start();
    w.on_stream_open(200, SSE, t0);
    w.on_stream_bytes(format!("id: 41\n{}", registration("w-1")).as_bytes(), t0);
    w.on_stream_end(Disconnect::Eof, t0);
    let fx = w.on_tick(t0 + secs(1));
    let Some(Effect::OpenStream(request)) = fx.first() else {
        panic!("{fx:?}");
    };
    assert_eq!(request.header("last-event-id"), Some("41"));
}

#[test]
fn an_idle_worker_gives_up_after_its_cap_never_with_tasks_in_flight() {
    let t0 = Instant::now();
    let mut w = registered(policy().max_idle_reconnects(Some(2)), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    let mut now = t0;
    // A task runs: ten failures in a row, still reconnecting.
    w.on_stream_end(Disconnect::Error(refused()), now);
    for _ in 0..10 {
        now += secs(60);
        assert_eq!(opens(&w.on_tick(now)), 1);
        fail(&mut w, Disconnect::Error(refused()), now);
    }
    assert!(!w.is_stopping());
    // The task settles: the next due reconnect gives up instead.
    w.on_handler_done("task-1", handler_result(&start));
    let fx = w.on_response(reload("task-1"), server_copy("task-1", "executing"), now);
    let fx2 = w.on_response(final_save("task-1", 1), ok(), now);
    assert!(calls(&fx).contains(&final_save("task-1", 1)));
    w.on_response(metrics_call("task-1"), ok(), now);
    assert_eq!(metrics(&fx2).len(), 1);
    assert_eq!(w.in_flight(), 0);
    let fx = w.on_tick(now + secs(60));
    assert_eq!(opens(&fx), 0);
    let (reason, _) = finished(&fx).expect("finished");
    assert!(
        matches!(reason, StopReason::Fatal(e) if e.to_string().contains("max_idle_reconnects = 2"))
    );

    // Idle from the start: the third failure in a row ends it.
    let mut w = worker(policy().max_idle_reconnects(Some(2)));
    w.start();
    let mut now = t0;
    for _ in 0..2 {
        fail(&mut w, Disconnect::Error(refused()), now);
        now += secs(60);
        w.on_tick(now);
    }
    let fx = w.on_stream_end(Disconnect::Error(refused()), now);
    assert!(matches!(finished(&fx), Some((StopReason::Fatal(_), _))));
    assert!(w.is_finished());
    assert_eq!(w.next_wakeup(), None);

    // By default: never.
    let mut w = worker(policy());
    w.start();
    let mut now = t0;
    for _ in 0..100 {
        fail(&mut w, Disconnect::Error(refused()), now);
        now += secs(60);
        assert_eq!(opens(&w.on_tick(now)), 1);
    }
}

#[test]
fn a_refused_key_stops_the_worker_after_its_tasks() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    let fx = w.on_stream_end(api(401), t0);
    assert!(finished(&fx).is_none(), "the task is in flight");
    assert!(w.is_stopping());
    assert_eq!(notices(&fx)[0].level, Level::Error);
    // No reconnect, ever (the task's handler is within the grace).
    assert_eq!(opens(&w.on_tick(t0 + secs(10))), 0);
    w.on_handler_done("task-1", handler_result(&start));
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    w.on_response(final_save("task-1", 1), ok(), t0);
    let fx = w.on_response(metrics_call("task-1"), ok(), t0);
    assert!(
        matches!(finished(&fx), Some((StopReason::Fatal(e), _)) if e.is_unauthorized()),
        "{fx:?} {w:?}"
    );
}

// --- a task's life -----------------------------------------------------------------

#[test]
fn a_task_from_claim_to_metrics() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    assert_eq!(start.attempt, 1);
    assert_eq!(start.deadline, Some(t0 + secs(3600)));
    assert_eq!(start.task.status, Some(AgentExecutionStatus::Executing));
    assert!(start
        .task
        .payload_extension
        .as_ref()
        .unwrap()
        .get("llm_gateway")
        .is_none());
    assert_eq!(
        start.llm_gateway.as_ref().unwrap().token(),
        Some("run-token")
    );
    assert_eq!(
        w.phase("task-1"),
        Some(Phase::Run {
            attempt: 1,
            deadline: Some(t0 + secs(3600))
        })
    );

    let fx = w.on_handler_done("task-1", handler_result(&start));
    assert_eq!(calls(&fx), [reload("task-1")]);
    assert_eq!(request_of(&fx, &reload("task-1")).method(), Method::GET);
    assert_eq!(w.running(), 1, "the slot is held until the final save");
    let fx = w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    let save = request_of(&fx, &final_save("task-1", 1));
    let sent = body(&save);
    assert_eq!(sent["status"], "completed");
    assert_eq!(sent["result"], "done: do task-1");
    assert_eq!(sent["used_tools"], json!(["demo_tool"]));
    assert_eq!(sent["tokens"]["total_tokens"], 15);
    // The server's start time is kept; no credential is echoed.
    assert_eq!(sent["started_at"], "2026-11-28T03:38:31Z");
    let text = sent.to_string();
    for secret in [
        "run-token",
        "oidc-secret",
        "gh-secret",
        "mcp-secret",
        "extra-secret",
    ] {
        assert!(!text.contains(secret), "{secret}");
    }
    let fx = w.on_response(final_save("task-1", 1), ok(), t0);
    let reported = metrics(&fx);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["status"], "completed");
    assert_eq!(reported[0]["execution_id"], "task-1");
    assert_eq!(reported[0]["llm_tokens"]["worker"]["total_tokens"], 15);
    assert_eq!(w.phase("task-1"), Some(Phase::Metrics));
    let fx = w.on_response(metrics_call("task-1"), answer(500), t0);
    assert!(notices(&fx)[0].message.contains("not tried again"));
    assert_eq!(w.phase("task-1"), None);
    assert_eq!(w.in_flight(), 0);
}

#[test]
fn no_tokens_no_metrics() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    let mut task = start.task.clone();
    task.result = Some("x".into());
    w.on_handler_done("task-1", HandlerOutcome::Finished(Box::new(task)));
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    let fx = w.on_response(final_save("task-1", 1), ok(), t0);
    assert!(metrics(&fx).is_empty());
    assert_eq!(w.in_flight(), 0);
}

#[test]
fn metrics_that_cannot_be_reported_are_a_warning() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    let HandlerOutcome::Finished(mut task) = handler_result(&start) else {
        unreachable!()
    };
    task.source = None; // the report requires it
    w.on_handler_done("task-1", HandlerOutcome::Finished(task));
    w.on_response(reload("task-1"), Err(refused()), t0);
    let fx = w.on_response(final_save("task-1", 1), ok(), t0);
    assert!(metrics(&fx).is_empty());
    assert!(notices(&fx)[0]
        .message
        .contains("metrics cannot be reported"));
    assert_eq!(w.in_flight(), 0);
}

/// Runs a task through its handler with `outcome` (made from the start)
/// and a reload answering `server_status`; answers the final save's body.
fn final_body_after(
    outcome: impl FnOnce(&HandlerStart) -> HandlerOutcome,
    server_status: &str,
) -> (Value, Vec<Effect>) {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    w.on_handler_done("task-1", outcome(&start));
    let fx = w.on_response(reload("task-1"), server_copy("task-1", server_status), t0);
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    let fx = w.on_response(final_save("task-1", 1), ok(), t0);
    (sent, fx)
}

#[test]
fn outcomes_map_to_final_statuses() {
    // A handler error: `error` with its message.
    let (sent, fx) = final_body_after(
        |_| HandlerOutcome::Failed {
            message: "boom: handler failed on purpose".into(),
            task: None,
        },
        "executing",
    );
    assert_eq!(sent["status"], "error");
    assert_eq!(sent["result"], "boom: handler failed on purpose");
    assert!(metrics(&fx).is_empty());

    // A failure with the task as the handler left it: its tokens are
    // reported, once.
    let (sent, fx) = final_body_after(
        |start| {
            let mut task = start.task.clone();
            task.tokens = Some(crate::model::Tokens::new(1, 1));
            HandlerOutcome::Failed {
                message: "late failure".into(),
                task: Some(Box::new(task)),
            }
        },
        "executing",
    );
    assert_eq!(
        (sent["status"].as_str(), sent["result"].as_str()),
        (Some("error"), Some("late failure"))
    );
    assert_eq!(metrics(&fx).len(), 1);

    // A status the handler set is kept.
    let (sent, _) = final_body_after(
        |start| {
            let mut task = start.task.clone();
            task.status = Some(AgentExecutionStatus::Paused);
            HandlerOutcome::Finished(Box::new(task))
        },
        "executing",
    );
    assert_eq!(sent["status"], "paused");

    // Cancelled by itself: never `completed`.
    let (sent, _) = final_body_after(|_| HandlerOutcome::Cancelled, "executing");
    assert_eq!(sent["status"], "error");

    // Another task returned: an error, not a save of the other task.
    let (sent, _) = final_body_after(
        |start| {
            let mut task = start.task.clone();
            task.id = "someone-else".into();
            HandlerOutcome::Finished(Box::new(task))
        },
        "executing",
    );
    assert_eq!(sent["status"], "error");
    assert_eq!(sent["id"], "task-1");
}

#[test]
fn a_stop_on_the_server_is_kept() {
    let (sent, fx) = final_body_after(handler_result, "stopped");
    assert_eq!(sent["status"], "stopped");
    assert_eq!(sent["is_manually_stopped"], true);
    // The handler's own fields still go.
    assert_eq!(sent["result"], "done: do task-1");
    assert_eq!(sent["used_tools"], json!(["demo_tool"]));
    // Metrics once, as stopped.
    let reported = metrics(&fx);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["status"], "stopped");

    // A failed reload: saved from the handler's task alone.
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    w.on_handler_done("task-1", handler_result(&start));
    let fx = w.on_response(reload("task-1"), Err(refused()), t0);
    assert_eq!(notices(&fx)[0].level, Level::Warn);
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["status"], "completed");
    assert!(sent.get("started_at").is_none());
}

#[test]
fn a_handler_past_its_deadline_is_cancelled_and_saved_as_a_timeout() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).task_timeout(Some(secs(60))), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    assert_eq!(start.deadline, Some(t0 + secs(60)));
    assert_eq!(w.next_wakeup(), Some(t0 + secs(2))); // the heartbeat first
    w.on_tick(t0 + secs(2));
    w.on_response(heartbeat_call("w-1"), ok(), t0 + secs(2));
    assert!(cancels(&w.on_tick(t0 + secs(59))).is_empty());
    let fx = w.on_tick(t0 + secs(60));
    assert_eq!(cancels(&fx), [("task-1".to_owned(), CancelReason::Timeout)]);
    assert!(calls(&fx).contains(&reload("task-1")));
    // The slot stays taken until the handler really returns.
    assert_eq!(w.running(), 1);
    assert!(w.is_busy());
    let fx = w.on_response(
        reload("task-1"),
        server_copy("task-1", "executing"),
        t0 + secs(60),
    );
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["status"], "error");
    assert!(sent["result"].as_str().unwrap().contains("timeout"));
    // Its late result changes nothing; the slot is held until the final
    // save lands.
    let fx = w.on_handler_done("task-1", handler_result(&start));
    assert!(calls(&fx)
        .iter()
        .all(|c| matches!(c, Call::Capacity { .. })));
    assert_eq!(w.running(), 1);
    let fx = w.on_response(final_save("task-1", 1), ok(), t0 + secs(61));
    assert!(metrics(&fx).is_empty(), "the timed-out task has no tokens");
    assert_eq!(w.running(), 0);
}

#[test]
fn the_final_save_is_retried_with_backoff_and_metrics_go_once() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    w.on_handler_done("task-1", handler_result(&start));
    let fx = w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    let first = body(&request_of(&fx, &final_save("task-1", 1)));
    let mut now = t0;
    for (attempt, ceiling) in [(1u32, 1u64), (2, 2), (3, 4)] {
        let fx = w.on_response(final_save("task-1", attempt), answer(503), now);
        assert!(metrics(&fx).is_empty());
        assert_eq!(notices(&fx)[0].level, Level::Warn);
        let Some(Phase::FinalSave {
            attempt: next,
            retry_at: Some(at),
        }) = w.phase("task-1")
        else {
            panic!("{:?}", w.phase("task-1"));
        };
        assert_eq!(next, attempt + 1);
        let delay = at - now;
        assert!(
            delay >= secs(ceiling) / 2 && delay <= secs(ceiling),
            "{attempt}: {delay:?}"
        );
        assert!(w.next_wakeup().unwrap() <= at);
        now = at;
        let fx = w.on_tick(now);
        let again = body(&request_of(&fx, &final_save("task-1", attempt + 1)));
        assert_eq!(again, first, "every attempt sends the same body");
    }
    let fx = w.on_response(final_save("task-1", 4), ok(), now);
    assert_eq!(metrics(&fx).len(), 1);
    // A late duplicate answer changes nothing.
    let fx = w.on_response(final_save("task-1", 4), ok(), now);
    assert!(metrics(&fx).is_empty());
}

#[test]
fn a_final_save_given_up_is_loud_and_still_reports_metrics_once() {
    let t0 = Instant::now();
    let mut w = registered(policy().save_retries(2, secs(1), secs(1)), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    w.on_handler_done("task-1", handler_result(&start));
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    w.on_response(final_save("task-1", 1), Err(refused()), t0);
    w.on_tick(t0 + secs(1));
    let fx = w.on_response(final_save("task-1", 2), answer(502), t0 + secs(1));
    let notice = notices(&fx)[0];
    assert_eq!(notice.level, Level::Error);
    assert!(notice.message.contains("gave up"), "{}", notice.message);
    assert_eq!(metrics(&fx).len(), 1);

    // A 4xx is not tried again.
    let mut w = registered(policy(), t0);
    let start = run_to_handler(&mut w, "task-1", t0);
    w.on_handler_done("task-1", handler_result(&start));
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    let fx = w.on_response(final_save("task-1", 1), answer(422), t0);
    assert_eq!(notices(&fx)[0].level, Level::Error);
    assert_eq!(metrics(&fx).len(), 1);
}

#[test]
fn a_failed_claim_never_runs_the_handler() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    // A server failure: the task is saved as `error`, with why.
    deliver(&mut w, &["task-1".to_owned()], t0);
    let fx = w.on_response(claim_call("task-1"), answer(500), t0);
    assert!(started(&fx).is_empty());
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["status"], "error");
    assert!(sent["result"]
        .as_str()
        .unwrap()
        .contains("could not mark the task as executing"));
    assert_eq!(w.running(), 1, "held until its `error` is saved");
    w.on_response(final_save("task-1", 1), ok(), t0);
    assert_eq!(w.running(), 0);
    // A refusal (404: gone; 409: taken): left alone.
    deliver(&mut w, &["task-2".to_owned()], t0);
    let fx = w.on_response(claim_call("task-2"), answer(409), t0);
    assert!(started(&fx).is_empty());
    assert!(calls(&fx).is_empty());
    assert_eq!(w.phase("task-2"), None);
}

// --- malformed events ----------------------------------------------------------------

#[test]
fn a_malformed_task_is_skipped_and_the_stream_goes_on() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    // An `id` that is not a string: no task to address, nothing written.
    let mut bad = task_value("task-bad");
    bad["id"] = json!(["task-bad"]);
    let bytes = format!(
        "event: agent-execution\ndata: {bad}\n\nevent: agent-execution\ndata: not json\n\n{}",
        task_event("task-ok")
    );
    let fx = w.on_stream_bytes(bytes.as_bytes(), t0);
    let fx = checked(&mut w, fx, t0);
    assert!(!calls(&fx)
        .iter()
        .any(|c| matches!(c, Call::Release { .. }) || format!("{c:?}").contains("task-bad")));
    // Both without an id: a warning each, naming why, quoting no data.
    let notices = notices(&fx);
    assert!(notices.iter().any(|n| n.task_id.is_none()
        && n.message.contains("`id`")
        && !n.message.contains("do task-bad")));
    assert!(notices
        .iter()
        .any(|n| n.task_id.is_none() && n.message.contains("not JSON")));
    // The next task is taken.
    assert_eq!(claims(&fx), ["task-ok"]);
    assert!(!w.is_stopping());
    // A malformed copy of a task the worker runs does not touch it.
    let mut copy = task_value("task-ok");
    copy["id"] = json!(7.5);
    let fx = w.on_stream_bytes(
        format!("event: agent-execution\ndata: {copy}\n\n").as_bytes(),
        t0,
    );
    assert!(calls(&fx).is_empty());
}

// --- stopping --------------------------------------------------------------------------

#[test]
fn shutdown_leaves_the_queue_drains_then_cancels_and_saves_error() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let ids = task_ids(8);
    let fx = deliver(&mut w, &ids, t0);
    let fx = answer_claims(&mut w, &fx, t0);
    let starts: Vec<HandlerStart> = fx
        .into_iter()
        .filter_map(|e| match e {
            Effect::StartHandler(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 6);

    let t1 = t0 + secs(10);
    assert_eq!(w.queued(), 2);
    let fx = w.begin_shutdown(t1);
    assert!(fx.iter().any(|e| matches!(e, Effect::CloseStream)));
    // The queued tasks are left to the server's dispatch, without a call.
    assert!(releases(&fx).is_empty());
    assert_eq!(w.queued(), 0);
    let left: Vec<_> = notices(&fx)
        .iter()
        .filter(|n| n.message.contains("left to the server's dispatch"))
        .filter_map(|n| n.task_id.clone())
        .collect();
    assert_eq!(left, ["task-7", "task-8"]);
    assert!(finished(&fx).is_none());
    assert!(w.is_stopping() && !w.is_ready());
    // No reconnect; the heartbeats go on while claimed tasks are not
    // saved (a silent worker would have its tasks handed to another).
    assert_eq!(heartbeats(&w.on_tick(t1 + secs(5))), ["w-1"]);
    w.on_response(heartbeat_call("w-1"), ok(), t1 + secs(5));
    assert_eq!(w.next_wakeup(), Some(t1 + secs(7)));
    assert!(opens(&w.on_tick(t1 + secs(7))) == 0);
    w.on_response(heartbeat_call("w-1"), ok(), t1 + secs(7));

    // One handler ends within the grace: saved as usual.
    let fx = w.on_handler_done("task-1", handler_result(&starts[0]));
    assert!(
        claims(&fx).is_empty(),
        "no queued task starts while stopping"
    );
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t1);
    let fx = w.on_response(final_save("task-1", 1), ok(), t1);
    w.on_response(metrics_call("task-1"), ok(), t1);
    assert_eq!(metrics(&fx).len(), 1);

    // The grace runs out: the five others are cancelled and saved as error.
    let fx = w.on_tick(t1 + secs(25));
    let cancelled: Vec<_> = cancels(&fx)
        .into_iter()
        .map(|(id, r)| {
            assert_eq!(r, CancelReason::Shutdown);
            id
        })
        .collect();
    assert_eq!(cancelled, ids[1..6]);
    for id in &ids[1..6] {
        w.on_response(reload(id), server_copy(id, "executing"), t1 + secs(25));
    }
    // One cancelled handler returns; four never do.
    w.on_handler_done("task-2", HandlerOutcome::Cancelled);
    let mut last = Vec::new();
    for (i, id) in ids[1..6].iter().enumerate() {
        let fx = w.on_response(reload(id), server_copy(id, "executing"), t1 + secs(26));
        assert!(fx.is_empty(), "answered twice");
        let call = final_save(id, 1);
        let _ = i;
        last = w.on_response(call, ok(), t1 + secs(26));
    }
    let (reason, abandoned) = finished(&last).expect("finished");
    assert!(matches!(reason, StopReason::Shutdown));
    assert_eq!(abandoned, &ids[2..6]);
    assert!(w.is_finished());
}

#[test]
fn the_shutdown_error_save_says_why_never_completed() {
    let t0 = Instant::now();
    let mut w = registered(policy().shutdown_grace(secs(5)), t0);
    let _start = run_to_handler(&mut w, "task-1", t0);
    w.begin_shutdown(t0);
    let fx = w.on_tick(t0 + secs(5));
    assert_eq!(
        cancels(&fx),
        [("task-1".to_owned(), CancelReason::Shutdown)]
    );
    let fx = w.on_response(
        reload("task-1"),
        server_copy("task-1", "executing"),
        t0 + secs(5),
    );
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["status"], "error");
    assert_eq!(sent["result"], SHUTDOWN_MESSAGE);
    assert!(SHUTDOWN_MESSAGE.contains("worker shut down before the task finished"));
    let fx = w.on_response(final_save("task-1", 1), ok(), t0 + secs(5));
    assert!(
        matches!(finished(&fx), Some((StopReason::Shutdown, a)) if a == &["task-1".to_owned()])
    );
}

#[test]
fn an_idle_shutdown_finishes_at_once_and_a_second_one_cuts_the_grace() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = w.begin_shutdown(t0);
    assert!(matches!(finished(&fx), Some((StopReason::Shutdown, a)) if a.is_empty()));
    assert!(w.begin_shutdown(t0).is_empty());
    assert!(w.on_tick(t0 + secs(100)).is_empty());

    // Not even started.
    let mut w = worker(policy());
    assert!(matches!(
        finished(&w.begin_shutdown(t0)),
        Some((StopReason::Shutdown, _))
    ));
    assert!(w.start().is_empty());

    // A second signal cancels at once.
    let mut w = registered(policy(), t0);
    run_to_handler(&mut w, "task-1", t0);
    w.begin_shutdown(t0);
    let fx = w.begin_shutdown(t0 + secs(1));
    assert_eq!(
        cancels(&fx),
        [("task-1".to_owned(), CancelReason::Shutdown)]
    );
}

#[test]
fn a_claim_answered_after_the_grace_does_not_start_the_handler() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    deliver(&mut w, &["task-1".to_owned()], t0);
    w.begin_shutdown(t0);
    assert!(w.next_wakeup() <= Some(t0 + secs(25)));
    w.on_tick(t0 + secs(25));
    let fx = w.on_response(claim_call("task-1"), ok(), t0 + secs(26));
    assert!(started(&fx).is_empty());
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["result"], SHUTDOWN_MESSAGE);
    let fx = w.on_response(final_save("task-1", 1), ok(), t0 + secs(26));
    assert!(matches!(finished(&fx), Some((StopReason::Shutdown, a)) if a.is_empty()));
}

#[test]
fn a_conflict_stops_cleanly_without_reconnecting() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let bytes = format!(
        "event: worker-environment-conflict\ndata: {{\"error\":\"agent already served by a worker in another environment\"}}\n\n{}",
        task_event("task-late")
    );
    let fx = w.on_stream_bytes(bytes.as_bytes(), t0);
    assert!(fx.iter().any(|e| matches!(e, Effect::CloseStream)));
    // A task that came after it is not claimed: the closed connection
    // leaves it to the server's dispatch (said in a notice).
    assert!(releases(&fx).is_empty());
    assert!(claims(&fx).is_empty());
    assert!(notices(&fx)
        .iter()
        .any(|n| n.task_id.as_deref() == Some("task-late")));
    let (reason, _) = finished(&fx).unwrap_or_else(|| panic!("{fx:?} {w:?}"));
    assert!(
        matches!(reason, StopReason::Conflict { message } if message.contains("another environment"))
    );
    // Nothing after: no reconnect, no bytes taken.
    assert_eq!(w.next_wakeup(), None);
    assert!(w.on_tick(t0 + secs(3600)).is_empty());
    assert!(w
        .on_stream_bytes(task_event("task-x").as_bytes(), t0)
        .is_empty());
    assert!(w.on_stream_end(Disconnect::Eof, t0).is_empty());
}

// --- secrets ---------------------------------------------------------------------------

#[test]
fn debug_output_carries_no_secret() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let mut everything = Vec::new();
    everything.extend(deliver(&mut w, &["task-1".to_owned()], t0));
    everything.extend(w.on_response(claim_call("task-1"), ok(), t0));
    let text = format!("{everything:?}{w:?}");
    for secret in [KEY, "run-token", "oidc-secret", "gh-secret", "mcp-secret"] {
        assert!(!text.contains(secret), "{secret}");
    }
}

// --- the shutdown deadline, the abort grace, a second request, durations ---------------

/// The deadline ends the drain: the worker finishes with what it could not
/// save, whatever is still under way; heartbeats go on until then.
#[test]
fn the_shutdown_deadline_ends_the_drain_and_names_the_unsaved_tasks() {
    let t0 = Instant::now();
    let policy = policy()
        .shutdown_grace(secs(5))
        .shutdown_deadline(secs(8))
        .abort_grace(secs(1));
    let mut w = registered(policy, t0);
    let a = run_to_handler(&mut w, "task-1", t0);
    run_to_handler(&mut w, "task-2", t0);
    w.begin_shutdown(t0);
    // task-1 ends in the grace; its save never answers.
    let fx = w.on_handler_done("task-1", handler_result(&a));
    assert_eq!(calls(&fx), [reload("task-1")]);
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    // The grace ends: task-2 (which ignores its token) is cancelled; its
    // reload fails, its save is refused by a 503 and retried later.
    let fx = w.on_tick(t0 + secs(5));
    assert_eq!(
        cancels(&fx),
        [("task-2".to_owned(), CancelReason::Shutdown)]
    );
    for id in heartbeats(&fx) {
        w.on_response(heartbeat_call(&id), ok(), t0 + secs(5));
    }
    w.on_response(reload("task-2"), answer(503), t0 + secs(5));
    let fx = w.on_response(final_save("task-2", 1), answer(503), t0 + secs(5));
    assert!(finished(&fx).is_none());
    // Its handler ignored the cancellation: aborted after the abort grace.
    let fx = w.on_tick(t0 + secs(6));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::AbortHandler { task_id } if task_id == "task-2")));
    // Heartbeats still go.
    assert_eq!(heartbeats(&w.on_tick(t0 + secs(7))), ["w-1"]);
    // The deadline.
    assert_eq!(w.next_wakeup().map(|at| at <= t0 + secs(8)), Some(true));
    let fx = w.on_tick(t0 + secs(8));
    let (abandoned, unsaved) = fx
        .iter()
        .find_map(|e| match e {
            Effect::Finished {
                abandoned, unsaved, ..
            } => Some((abandoned.clone(), unsaved.clone())),
            _ => None,
        })
        .expect("finished at the deadline");
    assert_eq!(abandoned, ["task-2"]);
    let mut unsaved = unsaved;
    unsaved.sort();
    assert_eq!(unsaved, ["task-1", "task-2"]);
    assert!(notices(&fx).iter().any(|n| n.level == Level::Error
        && n.message.contains("task-1")
        && n.message.contains("task-2")));
    assert!(w.is_finished());
    assert_eq!(w.next_wakeup(), None);
}

/// The normal path next to it: everything saved before the deadline, the
/// heartbeats stop with the last save, nothing unsaved.
#[test]
fn a_drain_within_the_deadline_saves_all_and_then_stops_the_heartbeats() {
    let t0 = Instant::now();
    let mut w = registered(policy().shutdown_deadline(secs(8)), t0);
    let a = run_to_handler(&mut w, "task-1", t0);
    w.begin_shutdown(t0);
    w.on_handler_done("task-1", handler_result(&a));
    assert_eq!(heartbeats(&w.on_tick(t0 + secs(2))), ["w-1"]);
    w.on_response(
        reload("task-1"),
        server_copy("task-1", "executing"),
        t0 + secs(2),
    );
    let fx = w.on_response(final_save("task-1", 1), ok(), t0 + secs(3));
    assert_eq!(metrics(&fx).len(), 1);
    // Saved: no more heartbeats, only the metrics report left.
    w.on_response(heartbeat_call("w-1"), ok(), t0 + secs(3));
    assert!(heartbeats(&w.on_tick(t0 + secs(6))).is_empty());
    let fx = w.on_response(metrics_call("task-1"), ok(), t0 + secs(6));
    let unsaved = fx.iter().find_map(|e| match e {
        Effect::Finished { unsaved, .. } => Some(unsaved.clone()),
        _ => None,
    });
    assert_eq!(unsaved, Some(Vec::new()));
}

/// A handler past its task deadline that ignores its token is aborted after
/// the abort grace; its slot is free again (the next queued task starts)
/// once its timeout is saved.
#[test]
fn a_handler_ignoring_its_timeout_is_aborted_and_its_slot_freed() {
    let t0 = Instant::now();
    let policy = policy()
        .concurrency(1)
        .task_timeout(Some(secs(10)))
        .abort_grace(secs(2));
    let mut w = registered(policy, t0);
    let ids = task_ids(2);
    let fx = deliver(&mut w, &ids, t0);
    answer_claims(&mut w, &fx, t0);
    assert_eq!(w.queued(), 1);
    let fx = w.on_tick(t0 + secs(10));
    assert_eq!(cancels(&fx), [("task-1".to_owned(), CancelReason::Timeout)]);
    assert_eq!(w.next_wakeup().map(|at| at <= t0 + secs(12)), Some(true));
    let fx = w.on_tick(t0 + secs(12));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::AbortHandler { task_id } if task_id == "task-1")));
    // The handler is gone, but its timeout is not saved yet: the slot is
    // still taken.
    let at = t0 + secs(12);
    let fx = checked(&mut w, fx, at);
    assert!(claims(&fx).is_empty(), "the save of task-1 holds the slot");
    assert_eq!(w.running(), 1);
    // Its timeout is saved: the slot is free, the next task is taken in
    // (its read before the claim).
    let fx = w.on_response(reload("task-1"), server_copy("task-1", "executing"), at);
    let fx = saved(&mut w, fx, at);
    assert_eq!(claims(&fx), ["task-2"], "the slot is free");
    // A late end of the aborted handler changes nothing.
    let fx = w.on_handler_done("task-1", HandlerOutcome::Cancelled);
    assert!(calls(&fx).is_empty());
}

/// A second request: running handlers are cancelled and saved at once
/// (no reload, one attempt), a claim answered afterwards is released,
/// and the worker finishes without waiting for the grace.
#[test]
fn a_second_request_releases_the_unstarted_and_ends_the_drain() {
    let t0 = Instant::now();
    let mut w = registered(policy().shutdown_grace(secs(3600)), t0);
    run_to_handler(&mut w, "task-1", t0);
    deliver(&mut w, &["task-2".to_owned()], t0);
    w.begin_shutdown(t0);
    let fx = w.begin_shutdown(t0 + secs(1));
    assert_eq!(
        cancels(&fx),
        [("task-1".to_owned(), CancelReason::Shutdown)]
    );
    let sent = body(&request_of(&fx, &final_save("task-1", 1)));
    assert_eq!(sent["status"], "error");
    assert!(!calls(&fx).contains(&reload("task-1")));
    // The claim of task-2 lands after it: set back to `pending`.
    let fx = w.on_response(claim_call("task-2"), ok(), t0 + secs(1));
    assert_eq!(releases(&fx), ["task-2"]);
    assert!(started(&fx).is_empty());
    // task-1's save fails: not retried.
    let fx = w.on_response(final_save("task-1", 1), answer(503), t0 + secs(1));
    assert!(finished(&fx).is_none(), "the release is under way");
    let fx = w.on_response(release_call("task-2"), ok(), t0 + secs(1));
    let unsaved = fx.iter().find_map(|e| match e {
        Effect::Finished { unsaved, .. } => Some(unsaved.clone()),
        _ => None,
    });
    assert_eq!(unsaved, Some(vec!["task-1".to_owned()]));

    // Last calls that never answer: finished `last_calls` (2 s) later.
    let mut w = registered(policy().shutdown_grace(secs(3600)), t0);
    run_to_handler(&mut w, "task-1", t0);
    w.begin_shutdown(t0);
    w.begin_shutdown(t0);
    assert_eq!(w.next_wakeup().map(|at| at <= t0 + secs(2)), Some(true));
    let fx = w.on_tick(t0 + secs(2));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Finished { unsaved, .. } if unsaved == &["task-1".to_owned()])
    ));
}

/// Every duration of the policy, zero and the longest: no overflow, no
/// zero grace, no heartbeat flood.
#[test]
fn worker_policy_durations_zero_and_max_are_clamped() {
    let t0 = Instant::now();
    for d in [Duration::ZERO, Duration::MAX] {
        let policy = policy()
            .heartbeat_interval(d)
            .task_timeout(Some(d))
            .shutdown_grace(d)
            .shutdown_deadline(d)
            .abort_grace(d)
            .save_retries(3, d, d)
            .stream(
                StreamPolicy::default()
                    .idle_timeout(d)
                    .connect_timeout(d)
                    .initial_delay(d)
                    .max_delay(d)
                    .reset_after(d),
            );
        let mut w = registered(policy, t0);
        let p = w.policy().clone();
        assert!(p.heartbeat_interval >= MIN_HEARTBEAT_INTERVAL, "{d:?}");
        assert!(p.shutdown_grace <= p.shutdown_deadline);
        assert!(w.stream_policy().initial_delay > Duration::ZERO);
        // The next heartbeat is never now (no flood) and never overflows.
        let next = w.next_wakeup().expect("a heartbeat");
        assert!(next > t0, "{d:?}");
        let start = run_to_handler(&mut w, "task-1", t0);
        if d == Duration::MAX {
            // A deadline far away, not none and not now.
            assert!(start
                .deadline
                .is_some_and(|at| at > t0 + secs(3600 * 24 * 365)));
            w.begin_shutdown(t0);
            // The grace is not zero: nothing is cancelled a year on.
            assert!(cancels(&w.on_tick(t0 + secs(3600 * 24 * 365))).is_empty());
        } else {
            w.begin_shutdown(t0);
            let fx = w.on_tick(t0);
            assert_eq!(cancels(&fx).len(), 1, "a zero grace cancels at once");
        }
    }
}

/// The final saves keep a part of the deadline, whatever the grace.
#[test]
fn the_grace_leaves_the_final_saves_their_reserve() {
    let t0 = Instant::now();
    let cases = [
        // (grace, deadline, effective grace)
        (secs(25), secs(29), secs(25)),
        (secs(25), secs(10), secs(8)),
        (secs(3600), secs(60), secs(56)),
        (secs(1), secs(60), secs(1)),
        (Duration::ZERO, Duration::ZERO, Duration::ZERO),
    ];
    for (grace, deadline, effective) in cases {
        let policy = policy().shutdown_grace(grace).shutdown_deadline(deadline);
        let mut w = registered(policy, t0);
        assert_eq!(
            w.policy().shutdown_grace,
            effective,
            "{grace:?} {deadline:?}"
        );
        run_to_handler(&mut w, "task-1", t0);
        w.begin_shutdown(t0);
        assert!(cancels(&w.on_tick(t0 + effective)).len() == 1);
    }
}

// --- issue #23 / #18: the interleavings, step by step ----------------------------------

/// The calls of tasks (capacity updates left out).
fn task_calls(fx: &[Effect]) -> Vec<Call> {
    calls(fx)
        .into_iter()
        .filter(|c| !matches!(c, Call::Capacity { .. }))
        .collect()
}

fn check_call(task_id: &str) -> Call {
    Call::Check {
        task_id: task_id.to_owned(),
    }
}

/// Runs one task to its end: handler, reload, final save, metrics.
fn complete(w: &mut WorkerMachine, id: &str, now: Instant) {
    let start = run_to_handler(w, id, now);
    w.on_handler_done(id, handler_result(&start));
    w.on_response(reload(id), server_copy(id, "executing"), now);
    w.on_response(final_save(id, 1), ok(), now);
    w.on_response(metrics_call(id), ok(), now);
    assert_eq!(w.phase(id), None, "settled and forgotten");
}

/// Issue #23, `a_stream_dropped_mid_run_...`: the emulator's hand-back of a
/// dropped connection requeued a task whose claim was still on its way, and
/// sent it to the new connection; the frame reached the worker after it
/// had finished the task (and forgotten it). Before the read-before-claim,
/// the worker claimed it again and ran its handler a second time: with the
/// test's one gate permit per task, another task's handler then waited
/// forever ("gave up waiting for every task completed"). Now the read shows
/// the task finished: it is dropped, never claimed nor run.
#[test]
fn a_task_delivered_again_after_it_finished_is_read_and_not_run_again() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    complete(&mut w, "task-1", t0);
    // A stale frame that says so (the store's copy when it was written:
    // `executing`, or already finished): dropped at once, not even read.
    for stale in ["executing", "completed", "stopped"] {
        let mut copy = task_value("task-1");
        copy["status"] = json!(stale);
        let fx = w.on_stream_bytes(
            format!("event: agent-execution\ndata: {copy}\n\n").as_bytes(),
            t0,
        );
        assert!(calls(&fx).is_empty(), "{stale}: {fx:?}");
        assert!(notices(&fx)
            .iter()
            .any(|n| n.message.contains(&format!("delivered already `{stale}`"))));
        assert_eq!((w.running(), w.in_flight()), (0, 0));
    }
    // A stale frame still `pending` (written before the claim landed):
    // only the read tells.
    {
        let mut copy = task_value("task-1");
        copy["status"] = json!("pending");
        let fx = w.on_stream_bytes(
            format!("event: agent-execution\ndata: {copy}\n\n").as_bytes(),
            t0,
        );
        assert_eq!(task_calls(&fx), [check_call("task-1")], "only a read");
        let fx = w.on_response(check_call("task-1"), server_copy("task-1", "completed"), t0);
        assert!(claims(&fx).is_empty() && started(&fx).is_empty());
        assert!(notices(&fx)
            .iter()
            .any(|n| n.message.contains("already `completed` on the server")));
        assert_eq!((w.running(), w.in_flight()), (0, 0));
    }
}

/// Issue #18 point 1: a task stopped (or claimed by another worker) while
/// its delivery waited is not claimed: nothing is written to it.
#[test]
fn a_task_stopped_or_claimed_elsewhere_before_its_claim_is_dropped_with_a_notice() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(4), t0);
    let ids = task_ids(4);
    let fx = w.on_stream_bytes(
        ids.iter()
            .map(|id| task_event(id))
            .collect::<String>()
            .as_bytes(),
        t0,
    );
    assert_eq!(
        task_calls(&fx),
        [check_call("task-1")],
        "one slot, one read"
    );
    // task-1: stopped meanwhile. Dropped; the slot goes to task-2.
    let fx = w.on_response(check_call("task-1"), server_copy("task-1", "stopped"), t0);
    assert!(claims(&fx).is_empty());
    assert!(notices(&fx)
        .iter()
        .any(|n| n.task_id.as_deref() == Some("task-1") && n.message.contains("`stopped`")));
    assert_eq!(task_calls(&fx), [check_call("task-2")]);
    // task-2: delivered `pending`, another worker claimed it.
    let fx = w.on_response(check_call("task-2"), server_copy("task-2", "executing"), t0);
    assert!(claims(&fx).is_empty());
    assert!(notices(&fx)
        .iter()
        .any(|n| n.message.contains("delivered `pending` but `executing`")));
    // task-3: gone (404): dropped, left as the server has it.
    let fx = w.on_response(check_call("task-3"), answer(404), t0);
    assert!(claims(&fx).is_empty() && releases(&fx).is_empty());
    // task-4: the read fails (transient, after the transport's retries):
    // not claimed blind; released back to `pending` (status and result
    // only) for the dispatch to hand out again.
    let fx = w.on_response(check_call("task-4"), Err(refused()), t0);
    assert!(claims(&fx).is_empty());
    let release = request_of(&fx, &release_call("task-4"));
    let sent = body(&release);
    assert_eq!(
        sent.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["result", "status"]
    );
    assert_eq!(sent["status"], "pending");
    w.on_response(release_call("task-4"), ok(), t0);
    assert_eq!((w.running(), w.in_flight()), (0, 0));
    // The normal path next to it: still `pending` on the server: claimed.
    let fx = deliver(&mut w, &["task-5".to_owned()], t0);
    assert_eq!(claims(&fx), ["task-5"]);
}

/// A read answered after the stop began: not claimed (left to the
/// server's dispatch), and the worker finishes.
#[test]
fn a_read_answered_after_the_stop_began_does_not_claim() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = w.on_stream_bytes(task_event("task-1").as_bytes(), t0);
    assert_eq!(task_calls(&fx), [check_call("task-1")]);
    let fx = w.begin_shutdown(t0);
    assert!(finished(&fx).is_none(), "the read is still out");
    let fx = w.on_response(check_call("task-1"), server_copy("task-1", "pending"), t0);
    assert!(claims(&fx).is_empty());
    let (reason, abandoned) = finished(&fx).expect("finished");
    assert!(matches!(reason, StopReason::Shutdown));
    assert!(abandoned.is_empty());
}

/// Issue #23, `run_until_a_future_and_a_second_request_cuts_the_grace_short`:
/// the test saw the task `executing` on the server (the claim applied) and
/// asked twice to shut down before the worker had the claim's answer. The
/// claim answered after the second request: the handler never started, the
/// task is released back to `pending` (not run) and nothing is abandoned, a
/// correct report the test read as a failure. The test now waits for the handler
/// to have started; this is the order it must not assume.
#[test]
fn a_claim_answered_after_the_grace_was_cut_is_released_and_not_abandoned() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = deliver(&mut w, &["task-1".to_owned()], t0);
    assert_eq!(claims(&fx), ["task-1"]);
    w.begin_shutdown(t0);
    let fx = w.begin_shutdown(t0);
    assert!(cancels(&fx).is_empty(), "no handler runs yet");
    // The second request ends the drain: a claim answered now is not run
    // but set back to `pending` for another worker (a release of status
    // and result only), and the task is not named as abandoned.
    let fx = w.on_response(claim_call("task-1"), ok(), t0);
    assert!(started(&fx).is_empty(), "not run after the grace");
    let release = request_of(&fx, &release_call("task-1"));
    assert_eq!(body(&release)["status"], "pending");
    let fx = w.on_response(release_call("task-1"), ok(), t0);
    let (_, abandoned) = finished(&fx).expect("finished");
    assert!(abandoned.is_empty());

    // The order the test now waits for: the handler started, then the two
    // requests: it is cancelled, saved `error`, and named as abandoned.
    let mut w = registered(policy(), t0);
    run_to_handler(&mut w, "task-1", t0);
    w.begin_shutdown(t0);
    let fx = w.begin_shutdown(t0);
    assert_eq!(
        cancels(&fx),
        [("task-1".to_owned(), CancelReason::Shutdown)]
    );
    w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    let fx = w.on_response(final_save("task-1", 1), ok(), t0);
    let (_, abandoned) = finished(&fx).expect("finished");
    assert_eq!(abandoned, &["task-1".to_owned()]);
}

/// Issue #18 point 5: a burst beyond the queue sends at most
/// `MAX_SIDE_CALLS` releases at once; the rest wait, in order, and go one
/// per answer; the stop waits for all of them.
#[test]
fn a_burst_beyond_the_queue_has_at_most_the_cap_of_releases_in_flight() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(1), t0);
    let ids = task_ids(102);
    let fx = deliver(&mut w, &ids, t0);
    let first = releases(&fx);
    assert_eq!(first, ids[2..2 + MAX_SIDE_CALLS]);
    assert_eq!(w.side_calls(), (MAX_SIDE_CALLS, 100 - MAX_SIDE_CALLS));
    let fx = w.begin_shutdown(t0);
    assert!(finished(&fx).is_none());
    let mut sent = first.clone();
    let mut out: std::collections::VecDeque<String> = first.into();
    while let Some(id) = out.pop_front() {
        let fx = w.on_response(release_call(&id), ok(), t0);
        let next = releases(&fx);
        assert!(next.len() <= 1, "one answer, one more");
        assert!(w.side_calls().0 <= MAX_SIDE_CALLS);
        sent.extend(next.iter().cloned());
        out.extend(next);
    }
    assert_eq!(sent, ids[2..], "every one, in order");
    assert_eq!(w.side_calls(), (0, 0));
}

/// A task delivered again while its release is on its way is taken in only
/// once the release is answered (a claim before could be undone by the
/// release landing after it); one delivered again before its release went
/// out cancels the release.
#[test]
fn a_task_delivered_again_while_its_release_is_out_waits_for_the_answer() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(0), t0);
    let ids = task_ids(2 + MAX_SIDE_CALLS);
    let fx = deliver(&mut w, &ids, t0);
    // task-1 runs; task-2..=task-5 released (in flight), task-6 waits.
    assert_eq!(releases(&fx), ids[1..=MAX_SIDE_CALLS]);
    let last = ids.last().unwrap().clone();
    assert_eq!(w.side_calls(), (MAX_SIDE_CALLS, 1));
    // task-6 again, its release not sent: the release is dropped.
    let fx = deliver(&mut w, std::slice::from_ref(&last), t0);
    assert!(notices(&fx)
        .iter()
        .any(|n| n.message.contains("the release is not sent")));
    // (No slot: released again, after the four out: once, not twice.)
    assert_eq!(w.side_calls(), (MAX_SIDE_CALLS, 1));
    // task-2 again while its release is out: nothing yet.
    let fx = w.on_stream_bytes(task_event("task-2").as_bytes(), t0);
    assert!(task_calls(&fx).is_empty(), "{fx:?}");
    // The release answered: the next waiting release goes, and task-2 is
    // taken in now (here: no slot, so released again, in its turn).
    let fx = w.on_response(release_call("task-2"), ok(), t0);
    assert_eq!(releases(&fx), std::slice::from_ref(&last));
    assert_eq!(w.side_calls(), (MAX_SIDE_CALLS, 1));
    // A stream end forgets what was deferred, as the queue.
    let fx = w.on_stream_bytes(task_event("task-3").as_bytes(), t0);
    assert!(task_calls(&fx).is_empty());
    w.on_stream_end(Disconnect::Eof, t0);
    let fx = w.on_response(release_call("task-3"), ok(), t0);
    assert!(!task_calls(&fx).contains(&check_call("task-3")));
    assert!(!releases(&fx).contains(&"task-3".to_owned()));
}

/// A shutdown while the agent stream is reconnecting (its connection cut,
/// the worker not registered again yet) with a task running: the drain
/// still heartbeats, for the last worker id, until the task is saved (the
/// Python client's heartbeat loop outlives a disconnect too).
#[test]
fn a_shutdown_during_a_reconnect_still_heartbeats_until_the_last_save() {
    let t0 = Instant::now();
    let mut w = registered(policy().shutdown_deadline(secs(20)), t0);
    let a = run_to_handler(&mut w, "task-1", t0);
    w.on_stream_end(Disconnect::Eof, t0 + secs(1));
    w.begin_shutdown(t0 + secs(1));
    assert_eq!(heartbeats(&w.on_tick(t0 + secs(2))), ["w-1"]);
    w.on_response(heartbeat_call("w-1"), ok(), t0 + secs(2));
    w.on_handler_done("task-1", handler_result(&a));
    assert_eq!(heartbeats(&w.on_tick(t0 + secs(5))), ["w-1"]);
    w.on_response(heartbeat_call("w-1"), ok(), t0 + secs(5));
    w.on_response(
        reload("task-1"),
        server_copy("task-1", "executing"),
        t0 + secs(5),
    );
    w.on_response(final_save("task-1", 1), ok(), t0 + secs(5));
    // Saved: the heartbeats stop.
    assert!(heartbeats(&w.on_tick(t0 + secs(9))).is_empty());
}

/// Review of #18 point 1: the read before the claim must show the task is
/// still this worker's to run. A copy that was stopped by a user since the
/// delivery (the flag set, the status not yet `stopped`), or that is not
/// the task asked for (another id, another agent: a misrouted or cached
/// answer), is not claimed; nothing is written to it. A flag that was
/// already set when the task was delivered (a stopped task queued again)
/// does not keep it from running.
#[test]
fn a_read_showing_a_stop_request_or_another_task_does_not_claim() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(8), t0);
    let copy = |id: &str, edit: &dyn Fn(&mut Value)| {
        let mut value = task_value(id);
        value["started_at"] = json!("2026-11-28T03:38:31Z");
        edit(&mut value);
        Ok(crate::sans_io::answer(
            http::StatusCode::from_u16(200).unwrap(),
            None,
            value.to_string().into_bytes(),
        ))
    };
    let ids = task_ids(3);
    let fx = w.on_stream_bytes(
        ids.iter()
            .map(|id| task_event(id))
            .collect::<String>()
            .as_bytes(),
        t0,
    );
    assert_eq!(task_calls(&fx), [check_call("task-1")]);
    // task-1: still `pending`, but a user asked for its stop meanwhile.
    let fx = w.on_response(
        check_call("task-1"),
        copy("task-1", &|v| v["is_manually_stopped"] = json!(true)),
        t0,
    );
    assert!(claims(&fx).is_empty() && releases(&fx).is_empty(), "{fx:?}");
    assert_eq!(task_calls(&fx), [check_call("task-2")]);
    // task-2: the answer is another task's copy.
    let fx = w.on_response(
        check_call("task-2"),
        copy("task-2", &|v| v["id"] = json!("task-99")),
        t0,
    );
    assert!(claims(&fx).is_empty() && releases(&fx).is_empty(), "{fx:?}");
    assert_eq!(task_calls(&fx), [check_call("task-3")]);
    // task-3: the server's copy belongs to another agent now.
    let fx = w.on_response(
        check_call("task-3"),
        copy("task-3", &|v| v["agent_id"] = json!("agent-2")),
        t0,
    );
    assert!(claims(&fx).is_empty() && releases(&fx).is_empty(), "{fx:?}");
    assert_eq!((w.running(), w.in_flight()), (0, 0));
    // The normal path next to it: a task delivered already flagged (stopped
    // once, queued again) and still so on the server is claimed.
    let mut flagged = task_value("task-4");
    flagged["is_manually_stopped"] = json!(true);
    let fx = w.on_stream_bytes(
        format!("event: agent-execution\ndata: {flagged}\n\n").as_bytes(),
        t0,
    );
    assert_eq!(task_calls(&fx), [check_call("task-4")]);
    let fx = w.on_response(
        check_call("task-4"),
        copy("task-4", &|v| v["is_manually_stopped"] = json!(true)),
        t0,
    );
    assert_eq!(claims(&fx), ["task-4"]);
}

/// Review of #18 point 1: a read before the claim that fails is followed by
/// a release, and the dispatch hands the task out again at once. A task
/// whose read keeps failing (a 500 on its document: not retried by the
/// transport) made a loop at network speed, read, release, delivery,
/// forever. After [`MAX_READ_FAILURES`] failed reads in a row the task is
/// left as the server has it (nothing written); a read that succeeds
/// starts the count again.
#[test]
fn a_task_whose_read_keeps_failing_is_not_released_forever() {
    use super::intake::MAX_READ_FAILURES;
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let mut released = 0;
    for round in 0..MAX_READ_FAILURES + 3 {
        let fx = w.on_stream_bytes(task_event("task-1").as_bytes(), t0);
        assert_eq!(task_calls(&fx), [check_call("task-1")], "round {round}");
        let fx = w.on_response(check_call("task-1"), answer(500), t0);
        assert!(claims(&fx).is_empty());
        if releases(&fx).is_empty() {
            assert!(notices(&fx)
                .iter()
                .any(|n| n.message.contains("failed") && n.message.contains("in a row")));
        } else {
            released += 1;
            w.on_response(release_call("task-1"), ok(), t0);
        }
        assert_eq!((w.running(), w.in_flight()), (0, 0), "round {round}");
    }
    assert_eq!(released, MAX_READ_FAILURES - 1);
    // A read that succeeds clears the count: a later failure is released.
    complete(&mut w, "task-1", t0);
    let fx = w.on_stream_bytes(task_event("task-1").as_bytes(), t0);
    assert_eq!(task_calls(&fx), [check_call("task-1")]);
    let fx = w.on_response(check_call("task-1"), answer(503), t0);
    assert_eq!(releases(&fx), ["task-1"]);
}

/// The normal path next to the one above: a lax copy without an agent id
/// (an empty one) is not another agent's task: claimed.
#[test]
fn a_read_copy_without_an_agent_id_is_still_claimed() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = w.on_stream_bytes(task_event("task-1").as_bytes(), t0);
    assert_eq!(task_calls(&fx), [check_call("task-1")]);
    let mut value = task_value("task-1");
    value["agent_id"] = json!("");
    let copy = Ok(crate::sans_io::answer(
        http::StatusCode::from_u16(200).unwrap(),
        None,
        value.to_string().into_bytes(),
    ));
    let fx = w.on_response(check_call("task-1"), copy, t0);
    assert_eq!(claims(&fx), ["task-1"]);
}

/// A final save given up (a client error) frees the slot: the queued task
/// starts and the worker tells the server it is free again; the give-up
/// is an error notice. At no point does the worker hold more than its slots.
#[test]
fn a_given_up_final_save_frees_the_slot_and_starts_the_next_task() {
    let t0 = Instant::now();
    let mut w = registered(policy().concurrency(1).queue_capacity(4), t0);
    let fx = deliver(&mut w, &task_ids(2), t0);
    assert_eq!(capacity(&fx), [(1, true)]);
    w.on_response(capacity_call("w-1", 1, true), ok(), t0);
    let fx = answer_claims(&mut w, &fx, t0);
    let start = started(&fx)[0];
    let fx = w.on_handler_done("task-1", handler_result(start));
    assert_eq!(w.running(), 1);
    let fx = checked(&mut w, fx, t0);
    assert!(claims(&fx).is_empty());
    let fx = w.on_response(reload("task-1"), server_copy("task-1", "executing"), t0);
    assert!(calls(&fx).contains(&final_save("task-1", 1)));
    assert_eq!(w.running(), 1, "the save holds the slot");
    let fx = w.on_response(final_save("task-1", 1), answer(422), t0);
    assert!(notices(&fx)
        .iter()
        .any(|n| n.level == Level::Error && n.message.contains("gave up saving")));
    let fx = checked(&mut w, fx, t0);
    assert_eq!(claims(&fx), ["task-2"], "the given-up save freed the slot");
    assert_eq!(w.running(), 1);
    assert!(w.is_busy());
    // task-2 ends and is saved: the worker is free, and says so.
    let fx = w.on_response(claim_call("task-2"), ok(), t0);
    let fx = w.on_handler_done("task-2", handler_result(started(&fx)[0]));
    assert!(capacity(&fx).is_empty(), "busy until task-2 is saved");
    let fx = saved(&mut w, fx, t0);
    assert_eq!(capacity(&fx), [(2, false)]);
    assert_eq!(w.running(), 0);
}

fn answer_json(value: &Value) -> Result<HttpResponse, Error> {
    Ok(crate::sans_io::answer(
        http::StatusCode::OK,
        None,
        value.to_string().into_bytes(),
    ))
}

/// A delivery without its agent: the read before the claim answers a task
/// of another agent; it is not claimed (the worker compares with its own
/// agent, not with the delivered copy's).
#[test]
fn a_delivery_without_its_agent_that_reads_as_another_agents_task_is_not_claimed() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let fx = w.on_stream_bytes(
        b"event: agent-execution\ndata: {\"id\": \"task-b\", \"status\": \"pending\"}\n\n",
        t0,
    );
    assert!(calls(&fx).contains(&Call::Check {
        task_id: "task-b".to_owned()
    }));
    let mut theirs = task_value("task-b");
    theirs["agent_id"] = json!("agent-other");
    let fx = w.on_response(
        Call::Check {
            task_id: "task-b".to_owned(),
        },
        answer_json(&theirs),
        t0,
    );
    assert!(claims(&fx).is_empty(), "{fx:?}");
    assert!(started(&fx).is_empty());
    assert_eq!(w.running(), 0);
}

/// A truncated delivery (only an id and a status): the handler runs on the
/// server's whole copy read before the claim, credentials taken out.
#[test]
fn a_truncated_delivery_runs_on_the_servers_whole_copy() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    w.on_stream_bytes(
        b"event: agent-execution\ndata: {\"id\": \"task-t\", \"status\": \"pending\"}\n\n",
        t0,
    );
    let fx = w.on_response(
        Call::Check {
            task_id: "task-t".to_owned(),
        },
        server_copy("task-t", "pending"),
        t0,
    );
    assert_eq!(claims(&fx), ["task-t"]);
    let fx = w.on_response(claim_call("task-t"), ok(), t0);
    let start = started(&fx)[0];
    assert_eq!(start.task.agent_id, "agent-1");
    assert_eq!(start.task.organization_id, "org-1");
    assert_eq!(start.task.input.text, "do task-t");
    assert!(start
        .task
        .payload_extension
        .as_ref()
        .is_some_and(|e| e.get("llm_gateway").is_none()));
    assert_eq!(
        start.llm_gateway.as_ref().and_then(|g| g.token()),
        Some("run-token")
    );
}

/// An integer id is read as its decimal text, as `Tasks::get` reads it:
/// the task is taken; a float or a list is not addressable.
#[test]
fn an_integer_id_is_taken_and_a_float_id_is_not() {
    let t0 = Instant::now();
    let mut w = registered(policy(), t0);
    let mut value = task_value("x");
    value["id"] = json!(42);
    let fx = w.on_stream_bytes(
        format!("event: agent-execution\ndata: {value}\n\n").as_bytes(),
        t0,
    );
    assert!(calls(&fx).contains(&Call::Check {
        task_id: "42".to_owned()
    }));
    for odd in [json!(4.5), json!(["x"])] {
        value["id"] = odd;
        let fx = w.on_stream_bytes(
            format!("event: agent-execution\ndata: {value}\n\n").as_bytes(),
            t0,
        );
        assert!(
            calls(&fx).iter().all(|c| !matches!(c, Call::Check { .. })),
            "{fx:?}"
        );
    }
}
