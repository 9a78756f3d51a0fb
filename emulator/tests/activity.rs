//! The activity log built from what happened, the answers a test sets
//! verbatim, the event push route, and the metrics reports.

mod common;

use common::*;
use serde_json::{json, Value};
use xpander_emulator::Emulator;

fn envelope(task: &str, kind: &str, data: Value) -> Value {
    json!({"type": kind, "task_id": task, "organization_id": "org-1",
           "time": "2025-06-01T12:00:02Z", "data": data, "identity": null})
}

fn push(emu: &Emulator, task: &str, body: Value) -> Response {
    call(
        emu,
        "POST",
        &format!("/agent-execution/{task}/events/push"),
        Some(body),
    )
}

#[test]
fn the_activity_log_is_built_from_create_pushed_events_and_the_finish() {
    let emu = emu();
    let user = json!({"email": "jane@example.com", "first_name": "Jane"});
    let body = json!({"input": {"text": "Summarize the quarterly report", "files": ["a.txt"], "user": user}});
    let task = call(&emu, "POST", "/agent-execution/agent-1", Some(body)).json();
    let id = task["id"].as_str().unwrap();
    let events = json!([
        envelope(
            id,
            "tool_call_request",
            json!({"request_id": "rq1", "operation_id": "op1",
            "tool_name": "web_search", "payload": {"q": "q2 revenue"},
            "reasoning": {"title": "Need numbers", "description": "look up revenue"}})
        ),
        envelope(id, "chunk", json!("Hel")),
        envelope(
            id,
            "tool_call_result",
            json!({"request_id": "rq1", "operation_id": "op1",
            "tool_name": "web_search", "payload": {"q": "q2 revenue"}, "result": {"hits": 3},
            "is_error": false})
        ),
        envelope(
            id,
            "think",
            json!({"title": "Plan", "confidence": 0.8, "thought": "gather data"})
        ),
        envelope(
            id,
            "auth_event",
            json!({"type": "login_required", "data": {"url": "https://l",
            "server_url": "https://mcp", "server_name": "mcp"}})
        ),
    ]);
    assert_eq!(push(&emu, id, events).json()["ids"], json!([2, 3, 4, 5, 6]));
    let done = json!({"status": "completed", "result": "Revenue grew 12%."});
    call(
        &emu,
        "PATCH",
        &format!("/agent-execution/{id}/update"),
        Some(done),
    );

    let r = call(&emu, "GET", &format!("/activity/agent-1/{id}"), None);
    assert_eq!(r.status, 200);
    let thread = r.json();
    assert_eq!(thread["id"], id);
    assert_eq!(thread["created_at"], task["created_at"]);
    assert_eq!(thread["user"], user);
    let m = thread["messages"].as_array().unwrap();
    assert_eq!(m.len(), 5, "{thread:#}");
    for e in m {
        assert!(e["id"].is_string() && e["created_at"].is_string(), "{e}");
    }
    assert_eq!(m[0]["role"], "user");
    assert_eq!(
        m[0]["content"],
        json!({"text": "Summarize the quarterly report", "files": ["a.txt"]})
    );
    assert_eq!(m[0]["user"], user);
    assert_eq!(m[1]["tool_name"], "web_search");
    assert_eq!(m[1]["payload"], json!({"q": "q2 revenue"}));
    assert_eq!(m[1]["result"], json!({"hits": 3}));
    assert_eq!(m[1]["is_error"], false);
    assert_eq!(m[1]["reasoning"]["title"], "Need numbers");
    assert_eq!(m[1]["created_at"], "2025-06-01T12:00:02Z");
    assert_eq!(
        (m[2]["type"].as_str(), m[2]["title"].as_str()),
        (Some("think"), Some("Plan"))
    );
    assert_eq!(m[2]["confidence"], 0.8);
    assert_eq!(m[3]["type"], "login_required");
    assert_eq!(m[3]["data"]["server_name"], "mcp");
    assert_eq!(m[4]["role"], "agent");
    assert_eq!(m[4]["content"]["text"], "Revenue grew 12%.");
    assert_eq!(emu.activity(id), Some(thread));
}

#[test]
fn the_activity_log_404s_and_serves_what_a_test_sets_verbatim() {
    let emu = emu();
    seed(
        &emu,
        json!({"id": "t1", "agent_id": "agent-1", "status": "executing"}),
    );
    assert_eq!(
        call(&emu, "GET", "/activity/agent-1/nope", None).status,
        404
    );
    assert_eq!(
        call(&emu, "GET", "/activity/agent-2/t1", None).status,
        404,
        "another agent's"
    );
    assert_eq!(
        call(&emu, "GET", "/activity/t1/agent-1", None).status,
        404,
        "agent first"
    );
    let mut c = Conn::open(&emu);
    c.send("GET", "/activity/agent-1/t1", &[], None);
    assert_eq!(c.answer().status, 401);
    let built = call(&emu, "GET", "/activity/agent-1/t1", None).json();
    assert_eq!(
        built["messages"],
        json!([]),
        "a seeded task has no input message"
    );

    let set = |ct: &str, body: &[u8]| {
        let mut c = Conn::open(&emu);
        let len = body.len().to_string();
        let headers = [("content-type", ct), ("content-length", len.as_str())];
        c.send("PUT", "/__emulator/activity/t1", &headers, None);
        c.send_raw(body);
        assert_eq!(c.answer().status, 200);
        call(&emu, "GET", "/activity/agent-1/t1", None)
    };
    for (ct, body) in [
        ("application/json", &b"{\"id\": \"t1\"}"[..]),
        ("application/json", b"null"),
        ("application/json", b""),
        ("application/json", b"{not json"),
        ("text/plain", b"plain words"),
    ] {
        let r = set(ct, body);
        assert_eq!((r.status, r.header("content-type")), (200, Some(ct)));
        assert_eq!(r.body, body);
    }
    emu.set_activity_raw("other", "text/plain", "for any task");
    assert_eq!(
        call(&emu, "GET", "/activity/x/other", None).body,
        b"for any task"
    );
    let r = Conn::open(&emu).call(&emu, "DELETE", "/__emulator/activity/t1", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        call(&emu, "GET", "/activity/agent-1/t1", None).json(),
        built
    );
}

#[test]
fn the_push_route_takes_an_array_of_envelopes_only() {
    let emu = emu();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    let loc = |r: &Response| (r.status, detail_loc(r));
    let r = push(&emu, "t1", json!(envelope("t1", "chunk", json!("x"))));
    assert_eq!(loc(&r), (422, vec![json!("body")]));
    assert_eq!(r.json()["detail"][0]["type"], "list_type");
    assert_eq!(
        loc(&push(&emu, "t1", json!([1]))),
        (422, vec![json!("body"), json!("0")])
    );
    let mut untyped = envelope("t1", "chunk", json!("x"));
    untyped.as_object_mut().unwrap().remove("type");
    let r = push(
        &emu,
        "t1",
        json!([envelope("t1", "chunk", json!("x")), untyped]),
    );
    assert_eq!(
        loc(&r),
        (422, vec![json!("body"), json!("1"), json!("type")])
    );
    let mut no_data = envelope("t1", "chunk", json!("x"));
    no_data.as_object_mut().unwrap().remove("data");
    let r = push(&emu, "t1", json!([no_data]));
    assert_eq!(r.json()["detail"][0]["type"], "missing");
    assert_eq!(
        push(&emu, "t1", json!([envelope("t1", "x", Value::Null)])).status,
        200,
        "data null, a new kind"
    );
    assert_eq!(
        call_raw_body(&emu, "POST", "/agent-execution/t1/events/push", b"[").status,
        422
    );
    assert_eq!(push(&emu, "nope", json!([])).status, 404);
    assert_eq!(
        call(&emu, "GET", "/agent-execution/t1/events/push", None).status,
        405
    );
    assert_eq!(emu.events("t1").len(), 2, "created, and the one valid push");

    // The control routes: read and push events without a key.
    let mut c = Conn::open(&emu);
    let r = c.call(
        &emu,
        "POST",
        "/__emulator/events/t1",
        Some(&json!({"odd": true})),
    );
    assert_eq!(r.json(), json!({"ids": [3]}));
    let listed = c.call(&emu, "GET", "/__emulator/events/t1", None).json();
    assert_eq!(listed[2], json!({"id": 3, "event": {"odd": true}}));
    assert_eq!(
        c.call(&emu, "GET", "/__emulator/events/nope", None).status,
        404
    );
    let r = c.call(&emu, "PATCH", "/__emulator/tasks/nope", Some(&json!({})));
    assert_eq!(r.status, 404);
    assert_eq!(
        c.call(&emu, "PATCH", "/__emulator/tasks/t1", Some(&json!([])))
            .status,
        422
    );
    assert!(emu.push_event("nope", json!({})).is_err());
    let err = emu.update_task("nope", json!({})).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

/// The body the official client sent (SPEC-events.md §5).
fn metrics_body() -> Value {
    json!({"execution_id": "task-1", "source": "sdk", "sub_executions": [],
        "memory_thread_id": "task-1", "task": "Summarize the quarterly report",
        "triggered_by": "N/A", "skills": [], "status": "executing", "internal_status": "phase-2",
        "duration": 0.0, "ai_model": "xpander", "worker": null, "ai_employee_id": null,
        "api_calls_made": ["web_search", "fetch_page"], "result": "Revenue grew 12%.",
        "llm_tokens": {
            "inner": {"completion_tokens": 0, "prompt_tokens": 0, "cache_read_tokens": 0,
                      "cache_write_tokens": 0, "total_tokens": 0},
            "worker": {"completion_tokens": 120, "prompt_tokens": 30, "cache_read_tokens": 0,
                       "cache_write_tokens": 0, "total_tokens": 150}}})
}

#[test]
fn metrics_reports_are_validated_and_stored_in_order() {
    let emu = emu();
    let path = "/agents-metrics/agent-1/execution";
    assert_eq!(call(&emu, "POST", path, Some(metrics_body())).status, 200);
    let mut second = metrics_body();
    second["execution_id"] = json!("task-2");
    second["result"] = Value::Null;
    for k in ["cache_read_tokens", "cache_write_tokens"] {
        second["llm_tokens"]["worker"]
            .as_object_mut()
            .unwrap()
            .remove(k);
    }
    let r = call(
        &emu,
        "POST",
        "/agents-metrics/agent-2/execution",
        Some(second.clone()),
    );
    assert_eq!(
        r.status, 200,
        "the older client's body (no cache counts, null result)"
    );

    let cases: [(&str, Value, &[&str], &str); 7] = [
        ("source", Value::Null, &["body", "source"], "string_type"),
        (
            "execution_id",
            json!(1),
            &["body", "execution_id"],
            "string_type",
        ),
        ("status", json!(["x"]), &["body", "status"], "string_type"),
        (
            "ai_model",
            json!(false),
            &["body", "ai_model"],
            "string_type",
        ),
        (
            "llm_tokens",
            json!("x"),
            &["body", "llm_tokens"],
            "dict_type",
        ),
        ("duration", json!("0"), &["body", "duration"], "float_type"),
        (
            "skills",
            json!([1]),
            &["body", "skills", "0"],
            "string_type",
        ),
    ];
    for (field, value, loc, typ) in cases {
        let mut body = metrics_body();
        body[field] = value;
        let r = call(&emu, "POST", path, Some(body));
        assert_eq!(r.status, 422, "{field}");
        assert_eq!(
            detail_loc(&r),
            loc.iter().map(|s| json!(s)).collect::<Vec<_>>()
        );
        assert_eq!(r.json()["detail"][0]["type"], typ, "{field}");
    }
    for field in [
        "execution_id",
        "source",
        "status",
        "ai_model",
        "llm_tokens",
        "result",
    ] {
        let mut body = metrics_body();
        body.as_object_mut().unwrap().remove(field);
        let r = call(&emu, "POST", path, Some(body));
        assert_eq!(
            (r.status, r.json()["detail"][0]["type"].clone()),
            (422, json!("missing"))
        );
        assert_eq!(detail_loc(&r), [json!("body"), json!(field)]);
    }
    let mut body = metrics_body();
    body["llm_tokens"]["worker"]["total_tokens"] = json!(1.5);
    let r = call(&emu, "POST", path, Some(body));
    let want = ["body", "llm_tokens", "worker", "total_tokens"].map(|s| json!(s));
    assert_eq!((r.status, detail_loc(&r)), (422, want.to_vec()));
    assert_eq!(call(&emu, "POST", path, Some(json!([]))).status, 422);
    assert_eq!(call(&emu, "GET", path, None).status, 405);

    let stored = emu.metrics_reports();
    assert_eq!(stored.len(), 2, "422s are not stored");
    assert_eq!(
        (stored[0].agent_id.as_str(), &stored[0].report),
        ("agent-1", &metrics_body())
    );
    assert_eq!(
        (stored[1].agent_id.as_str(), &stored[1].report),
        ("agent-2", &second)
    );
    let mut c = Conn::open(&emu);
    let listed = c.call(&emu, "GET", "/__emulator/metrics", None).json();
    assert_eq!(listed[1], json!({"agent_id": "agent-2", "report": second}));
    assert_eq!(
        c.call(&emu, "DELETE", "/__emulator/metrics", None).status,
        200
    );
    assert!(emu.metrics_reports().is_empty());
    call(&emu, "POST", path, Some(metrics_body()));
    emu.reset();
    assert!(emu.metrics_reports().is_empty(), "reset clears them");
}
