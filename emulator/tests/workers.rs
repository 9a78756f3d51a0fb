//! The agent stream's registration, worker events, the control routes of
//! the agent side, and the faults of the agent stream (conflict, malformed
//! tasks, mid-stream faults).

mod common;

use common::agent::*;
use common::sse::{wait_held, Sse};
use common::*;
use serde_json::{json, Value};
use xpander_emulator::{ApiKeyCheck, Fault, MalformedFrame, REDACTED};

#[test]
fn each_connection_registers_a_new_worker_with_the_contracts_record() {
    let emu = emu();
    let mut w = RawWorker::connect(&emu, "agent-1");
    let sse = &w.sse;
    assert_eq!(sse.head.status, 200);
    assert_eq!(sse.head.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse.head.header("cache-control"), Some("no-store"));
    let r = &w.registration;
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "configuration",
            "created_at",
            "created_by",
            "dedicated_agent_id",
            "id",
            "is_busy",
            "last_heartbeat",
            "metadata",
            "name",
            "organization_id",
            "parent_asset_id",
            "type"
        ]
    );
    assert_eq!(r["type"], "worker");
    assert_eq!(r["organization_id"], "org-1", "the URL's org segment");
    assert_eq!(r["dedicated_agent_id"], "agent-1");
    assert_eq!(r["is_busy"], false);
    assert_eq!(r["name"], format!("worker-{}", w.id));
    for k in ["created_at", "last_heartbeat"] {
        assert!(r[k].as_str().unwrap().ends_with('Z'), "{k}: RFC 3339 UTC");
    }
    for k in ["created_by", "parent_asset_id", "configuration"] {
        assert!(r[k].is_null(), "{k}");
    }
    assert!(r["metadata"]["name"].is_string() && r["metadata"]["unique_name"].is_string());

    let info = worker(&emu, &w.id);
    assert!(info.connected && info.supports_llm_gateway);
    assert_eq!(
        (info.environment.as_str(), info.organization_id.as_str()),
        ("local", "org-1")
    );
    assert_eq!(info.registered_at, r["created_at"]);

    // Without the trailing slash, and in the cloud: another worker.
    let cloud = RawWorker::open(&emu, "/org-1/events/agent-1?environment=xpander");
    assert_ne!(cloud.id, w.id);
    let info = worker(&emu, &cloud.id);
    assert_eq!(info.environment, "xpander");
    assert!(!info.supports_llm_gateway);
    expect_nothing_else(&emu, "agent-1", &mut [&mut w]);

    // The request log has the stream requests, the key redacted.
    let log = emu.requests();
    assert_eq!(log[0].path, agent_path("agent-1"));
    assert_eq!(log[0].header("x-api-key"), Some(REDACTED));
    assert_eq!(log[0].api_key, ApiKeyCheck::Valid);
}

#[test]
fn agent_stream_errors_come_before_any_stream_byte() {
    let emu = emu();
    let status = |path: &str, key: Option<&str>| {
        let mut c = Conn::open(&emu);
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        c.send("GET", path, &headers, None);
        let r = c.answer();
        assert_eq!(r.header("content-type"), Some("application/json"));
        (r.status, r.json())
    };
    assert_eq!(status(&agent_path("a"), None).0, 401);
    assert_eq!(status(&agent_path("a"), Some("wrong")).0, 401);
    let (s, body) = status("/org-1/events/a/", Some(emu.api_key()));
    assert_eq!(
        (s, body["detail"][0]["loc"].clone()),
        (422, json!(["query", "environment"]))
    );
    assert_eq!(
        status("/org-1/events/a/?environment=mars", Some(emu.api_key())).0,
        422
    );
    assert_eq!(
        status("/org-1/events//?environment=local", Some(emu.api_key())).0,
        404
    );
    assert_eq!(
        status("/org-1/events/a/b/?environment=local", Some(emu.api_key())).0,
        404
    );
    let r = call(&emu, "DELETE", &agent_path("a"), None);
    assert_eq!(r.status, 405);
    assert!(emu.workers().is_empty(), "no worker without a stream");
}

#[test]
fn heartbeats_and_capacity_updates_are_recorded_in_order() {
    let emu = emu();
    let w = RawWorker::connect(&emu, "agent-1");
    let ok = |event: &str, data: Value| {
        let r = post_event(&emu, &w.id, "agent-1", event, data);
        assert_eq!((r.status, r.json()), (200, json!({"ok": true})), "{event}");
    };
    ok("worker-heartbeat", json!("2026-11-28T03:35:49.192026"));
    ok("worker-capacity-update", json!({"is_busy": true}));
    ok("worker-heartbeat", json!("2026-11-28T03:35:51Z"));
    for busy in [false, false, true, false] {
        ok("worker-capacity-update", json!({ "is_busy": busy }));
    }
    let info = worker(&emu, &w.id);
    assert_eq!(info.heartbeats, 2);
    assert_eq!(info.last_heartbeat, Some(json!("2026-11-28T03:35:51Z")));
    assert!(info.last_heartbeat_at.is_some());
    assert_eq!(info.capacity_updates, [true, false, false, true, false]);
    assert!(!info.is_busy && !info.finished);
    ok("worker-finished", json!({}));
    assert!(worker(&emu, &w.id).finished);

    let listed = call(&emu, "GET", "/__emulator/workers", None).json();
    assert_eq!(listed[0]["id"], w.id.as_str());
    assert_eq!(listed[0]["heartbeats"], 2);
    assert_eq!(
        listed[0]["capacity_updates"],
        json!([true, false, false, true, false])
    );
    assert_eq!(listed[0]["connected"], true);
    assert_eq!(listed[0], worker(&emu, &w.id).to_json());
}

#[test]
fn worker_events_are_validated_and_unknown_workers_are_404() {
    let emu = emu();
    let w = RawWorker::connect(&emu, "agent-1");
    let beat = json!("2026-11-28T03:35:49Z");
    let r = post_event(&emu, "nobody", "agent-1", "worker-heartbeat", beat.clone());
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"detail": "Worker nobody not found"}))
    );
    let r = post_event(&emu, &w.id, "agent-2", "worker-heartbeat", beat.clone());
    assert_eq!(r.status, 404, "a worker of another agent");
    let loc = |r: Response| (r.status, detail_loc(&r));
    let bad_busy = post_event(
        &emu,
        &w.id,
        "agent-1",
        "worker-capacity-update",
        json!({"is_busy": "yes"}),
    );
    assert_eq!(
        loc(bad_busy),
        (422, vec![json!("body"), json!("data"), json!("is_busy")])
    );
    let unknown = post_event(&emu, &w.id, "agent-1", "worker-dance", json!({}));
    assert_eq!(loc(unknown), (422, vec![json!("body"), json!("event")]));
    let path = format!("/org-1/events/{}?agent_id=agent-1", w.id);
    let body = json!({"id": "x", "event": "worker-heartbeat", "data": beat});
    let r = call(&emu, "POST", &path, Some(body.clone()));
    assert_eq!(loc(r), (422, vec![json!("query"), json!("type")]));
    let path = format!("/org-1/events/{}?type=worker&agent_id=agent-1", w.id);
    let r = call(
        &emu,
        "POST",
        &path,
        Some(json!({"event": "worker-heartbeat", "data": null})),
    );
    assert_eq!(loc(r), (422, vec![json!("body"), json!("id")]));
    assert_eq!(worker(&emu, &w.id).heartbeats, 0, "nothing recorded");
    let r = call(&emu, "POST", &path, Some(body));
    assert_eq!(r.status, 200);
}

#[test]
fn a_conflict_and_raw_events_reach_the_agents_streams() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let mut b = RawWorker::connect(&emu, "agent-1");
    let msg = "agent already served by a worker in another environment";
    assert_eq!(emu.send_conflict("agent-1", msg), 2);
    for w in [&mut a, &mut b] {
        let c = w.expect("worker-environment-conflict");
        assert_eq!(c.json(), json!({ "error": msg }));
    }
    assert_eq!(emu.send_conflict("agent-9", msg), 0);

    // The same over HTTP: the body is the event's data, verbatim.
    let ctl = |path: &str, body: &[u8]| {
        let mut c = Conn::open(&emu);
        c.send("POST", path, &[], Some(body));
        c.answer().json()
    };
    let n = ctl(
        "/__emulator/agents/agent-1/conflict",
        br#"{"error": "over http", "x": 1}"#,
    );
    assert_eq!(n, json!({"streams": 2}));
    assert_eq!(
        a.expect("worker-environment-conflict").data.as_deref(),
        Some(r#"{"error": "over http", "x": 1}"#)
    );
    b.expect("worker-environment-conflict");
    let n = ctl(
        "/__emulator/agents/agent-1/event?name=some-unknown-event",
        b"{\"hello\": 1}",
    );
    assert_eq!(n, json!({"streams": 2}));
    assert_eq!(a.expect("some-unknown-event").json(), json!({"hello": 1}));
    b.expect("some-unknown-event");
}

#[test]
fn malformed_task_events_are_sent_as_given_to_one_worker() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let mut b = RawWorker::connect(&emu, "agent-1");
    let no_created_at =
        r#"{"id":"task-bad","agent_id":"agent-1","organization_id":"org-1","input":{"text":"x"}}"#;
    assert_eq!(
        emu.dispatch_raw("agent-1", no_created_at),
        Some(a.id.clone())
    );
    assert_eq!(
        a.expect("agent-execution").data.as_deref(),
        Some(no_created_at)
    );
    assert_eq!(emu.dispatch_raw("agent-1", "{not json"), Some(b.id.clone()));
    assert_eq!(
        b.expect("agent-execution").data.as_deref(),
        Some("{not json")
    );
    assert!(
        emu.deliveries("task-bad").is_empty(),
        "not a task of the emulator"
    );
    // Round-robin goes on with the real tasks.
    let t = create(&emu, "agent-1", "good");
    assert_eq!(a.next_task()["id"], t.as_str());
    let mut c = Conn::open(&emu);
    c.send(
        "POST",
        "/__emulator/agents/agent-1/dispatch",
        &[],
        Some(b"[]"),
    );
    assert_eq!(c.answer().json(), json!({"worker": b.id}));
    assert_eq!(b.expect("agent-execution").data.as_deref(), Some("[]"));
    assert_eq!(emu.dispatch_raw("agent-9", "{}"), None);
}

#[test]
fn mid_stream_faults_work_on_the_agent_stream() {
    let emu = emu();
    let pattern = "/org-1/events/agent-1/";
    // Malformed frames after the registration: a cut-off task, an unnamed event.
    emu.inject(Fault::on("GET", pattern).malformed_after(1, MalformedFrame::NotJson));
    let mut w = RawWorker::connect(&emu, "agent-1");
    let bad = w.expect("agent-execution");
    assert!(serde_json::from_str::<Value>(bad.data.as_deref().unwrap()).is_err());
    let t = create(&emu, "agent-1", "after");
    assert_eq!(w.next_task()["id"], t.as_str(), "the stream goes on");
    assert_eq!(
        set_status(&emu, &t, "executing").status,
        200,
        "claimed: not sent again"
    );
    drop(w);

    emu.inject(Fault::on("GET", pattern).malformed_after(1, MalformedFrame::NoType));
    let mut w = RawWorker::connect(&emu, "agent-1");
    let unnamed = w.sse.next_event().unwrap();
    assert_eq!(unnamed.event, None);
    assert_eq!(unnamed.json()["dedicated_agent_id"], "agent-1");
    drop(w);
    // The next task must go to the next stream, not to one whose hang-up
    // the emulator has not noticed yet.
    wait_for(&emu, "the hang-ups noticed", |e| {
        e.workers().iter().all(|w| !w.connected)
    });

    // A stall after the registration: tasks wait in the stream, then come.
    emu.inject(Fault::on("GET", pattern).stall_after(1));
    let mut w = RawWorker::connect(&emu, "agent-1");
    wait_held(&emu, 1);
    let t = create(&emu, "agent-1", "stalled");
    assert_eq!(emu.deliveries(&t), [w.id.clone()]);
    assert!(w.sse.quiet_for(std::time::Duration::from_millis(50)));
    emu.release(1);
    assert_eq!(w.next_task()["id"], t.as_str());

    // Request-level faults on the stream's request, as the runtime saw them.
    emu.inject(
        Fault::on("GET", pattern)
            .times(5)
            .respond(503, json!({"detail": "down"})),
    );
    let r = Sse::request(&emu, &agent_path("agent-1"), &[])
        .err()
        .unwrap();
    assert_eq!(r.status, 503);
}

#[test]
fn the_invoke_servers_calls_are_answered_and_the_callers_key_is_not_logged() {
    let emu = emu();
    seed(&emu, json!({"id": "t", "agent_id": "agent-seeded"}));
    let _w = RawWorker::connect(&emu, "agent-1");
    let allowed = call(
        &emu,
        "POST",
        "/metadata/api_key_allowance",
        Some(json!({"api_key": emu.api_key()})),
    );
    assert_eq!(
        allowed.json(),
        json!({"agent_ids": ["agent-1", "agent-seeded"]})
    );
    let other = call(
        &emu,
        "POST",
        "/metadata/api_key_allowance",
        Some(json!({"api_key": "caller-key-x"})),
    );
    assert_eq!(other.json(), json!({"agent_ids": []}));
    assert_eq!(
        call(&emu, "POST", "/metadata/api_key_allowance", Some(json!({}))).status,
        422
    );
    let route = call(&emu, "POST", "/agents/agent-1/llm-gateway-route/t", None);
    assert_eq!(route.status, 404);
    let log =
        serde_json::to_string(&call(&emu, "GET", "/__emulator/requests", None).json()).unwrap();
    assert!(
        !log.contains("caller-key-x") && !log.contains(emu.api_key()),
        "{log}"
    );
    assert!(emu
        .requests()
        .iter()
        .all(|r| !r.body.contains("caller-key-x")));
}
