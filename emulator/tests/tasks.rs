//! The Tasks API's semantics over loopback: create, get, update, save, stop,
//! list and report, as the service answers them.

mod common;

use common::*;
use serde_json::{json, Value};
use xpander_emulator::Emulator;

// ---------- Tasks API semantics ----------

#[test]
fn create_get_update_stop_round_trip() {
    let emu = Emulator::builder()
        .api_key("k")
        .organization_id("org-x")
        .start()
        .unwrap();
    let mut c = Conn::open(&emu);
    let body = serde_json::to_vec(&json!({
        "id": null, "input": {"text": "Hello!", "files": [], "user": {"id": "u-1"}},
        "title": "greet", "source": null, "think_mode": "harder", "output_format": null,
        "payload_extension": {"a": 1}, "run_locally": false, "worker_id": null
    }))
    .unwrap();
    c.send(
        "POST",
        "/agent-execution/agent-123",
        &[("x-api-key", "k"), ("x-agent-version", "7")],
        Some(&body),
    );
    let r = c.answer();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let t = r.json();
    assert_full_task(&t);
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "uuid-like id: {id}");
    assert_eq!(t["agent_id"], "agent-123");
    assert_eq!(t["organization_id"], "org-x");
    assert_eq!(t["status"], "pending");
    assert_eq!(t["agent_version"], "7");
    assert_eq!(t["title"], "greet");
    assert_eq!(t["think_mode"], "harder");
    assert_eq!(t["output_format"], "text");
    assert_eq!(t["payload_extension"], json!({"a": 1}));
    assert_eq!(t["input"]["text"], "Hello!");
    assert_eq!(t["input"]["user"]["id"], "u-1");
    assert!(t.get("run_locally").is_none());
    let created = t["created_at"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2026-11-20T10:00:00.123456Z".len(),
        "{created}"
    );
    assert!(created.ends_with('Z') && created.as_bytes()[10] == b'T');

    let g = c.call(&emu, "GET", &format!("/agent-execution/{id}/status"), None);
    assert_eq!(g.status, 200);
    assert_eq!(g.json(), t);

    let u = c.call(
        &emu,
        "PATCH",
        &format!("/agent-execution/{id}/update"),
        Some(&json!({"status": "completed", "result": "Done"})),
    );
    assert_eq!(u.status, 200);
    let u = u.json();
    assert_full_task(&u);
    assert_eq!(u["status"], "completed");
    assert_eq!(u["result"], "Done");
    assert_eq!(u["title"], "greet");

    let s = c.call(&emu, "DELETE", &format!("/agent-execution/{id}"), None);
    assert_eq!(s.status, 200);
    let s = s.json();
    assert_full_task(&s);
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["is_manually_stopped"], true);
    assert_eq!(emu.task(&id).unwrap()["status"], "stopped");
    assert_eq!(emu.tasks().len(), 1);
    // All of that went over one keep-alive connection.
    assert_eq!(emu.connections_accepted(), 1);
}

#[test]
fn update_applies_only_the_fields_sent() {
    let emu = emu();
    seed(&emu, recorder_task());
    let p = "/agent-execution/task_xyz/update";
    let r = call(
        &emu,
        "PATCH",
        p,
        Some(json!({"tool_call_payload_extension": {"headers": {"X-Trace-ID": "abc"}}})),
    );
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(
        t["payload_extension"],
        json!({"headers": {"X-Trace-ID": "abc"}})
    );
    assert!(t.get("tool_call_payload_extension").is_none());
    assert_eq!(t["status"], "executing");
    assert_eq!(t["result"], Value::Null);

    let t = call(
        &emu,
        "PATCH",
        p,
        Some(
            json!({"tool_call_payload_extension": {"a": 1}, "source": "cron",
                    "status": "executing", "last_executed_node_id": "node-7", "result": "partial"}),
        ),
    )
    .json();
    assert_eq!(t["source"], "cron");
    assert_eq!(t["last_executed_node_id"], "node-7");
    assert_eq!(t["result"], "partial");
    assert_eq!(t["payload_extension"], json!({"a": 1}));

    let before = emu.task("task_xyz").unwrap();
    let t = call(&emu, "PATCH", p, Some(json!({}))).json();
    assert_eq!(t, before, "an empty update changes nothing");

    let t = call(&emu, "PATCH", p, Some(json!({"result": ""}))).json();
    assert_eq!(t["result"], "");
    // Unknown fields of an update-shaped body are ignored.
    let t = call(&emu, "PATCH", p, Some(json!({"bogus": 1}))).json();
    assert!(t.get("bogus").is_none());
}

#[test]
fn save_shaped_patch_replaces_known_and_keeps_unknown_fields() {
    let emu = emu();
    let seeded: Value = serde_json::from_str(FORWARD).unwrap();
    seed(&emu, seeded.clone());
    let mut fwd = seeded.clone();
    // The client sends back what it got, with an edit and a field of its own.
    fwd["result"] = json!("saved");
    fwd["title"] = json!("new title");
    fwd["client_only"] = json!([1]);
    fwd.as_object_mut().unwrap().remove("brand_new_field");
    let r = call(&emu, "PATCH", "/agent-execution/task_xyz/update", Some(fwd));
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let t = r.json();
    // The stored task, with the save's keys replacing: nothing else added.
    let mut expected = seeded;
    expected["result"] = json!("saved");
    expected["title"] = json!("new title");
    expected["client_only"] = json!([1]);
    assert_eq!(t, expected);
    assert_eq!(t["result"], "saved");
    assert_eq!(t["title"], "new title");
    assert_eq!(t["client_only"], json!([1]));
    // Omitted keys stay, unknown status (unchanged) is accepted on save.
    assert_eq!(t["brand_new_field"], json!({"nested": [1, 2, 3]}));
    assert_eq!(t["status"], "awaiting_review");
    assert_eq!(t["deep_planning"]["future_plan_flag"], "x");
    assert_eq!(t["input"]["future_input_field"], true);
}

#[test]
fn list_filters_and_list_by_user() {
    let emu = emu();
    let mk = |id: &str, agent: &str, user: Value, status: &str, extra: Value| {
        let mut t = json!({"id": id, "agent_id": agent, "organization_id": "org-1",
                           "input": {"text": "x", "user": user},
                           "status": status, "source": "slack", "title": id});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    emu.seed_tasks([
        mk(
            "t1",
            "a1",
            json!({"id": "u 1"}),
            "completed",
            json!({"result": "ok"}),
        ),
        mk(
            "t2",
            "a1",
            json!({"id": "u/2"}),
            "failed",
            json!({"parent_execution": "p1"}),
        ),
        mk(
            "t3",
            "a1",
            Value::Null,
            "executing",
            json!({"triggering_agent_id": "ta", "internal_status": "busy now"}),
        ),
        mk("t4", "a2", json!({"id": "u 1"}), "completed", json!({})),
    ])
    .unwrap();
    let ids = |r: Response| -> Vec<String> {
        assert_eq!(r.status, 200);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let base = "/agent-execution/executions/history/a1";
    assert_eq!(ids(call(&emu, "GET", base, None)), ["t1", "t2", "t3"]);
    assert_eq!(
        ids(call(&emu, "GET", &format!("{base}?status=completed"), None)),
        ["t1"]
    );
    assert_eq!(
        ids(call(
            &emu,
            "GET",
            &format!("{base}?status=completed&status=failed"),
            None
        )),
        ["t1", "t2"]
    );
    assert_eq!(
        ids(call(&emu, "GET", &format!("{base}?user_id=u+1"), None)),
        ["t1"]
    );
    assert_eq!(
        ids(call(&emu, "GET", &format!("{base}?user_id=u%2F2"), None)),
        ["t2"]
    );
    assert_eq!(
        ids(call(
            &emu,
            "GET",
            &format!("{base}?parent_task_id=p1"),
            None
        )),
        ["t2"]
    );
    assert_eq!(
        ids(call(
            &emu,
            "GET",
            &format!("{base}?triggering_agent_id=ta"),
            None
        )),
        ["t3"]
    );
    assert_eq!(
        ids(call(
            &emu,
            "GET",
            &format!("{base}?internal_status=busy%20now"),
            None
        )),
        ["t3"]
    );
    assert!(ids(call(&emu, "GET", &format!("{base}?status=stopped"), None)).is_empty());

    let items = call(&emu, "GET", &format!("{base}?status=completed"), None).json();
    let item = &items[0];
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent_id",
            "created_at",
            "id",
            "organization_id",
            "parent_task_id",
            "result",
            "source_node_type",
            "status",
            "title",
            "triggering_agent_id",
            "updated_at",
            "user_id"
        ]
    );
    assert_eq!(item["user_id"], "u 1");
    assert_eq!(item["source_node_type"], "slack");
    assert_eq!(item["result"], "ok");
    assert_eq!(item["organization_id"], "org-1");

    let user = "/agent-execution/executions/history/user/u%201";
    assert_eq!(ids(call(&emu, "GET", user, None)), ["t1", "t4"]);
    assert_eq!(
        ids(call(
            &emu,
            "GET",
            &format!("{user}?status=completed&user_id=zzz"),
            None
        )),
        ["t1", "t4"]
    );
    assert!(ids(call(
        &emu,
        "GET",
        "/agent-execution/executions/history/user/nobody",
        None
    ))
    .is_empty());
}

#[test]
fn report_external_task() {
    let emu = emu();
    let r = call(
        &emu,
        "POST",
        "/agent-execution/agent-123/report_task",
        Some(
            json!({"id": "ext-1", "input": "hi", "llm_response": {"x": 1}, "tokens": null,
                    "is_success": true, "result": "done", "duration": 1.5, "used_tools": ["t1"]}),
        ),
    );
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_full_task(&t);
    assert_eq!(t["id"], "ext-1");
    assert_eq!(t["agent_id"], "agent-123");
    assert_eq!(t["status"], "completed");
    assert_eq!(t["input"]["text"], "hi");
    assert_eq!(t["result"], "done");
    assert_eq!(t["duration"], 1.5);
    assert_eq!(t["used_tools"], json!(["t1"]));
    assert_eq!(t["llm_response"], json!({"x": 1}));
    assert_eq!(emu.task("ext-1").unwrap()["status"], "completed");

    let t = call(
        &emu,
        "POST",
        "/agent-execution/agent-123/report_task",
        Some(json!({"input": "x", "is_success": false, "result": "nope"})),
    )
    .json();
    assert_eq!(t["status"], "failed");
    assert_eq!(t["id"].as_str().unwrap().len(), 36);
}

#[test]
fn percent_encoded_ids() {
    let emu = emu();
    let id = "a/b %c é?";
    seed(
        &emu,
        json!({"id": id, "agent_id": "ag/1", "input": {"text": "x"}}),
    );
    let enc = "a%2Fb%20%25c%20%C3%A9%3F";
    let r = call(&emu, "GET", &format!("/agent-execution/{enc}/status"), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], id);
    let r = call(
        &emu,
        "PATCH",
        &format!("/agent-execution/{enc}/update"),
        Some(json!({"status": "paused"})),
    );
    assert_eq!(r.json()["status"], "paused");
    let r = call(
        &emu,
        "GET",
        "/agent-execution/executions/history/ag%2F1",
        None,
    );
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = call(&emu, "GET", "/agent-execution/a/b/status", None);
    assert_eq!(r.status, 404);
    // The log keeps the raw path.
    assert!(emu
        .requests()
        .iter()
        .any(|q| q.path == format!("/agent-execution/{enc}/status")));
}
