//! The request log (credentials redacted), seeding, and the control routes
//! under `/__emulator/`.

mod common;

use common::*;
use serde_json::{json, Value};
use xpander_emulator::{ApiKeyCheck, REDACTED};

// ---------- log, seeding, control routes ----------

#[test]
fn request_log_records_method_path_headers_body() {
    let emu = emu();
    seed(&emu, recorder_task());
    let mut c = Conn::open(&emu);
    c.send(
        "PATCH",
        "/agent-execution/task_xyz/update?x=1",
        &[("X-Api-Key", "test-key-123"), ("X-Custom", "Val")],
        Some(b"{\"status\":\"completed\"}"),
    );
    assert_eq!(c.answer().status, 200);
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("x-api-key", "test-key-123")],
        None,
    );
    assert_eq!(c.answer().status, 200);
    call_raw_body(
        &emu,
        "PATCH",
        "/agent-execution/task_xyz/update",
        b"not json",
    );
    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "PATCH");
    assert_eq!(log[0].path, "/agent-execution/task_xyz/update?x=1");
    assert_eq!(log[0].path_only(), "/agent-execution/task_xyz/update");
    assert_eq!(log[0].header("x-custom"), Some("Val"));
    // The key is never logged; whether it was right is.
    assert_eq!(log[0].header("x-api-key"), Some(REDACTED));
    assert_eq!(log[0].api_key, ApiKeyCheck::Valid);
    assert!(log[0]
        .headers
        .iter()
        .all(|(k, _)| *k == k.to_ascii_lowercase()));
    assert_eq!(log[0].body, "{\"status\":\"completed\"}");
    assert_eq!(log[0].json, Some(json!({"status": "completed"})));
    assert_eq!(log[1].body, "");
    assert_eq!(log[1].json, None);
    assert_eq!(log[2].body, "not json");
    assert_eq!(log[2].json, None);

    let over_http = Conn::open(&emu)
        .call(&emu, "GET", "/__emulator/requests", None)
        .json();
    let arr = over_http.as_array().unwrap();
    assert_eq!(arr.len(), 3, "control routes are not logged");
    assert_eq!(arr[0]["headers"]["x-custom"], "Val");
    assert_eq!(arr[0]["headers"]["x-api-key"], REDACTED);
    assert_eq!(arr[0]["api_key"], "valid");
    assert!(!over_http.to_string().contains("test-key-123"));
    assert_eq!(arr[0]["json"], json!({"status": "completed"}));
    assert_eq!(arr[0]["path"], "/agent-execution/task_xyz/update?x=1");

    emu.clear_requests();
    assert!(emu.requests().is_empty());
    call(&emu, "GET", "/agent-execution/task_xyz/status", None);
    assert_eq!(emu.requests().len(), 1);
    assert_eq!(
        call(&emu, "DELETE", "/__emulator/requests", None).status,
        200
    );
    assert!(emu.requests().is_empty());
}

#[test]
fn the_log_says_whether_the_key_was_missing_valid_or_wrong_and_never_shows_it() {
    let emu = emu();
    let mut c = Conn::open(&emu);
    let path = "/agent-execution/x/status";
    let secret = "sk-live-7f3a9c";
    c.send("GET", path, &[], None);
    assert_eq!(c.answer().status, 401);
    c.send(
        "GET",
        path,
        &[("x-api-key", secret), ("authorization", "Bearer tok-9")],
        None,
    );
    assert_eq!(c.answer().status, 401);
    c.send("GET", path, &[("x-api-key", "test-key-123")], None);
    assert_eq!(c.answer().status, 404);
    let checks: Vec<ApiKeyCheck> = emu.requests().iter().map(|r| r.api_key).collect();
    assert_eq!(
        checks,
        [
            ApiKeyCheck::Missing,
            ApiKeyCheck::Invalid,
            ApiKeyCheck::Valid
        ]
    );
    let log = emu.requests();
    assert_eq!(log[1].header("authorization"), Some(REDACTED));
    let over_http = call(&emu, "GET", "/__emulator/requests", None);
    let text = String::from_utf8(over_http.body).unwrap();
    let shown = format!("{log:?} {text}");
    for s in [secret, "tok-9", "test-key-123"] {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
    let kinds: Vec<Value> = serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["api_key"].clone())
        .collect();
    assert_eq!(kinds, [json!("missing"), json!("invalid"), json!("valid")]);
}

#[test]
fn seeded_tasks_are_served_exactly_as_given() {
    let emu = emu();
    // No defaults filled in, no keys added: a minimal task stays minimal.
    let minimal: Value = serde_json::from_str(MINIMAL).unwrap();
    assert_eq!(seed(&emu, minimal.clone()), "task_xyz");
    let t = call(&emu, "GET", "/agent-execution/task_xyz/status", None).json();
    assert_eq!(t, minimal);

    let full: Value = serde_json::from_str(TASK_FULL).unwrap();
    seed(&emu, full.clone());
    assert_eq!(emu.task(full["id"].as_str().unwrap()).unwrap(), full);

    // Odd but valid: numbers of every kind, nulls where lists and objects
    // usually are, an unknown status, no status at all, unknown fields.
    let odd = [
        json!({"id": "unix", "agent_id": "a", "input": {"text": "hi"}, "created_at": 1763632800}),
        json!({"id": "big", "execution_attempts": 9007199254740993u64, "duration": 1e308,
               "tokens": {"completion_tokens": 10.0, "prompt_tokens": 5}}),
        json!({"id": "nulls", "input": {"text": null, "files": null, "user": null},
               "sub_executions": null, "deep_planning": null, "output_format": null}),
        json!({"id": "status", "status": "awaiting_review", "brand_new": {"x": [1, null]}}),
        json!({"id": "nostatus", "agent_version": 12, "result": "R\u{e9}sum\u{e9} \u{1F600}"}),
    ];
    let ids = call(&emu, "POST", "/__emulator/tasks", Some(json!(odd))).json();
    assert_eq!(
        ids,
        json!({"ids": ["unix", "big", "nulls", "status", "nostatus"]})
    );
    for task in &odd {
        let id = task["id"].as_str().unwrap();
        let got = call(&emu, "GET", &format!("/agent-execution/{id}/status"), None);
        assert_eq!(got.json(), *task, "{id}");
        assert_eq!(emu.task(id).as_ref(), Some(task), "{id}");
    }
    // An integer stays an integer and a float a float, byte for byte.
    let big = call(&emu, "GET", "/agent-execution/big/status", None);
    let text = String::from_utf8(big.body).unwrap();
    assert!(
        text.contains("\"execution_attempts\":9007199254740993"),
        "{text}"
    );
    assert!(text.contains("\"completion_tokens\":10.0"), "{text}");

    // Only a missing id is generated; nothing else is added.
    let generated = seed(&emu, json!({"input": {"text": "no id"}}));
    assert_eq!(generated.len(), 36);
    assert_eq!(
        emu.task(&generated).unwrap(),
        json!({"id": generated, "input": {"text": "no id"}})
    );
    assert!(emu.seed_task(json!([1])).is_err());
    assert!(emu.seed_task(json!({"id": 5})).is_err());
    assert_eq!(emu.tasks().len(), 8);
    emu.reset();
    assert!(emu.tasks().is_empty());
}

#[test]
fn a_patch_merges_into_the_seeded_task() {
    let emu = emu();
    let minimal: Value = serde_json::from_str(MINIMAL).unwrap();
    seed(
        &emu,
        json!({"id": "t", "status": "executing", "odd": 1.5, "input": {"text": "x"}}),
    );
    let p = "/agent-execution/t/update";
    // An update: its fields replace, the rest stays as stored.
    let t = call(&emu, "PATCH", p, Some(json!({"result": "r"}))).json();
    assert_eq!(
        t,
        json!({"id": "t", "status": "executing", "odd": 1.5, "input": {"text": "x"}, "result": "r"})
    );
    // A save: every key it carries replaces (nulls too), unknown keys are
    // kept, keys it does not carry stay, `input` is stored as sent.
    let mut save = minimal.clone();
    save["id"] = json!("t");
    save["client_field"] = json!(null);
    let t = call(&emu, "PATCH", p, Some(save)).json();
    let mut expected = minimal;
    expected["id"] = json!("t");
    expected["client_field"] = json!(null);
    expected["status"] = json!("executing");
    expected["odd"] = json!(1.5);
    expected["result"] = json!("r");
    assert_eq!(t, expected);
    assert_eq!(emu.task("t").unwrap(), expected);
}

#[test]
fn http_control_routes() {
    let emu = emu();
    let ctl = |m: &str, p: &str, body: Option<Value>| {
        // No API key needed.
        let mut c = Conn::open(&emu);
        let b = body.map(|b| serde_json::to_vec(&b).unwrap());
        c.send(m, p, &[], b.as_deref());
        c.answer()
    };
    let r = ctl("POST", "/__emulator/tasks", Some(recorder_task()));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ids": ["task_xyz"]}));
    let r = ctl(
        "POST",
        "/__emulator/tasks",
        Some(json!([{"id": "t2", "agent_id": "a"}, {"id": "t3", "agent_id": "a"}])),
    );
    assert_eq!(r.json(), json!({"ids": ["t2", "t3"]}));
    let tasks = ctl("GET", "/__emulator/tasks", None).json();
    assert_eq!(tasks.as_array().unwrap().len(), 3);
    assert_eq!(tasks[1]["id"], "t2");
    assert_eq!(
        ctl("POST", "/__emulator/tasks", Some(json!("x"))).status,
        422
    );

    let r = ctl(
        "POST",
        "/__emulator/faults",
        Some(
            json!({"method": "GET", "path": "/agent-execution/*", "times": 2,
                    "status": 503, "body": {"detail": "busy"}, "retry_after": 3}),
        ),
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    ctl(
        "POST",
        "/__emulator/faults",
        Some(
            json!([{"path": "/agent-execution/t2/status", "action": "respond",
                     "body_text": "oops", "content_type": "text/x-oops", "status": 500}]),
        ),
    );
    let faults = ctl("GET", "/__emulator/faults", None).json();
    assert_eq!(faults.as_array().unwrap().len(), 2);
    assert_eq!(faults[0]["times"], 2);
    assert_eq!(emu.faults().len(), 2);
    for _ in 0..2 {
        let r = call(&emu, "GET", "/agent-execution/task_xyz/status", None);
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("3"));
    }
    let r = call(&emu, "GET", "/agent-execution/t2/status", None);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/x-oops"));
    assert_eq!(r.body, b"oops");

    for bad in [
        json!({"action": "explode"}),
        json!({"times": -1}),
        json!({"action": "oversized"}),
        json!({"status": "x"}),
    ] {
        assert_eq!(
            ctl("POST", "/__emulator/faults", Some(bad.clone())).status,
            422,
            "{bad}"
        );
    }
    for (rule, check) in [
        (
            json!({"action": "delay", "delay_ms": 1, "path": "*"}),
            200u16,
        ),
        (json!({"action": "oversized", "size": 10, "path": "*"}), 200),
    ] {
        ctl("POST", "/__emulator/faults", Some(rule));
        let r = call(&emu, "GET", "/agent-execution/task_xyz/status", None);
        assert_eq!(r.status, check);
    }
    ctl(
        "POST",
        "/__emulator/faults",
        Some(json!({"action": "close", "always": true})),
    );
    let mut c = Conn::open(&emu);
    c.send("GET", "/agent-execution/task_xyz/status", &[], None);
    assert!(matches!(c.read_answer(), Read_::Closed));
    assert_eq!(ctl("DELETE", "/__emulator/faults", None).status, 200);
    assert!(emu.faults().is_empty());
    ctl(
        "POST",
        "/__emulator/faults",
        Some(json!({"action": "truncate"})),
    );
    let answer = get_raw(&emu, "/agent-execution/task_xyz/status");
    assert!(matches!(answer, Read_::Truncated(..)));

    assert_eq!(
        ctl("POST", "/__emulator/seed", Some(json!({"seed": 7}))).status,
        200
    );
    assert_eq!(
        ctl("POST", "/__emulator/seed", Some(json!({"seed": "x"}))).status,
        422
    );
    let stats = ctl("GET", "/__emulator/stats", None).json();
    assert!(stats["connections_accepted"].as_u64().unwrap() >= 10);
    assert!(stats["requests"].as_u64().unwrap() >= 6);
    assert_eq!(ctl("GET", "/__emulator/nope", None).status, 404);
    assert_eq!(ctl("PUT", "/__emulator/faults", None).status, 405);

    assert_eq!(ctl("DELETE", "/__emulator/tasks", None).status, 200);
    assert!(emu.tasks().is_empty());
    ctl("POST", "/__emulator/tasks", Some(recorder_task()));
    assert_eq!(ctl("POST", "/__emulator/reset", None).status, 200);
    assert!(emu.tasks().is_empty());
    assert!(emu.requests().is_empty());
    assert_eq!(ctl("GET", "/__emulator/stats", None).json()["requests"], 0);
}
