//! Integration tests of the Tasks API emulator, driven over loopback with a raw HTTP client.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use xpander_sdk::emulator::{Emulator, Fault};

const TASK_FULL: &str = include_str!("fixtures/task-full.json");
const RECORDER_TASK: &str = include_str!("fixtures/recorder-task.json");
const WIRE: &str = include_str!("fixtures/official-python-client-requests.json");
const FORWARD: &str = include_str!("fixtures/task-forward-compat.json");
const MINIMAL: &str = include_str!("fixtures/task-minimal.json");

// ---------- a tiny raw HTTP/1.1 client ----------

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

/// What reading an answer gave.
#[derive(Debug)]
enum Read_ {
    Full(Response),
    /// The head arrived, then the connection closed before `content-length` bytes.
    Truncated(Response, usize),
    /// Closed before any byte.
    Closed,
}

impl Conn {
    fn open(emu: &Emulator) -> Conn {
        let s = TcpStream::connect(emu.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s, buf: Vec::new() }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.send_raw(&bytes);
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn read_answer(&mut self) -> Read_ {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match self.fill() {
                Ok(0) | Err(_) if self.buf.is_empty() => return Read_::Closed,
                Ok(0) | Err(_) => panic!("closed inside the head"),
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        self.buf.drain(..head_end);
        while self.buf.len() < len {
            match self.fill() {
                Ok(0) | Err(_) => {
                    let body = std::mem::take(&mut self.buf);
                    let got = body.len();
                    return Read_::Truncated(
                        Response {
                            status,
                            headers,
                            body,
                        },
                        got,
                    );
                }
                Ok(_) => {}
            }
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        Read_::Full(Response {
            status,
            headers,
            body,
        })
    }

    fn answer(&mut self) -> Response {
        match self.read_answer() {
            Read_::Full(r) => r,
            other => panic!("expected a full answer, got {other:?}"),
        }
    }

    /// True when the server closed the connection (EOF) without sending more.
    fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && matches!(self.fill(), Ok(0) | Err(_))
    }

    fn call(&mut self, emu: &Emulator, method: &str, path: &str, body: Option<&Value>) -> Response {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.send(
            method,
            path,
            &[("x-api-key", emu.api_key())],
            body.as_deref(),
        );
        self.answer()
    }
}

/// One request on a fresh connection, with the right API key.
fn call(emu: &Emulator, method: &str, path: &str, body: Option<Value>) -> Response {
    Conn::open(emu).call(emu, method, path, body.as_ref())
}

fn call_raw_body(emu: &Emulator, method: &str, path: &str, body: &[u8]) -> Response {
    let mut c = Conn::open(emu);
    c.send(method, path, &[("x-api-key", emu.api_key())], Some(body));
    c.answer()
}

fn full_keys() -> Vec<String> {
    let v: Value = serde_json::from_str(TASK_FULL).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

fn assert_full_task(v: &Value) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("task not an object: {v}"));
    for k in full_keys() {
        assert!(o.contains_key(&k), "answer lacks `{k}`: {v}");
    }
    for k in ["id", "agent_id", "organization_id", "created_at", "status"] {
        assert!(o[k].is_string(), "`{k}` must be a string: {v}");
    }
    assert!(o["input"].is_object());
    for k in ["text", "files", "user"] {
        assert!(o["input"].as_object().unwrap().contains_key(k), "input.{k}");
    }
}

fn emu() -> Emulator {
    Emulator::builder().api_key("test-key-123").start().unwrap()
}

fn seed(emu: &Emulator, v: Value) -> String {
    emu.seed_task(v).unwrap()
}

fn recorder_task() -> Value {
    serde_json::from_str(RECORDER_TASK).unwrap()
}

fn detail_loc(r: &Response) -> Vec<Value> {
    r.json()["detail"][0]["loc"].as_array().unwrap().clone()
}

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
    let mut fwd: Value = serde_json::from_str(FORWARD).unwrap();
    seed(&emu, fwd.clone());
    // The client sends back what it got, with an edit and a field of its own.
    fwd["result"] = json!("saved");
    fwd["title"] = json!("new title");
    fwd["client_only"] = json!([1]);
    fwd.as_object_mut().unwrap().remove("brand_new_field");
    let r = call(&emu, "PATCH", "/agent-execution/task_xyz/update", Some(fwd));
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let t = r.json();
    assert_full_task(&t);
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
        let mut t = json!({"id": id, "agent_id": agent, "input": {"text": "x", "user": user},
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
    assert_eq!(item["organization_id"], "org-emulator");

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

// ---------- error statuses ----------

#[test]
fn unauthorized_401() {
    let emu = emu();
    seed(&emu, recorder_task());
    let mut c = Conn::open(&emu);
    c.send("GET", "/agent-execution/task_xyz/status", &[], None);
    let r = c.answer();
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"].is_string());
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("x-api-key", "wrong")],
        None,
    );
    let r = c.answer();
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"].is_string());
    c.send(
        "PATCH",
        "/agent-execution/task_xyz/update",
        &[("X-Api-Key", "nope")],
        Some(b"{\"status\":\"completed\"}"),
    );
    assert_eq!(c.answer().status, 401);
    assert_eq!(emu.task("task_xyz").unwrap()["status"], "executing");
    // Header names are case-insensitive.
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("X-API-KEY", "test-key-123")],
        None,
    );
    assert_eq!(c.answer().status, 200);
}

#[test]
fn not_found_404_and_method_405() {
    let emu = emu();
    for (m, p, body) in [
        ("GET", "/agent-execution/missing/status", None),
        (
            "PATCH",
            "/agent-execution/missing/update",
            Some(json!({"status": "completed"})),
        ),
        ("DELETE", "/agent-execution/missing", None),
    ] {
        let r = call(&emu, m, p, body);
        assert_eq!(r.status, 404, "{m} {p}");
        assert_eq!(r.json(), json!({"detail": "Task missing not found"}));
    }
    for p in [
        "/",
        "/nope",
        "/agent-execution",
        "/agent-execution/x/y/z/w/v",
        "/agent-execution/x/other",
    ] {
        let r = call(&emu, "GET", p, None);
        assert_eq!(r.status, 404, "{p}");
        assert!(r.json()["detail"].is_string());
    }
    for (m, p) in [
        ("GET", "/agent-execution/x/update"),
        ("POST", "/agent-execution/x/status"),
        ("PUT", "/agent-execution/x"),
        ("POST", "/agent-execution/executions/history/a"),
        ("GET", "/agent-execution/a/report_task"),
    ] {
        assert_eq!(call(&emu, m, p, None).status, 405, "{m} {p}");
    }
}

#[test]
fn unprocessable_422_names_the_field() {
    let emu = emu();
    seed(&emu, recorder_task());
    let p = "/agent-execution/task_xyz/update";
    let r = call_raw_body(&emu, "PATCH", p, b"{not json");
    assert_eq!(r.status, 422);
    assert_eq!(detail_loc(&r), [json!("body")]);
    let r = call_raw_body(&emu, "PATCH", p, b"[1,2]");
    assert_eq!(r.status, 422);

    for (body, field) in [
        (json!({"status": "bogus"}), "status"),
        (json!({"status": 3}), "status"),
        (json!({"result": 5}), "result"),
        (json!({"source": []}), "source"),
        (
            json!({"last_executed_node_id": {}}),
            "last_executed_node_id",
        ),
        (
            json!({"tool_call_payload_extension": "x"}),
            "tool_call_payload_extension",
        ),
    ] {
        let r = call(&emu, "PATCH", p, Some(body.clone()));
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(detail_loc(&r), [json!("body"), json!(field)], "{body}");
        assert!(r.json()["detail"][0]["msg"].is_string());
    }
    // Nothing was applied.
    assert_eq!(emu.task("task_xyz").unwrap()["result"], Value::Null);
    assert_eq!(emu.task("task_xyz").unwrap()["status"], "executing");

    let c = "/agent-execution/agent-1";
    for (body, loc) in [
        (json!({"input": "text"}), vec!["body", "input"]),
        (json!({"title": "x"}), vec!["body", "input"]),
        (json!({"input": {"text": 1}}), vec!["body", "input", "text"]),
        (
            json!({"input": {"text": "x"}, "title": 1}),
            vec!["body", "title"],
        ),
    ] {
        let r = call(&emu, "POST", c, Some(body.clone()));
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(
            detail_loc(&r),
            loc.iter().map(|s| json!(s)).collect::<Vec<_>>()
        );
    }
    let r = call(
        &emu,
        "POST",
        "/agent-execution/a/report_task",
        Some(json!({"duration": "long"})),
    );
    assert_eq!(r.status, 422);
    assert_eq!(detail_loc(&r), [json!("body"), json!("duration")]);
    assert_eq!(emu.tasks().len(), 1, "no task created by invalid requests");
}

#[test]
fn overlapping_updates_conflict_409() {
    let emu = emu();
    seed(&emu, recorder_task());
    let p = "/agent-execution/task_xyz/update";
    // Without delays, updates never conflict.
    let mut c = Conn::open(&emu);
    for i in 0..50 {
        let r = c.call(&emu, "PATCH", p, Some(&json!({"result": format!("r{i}")})));
        assert_eq!(r.status, 200);
    }
    // The first update is held (no wall-clock window): it holds the task's
    // in-flight marker until released.
    emu.inject(Fault::on("PATCH", p).hold());
    std::thread::scope(|s| {
        let first = s.spawn(|| call(&emu, "PATCH", p, Some(json!({"result": "first"}))));
        // Wait until the emulator holds it (a bounded poll, not a timing).
        for _ in 0..6_000 {
            if emu.held() == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(emu.held(), 1, "the first update never arrived");
        let second = call(&emu, "PATCH", p, Some(json!({"result": "second"})));
        assert_eq!(second.status, 409);
        assert_eq!(
            second.json(),
            json!({"detail": "Concurrent update conflict"})
        );
        // A GET meanwhile is not blocked.
        assert_eq!(
            call(&emu, "GET", "/agent-execution/task_xyz/status", None).status,
            200
        );
        emu.release(1);
        let first = first.join().unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(first.json()["result"], "first");
    });
    // The marker is released.
    let r = call(&emu, "PATCH", p, Some(json!({"result": "after"})));
    assert_eq!(r.status, 200);
    assert_eq!(emu.task("task_xyz").unwrap()["result"], "after");
}

#[test]
fn body_too_large_413_chunked_411_and_malformed_400() {
    let emu = Emulator::builder()
        .api_key("k")
        .max_body_size(1024)
        .start()
        .unwrap();
    let mut c = Conn::open(&emu);
    c.send_raw(
        b"PATCH /agent-execution/x/update HTTP/1.1\r\nx-api-key: k\r\ncontent-length: 5000\r\n\r\n",
    );
    let r = c.answer();
    assert_eq!(r.status, 413);
    assert!(c.is_closed());

    let mut c = Conn::open(&emu);
    c.send_raw(b"POST /agent-execution/a HTTP/1.1\r\nx-api-key: k\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    assert_eq!(c.answer().status, 411);
    assert!(c.is_closed());

    for garbage in [
        &b"\x00\x01\x02 garbage\r\n\r\n"[..],
        b"GET /x HTTP/1.1\r\nbad header line\r\n\r\n",
        b"GET /x HTTP/1.1\r\ncontent-length: abc\r\n\r\n",
        b"GET /x HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    ] {
        let mut c = Conn::open(&emu);
        c.send_raw(garbage);
        let r = c.answer();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(garbage));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.is_closed());
    }
    // A head that never ends is cut off.
    let mut c = Conn::open(&emu);
    let mut big = b"GET /x HTTP/1.1\r\nx-long: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    let _ = c.s.write_all(&big);
    assert_eq!(c.answer().status, 431);
    // The server is still fine.
    assert_eq!(
        call(&emu, "GET", "/agent-execution/x/status", None).status,
        404
    );
}

#[test]
fn never_panics_on_random_bytes() {
    let emu = emu();
    seed(&emu, recorder_task());
    let mut rng: u64 = 0x1234_5678;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let templates: [&[u8]; 4] = [
        b"PATCH /agent-execution/task_xyz/update HTTP/1.1\r\nx-api-key: test-key-123\r\ncontent-length: 20\r\n\r\n{\"status\":\"paused\"}",
        b"GET /agent-execution/%ZZ%/status?status=%%&user_id=%FF HTTP/1.1\r\nx-api-key: test-key-123\r\n\r\n",
        b"POST /agent-execution/a HTTP/1.1\r\nx-api-key: test-key-123\r\ncontent-length: 30\r\n\r\n{\"input\":{\"text\":[1,{\"a\":null}]}}",
        b"GET /agent-execution/executions/history/user/%C3 HTTP/1.0\r\nx-api-key: test-key-123\r\n\r\n",
    ];
    for i in 0..200 {
        let mut bytes = templates[i % templates.len()].to_vec();
        let flips = (next() % 6) as usize;
        for _ in 0..flips {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        if next() % 4 == 0 {
            let cut = (next() as usize) % bytes.len();
            bytes.truncate(cut);
        }
        let mut s = TcpStream::connect(emu.addr()).unwrap();
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(Shutdown::Write);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    for (m, p) in [
        ("GET", "/agent-execution/%ZZ/status"),
        ("GET", "/agent-execution/executions/history/a?status=%E2%28"),
    ] {
        let r = call(&emu, m, p, None);
        assert!(r.status == 404 || r.status == 200, "{m} {p}: {}", r.status);
    }
    assert_eq!(
        call(&emu, "GET", "/agent-execution/task_xyz/status", None).status,
        200
    );
}

// ---------- keep-alive, HTTP/1.0, Connection: close, stats ----------

#[test]
fn keep_alive_http10_connection_close_and_stats() {
    let emu = emu();
    seed(&emu, recorder_task());
    let mut c = Conn::open(&emu);
    for _ in 0..10 {
        assert_eq!(
            c.call(&emu, "GET", "/agent-execution/task_xyz/status", None)
                .status,
            200
        );
    }
    // Pipelined requests are answered in order.
    let one = b"GET /agent-execution/task_xyz/status HTTP/1.1\r\nx-api-key: test-key-123\r\n\r\n";
    let two = b"GET /agent-execution/nope/status HTTP/1.1\r\nx-api-key: test-key-123\r\n\r\n";
    c.send_raw(&[&one[..], &two[..]].concat());
    assert_eq!(c.answer().status, 200);
    assert_eq!(c.answer().status, 404);
    assert_eq!(emu.connections_accepted(), 1);

    let mut c = Conn::open(&emu);
    c.send_raw(b"GET /agent-execution/task_xyz/status HTTP/1.0\r\nx-api-key: test-key-123\r\n\r\n");
    let r = c.answer();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());

    let mut c = Conn::open(&emu);
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("x-api-key", "test-key-123"), ("connection", "close")],
        None,
    );
    assert_eq!(c.answer().status, 200);
    assert!(c.is_closed());

    let mut c = Conn::open(&emu);
    c.send_raw(b"GET /agent-execution/task_xyz/status HTTP/1.0\r\nconnection: keep-alive\r\nx-api-key: test-key-123\r\n\r\n");
    assert_eq!(c.answer().status, 200);
    c.send_raw(b"GET /__emulator/stats HTTP/1.0\r\n\r\n");
    let stats = c.answer().json();
    assert_eq!(stats, json!({"connections_accepted": 4, "requests": 15}));
    assert_eq!(emu.connections_accepted(), 4);
    assert_eq!(emu.requests_received(), 15);
}

// ---------- faults ----------

#[test]
fn fault_respond_with_status_body_and_retry_after() {
    let emu = emu();
    seed(&emu, recorder_task());
    let p = "/agent-execution/task_xyz/update";
    emu.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .times(2)
            .respond(503, json!({"detail": "busy"}))
            .retry_after("1"),
    );
    emu.inject(Fault::on("GET", "*").respond_text(502, "<html><body>Bad gateway</body></html>"));
    let mut c = Conn::open(&emu);
    for _ in 0..2 {
        let r = c.call(&emu, "PATCH", p, Some(&json!({"status": "completed"})));
        assert_eq!(r.status, 503);
        assert_eq!(r.json(), json!({"detail": "busy"}));
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(emu.task("task_xyz").unwrap()["status"], "executing");
    let r = c.call(&emu, "PATCH", p, Some(&json!({"status": "completed"})));
    assert_eq!(r.status, 200);
    assert!(r.header("retry-after").is_none());
    let r = c.call(&emu, "GET", "/agent-execution/task_xyz/status", None);
    assert_eq!(r.status, 502);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(r.body, b"<html><body>Bad gateway</body></html>");
    assert!(emu.faults().is_empty(), "used-up rules disappear");
    assert_eq!(
        c.call(&emu, "GET", "/agent-execution/task_xyz/status", None)
            .status,
        200
    );
}

#[test]
fn fault_rules_apply_in_order_and_always() {
    let emu = emu();
    seed(&emu, recorder_task());
    emu.inject(
        Fault::any("/agent-execution/task_xyz/status")
            .times(1)
            .respond(500, json!({"detail": "a"})),
    );
    emu.inject(
        Fault::any("*")
            .always()
            .respond(429, json!({"detail": "b"})),
    );
    let p = "/agent-execution/task_xyz/status";
    assert_eq!(call(&emu, "GET", p, None).json()["detail"], "a");
    for _ in 0..5 {
        assert_eq!(call(&emu, "GET", p, None).status, 429);
    }
    assert_eq!(emu.faults().len(), 1);
    emu.clear_faults();
    assert_eq!(call(&emu, "GET", p, None).status, 200);
    // The query is not part of the matched path.
    emu.inject(Fault::on("GET", "/agent-execution/executions/history/a1").respond(500, json!({})));
    assert_eq!(
        call(
            &emu,
            "GET",
            "/agent-execution/executions/history/a1?status=x",
            None
        )
        .status,
        500
    );
}

#[test]
fn fault_delay() {
    let emu = emu();
    seed(&emu, recorder_task());
    emu.inject(Fault::on("GET", "*").delay(Duration::from_millis(300)));
    let t0 = Instant::now();
    let r = call(&emu, "GET", "/agent-execution/task_xyz/status", None);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], "task_xyz");
}

#[test]
fn fault_close_connection() {
    let emu = emu();
    seed(&emu, recorder_task());
    emu.inject(Fault::on("GET", "/agent-execution/*").close_connection());
    let mut c = Conn::open(&emu);
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("x-api-key", "test-key-123")],
        None,
    );
    assert!(matches!(c.read_answer(), Read_::Closed));
    // The request was read and logged before the close.
    assert_eq!(emu.requests().len(), 1);
    assert_eq!(
        call(&emu, "GET", "/agent-execution/task_xyz/status", None).status,
        200
    );
}

#[test]
fn fault_truncated_body() {
    let emu = emu();
    seed(&emu, recorder_task());
    emu.inject(Fault::on("PATCH", "*").truncate_body());
    let mut c = Conn::open(&emu);
    c.send(
        "PATCH",
        "/agent-execution/task_xyz/update",
        &[("x-api-key", "test-key-123")],
        Some(b"{\"result\":\"applied\"}"),
    );
    match c.read_answer() {
        Read_::Truncated(r, got) => {
            assert_eq!(r.status, 200);
            let len: usize = r.header("content-length").unwrap().parse().unwrap();
            assert!(got < len, "{got} < {len}");
            assert!(serde_json::from_slice::<Value>(&r.body).is_err());
        }
        other => panic!("expected a truncated answer, got {other:?}"),
    }
    // The update itself was handled.
    assert_eq!(emu.task("task_xyz").unwrap()["result"], "applied");
}

#[test]
fn fault_oversized_body() {
    let emu = emu();
    seed(&emu, recorder_task());
    let n = 3 * 1024 * 1024 + 7;
    emu.inject(Fault::on("GET", "*").oversized_body(n));
    let mut c = Conn::open(&emu);
    let r = c.call(&emu, "GET", "/agent-execution/task_xyz/status", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(n.to_string().as_str()));
    assert_eq!(r.body.len() as u64, n);
    // The connection stays usable.
    assert_eq!(
        c.call(&emu, "GET", "/agent-execution/task_xyz/status", None)
            .status,
        200
    );
}

#[test]
fn fault_probability_is_seeded_and_deterministic() {
    let run = |seed: u64| -> Vec<u16> {
        let emu = Emulator::builder().api_key("k").seed(seed).start().unwrap();
        emu.inject(
            Fault::any("*")
                .always()
                .probability(0.25)
                .respond(503, json!({})),
        );
        let mut c = Conn::open(&emu);
        (0..200)
            .map(|_| {
                c.call(&emu, "GET", "/agent-execution/x/status", None)
                    .status
            })
            .collect()
    };
    let a = run(42);
    assert_eq!(a, run(42), "same seed, same sequence");
    let hits = a.iter().filter(|s| **s == 503).count();
    assert!((20..=80).contains(&hits), "25% of 200: {hits}");
    assert!(a.iter().all(|s| *s == 503 || *s == 404));

    let emu = emu();
    emu.inject(
        Fault::any("*")
            .always()
            .probability(0.0)
            .respond(503, json!({})),
    );
    emu.inject(
        Fault::any("*")
            .times(3)
            .probability(1.0)
            .respond(500, json!({})),
    );
    let statuses: Vec<u16> = (0..5)
        .map(|_| call(&emu, "GET", "/agent-execution/x/status", None).status)
        .collect();
    assert_eq!(statuses, [500, 500, 500, 404, 404]);
}

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
    assert!(log[0].headers.iter().any(|(k, _)| k == "x-api-key"));
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
fn seeding_fills_defaults_and_keeps_unknown_fields() {
    let emu = emu();
    let id = seed(&emu, serde_json::from_str(MINIMAL).unwrap());
    assert_eq!(id, "task_xyz");
    let t = call(&emu, "GET", "/agent-execution/task_xyz/status", None).json();
    assert_full_task(&t);
    assert_eq!(t["organization_id"], "org-1");
    assert_eq!(t["created_at"], "2026-11-20T10:00:00Z");

    let full: Value = serde_json::from_str(TASK_FULL).unwrap();
    seed(&emu, full.clone());
    assert_eq!(emu.task(full["id"].as_str().unwrap()).unwrap(), full);

    let generated = seed(&emu, json!({"input": {"text": "no id"}}));
    assert_eq!(generated.len(), 36);
    assert!(emu.seed_task(json!([1])).is_err());
    assert!(emu.seed_task(json!({"id": 5})).is_err());
    assert_eq!(emu.tasks().len(), 3);
    emu.reset();
    assert!(emu.tasks().is_empty());
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
    let mut c = Conn::open(&emu);
    c.send(
        "GET",
        "/agent-execution/task_xyz/status",
        &[("x-api-key", "test-key-123")],
        None,
    );
    assert!(matches!(c.read_answer(), Read_::Truncated(..)));

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

// ---------- the official client's requests ----------

#[test]
fn official_python_client_requests_replay_and_answers_carry_required_fields() {
    let emu = emu();
    seed(&emu, recorder_task());
    let wire: Value = serde_json::from_str(WIRE).unwrap();
    for (case, reqs) in wire.as_object().unwrap() {
        for r in reqs.as_array().unwrap() {
            let method = r["method"].as_str().unwrap();
            let mut path = r["path"].as_str().unwrap().to_string();
            let mut q = Vec::new();
            for (k, vals) in r["query"].as_object().unwrap() {
                for v in vals.as_array().unwrap() {
                    q.push(format!("{k}={}", v.as_str().unwrap()));
                }
            }
            if !q.is_empty() {
                path = format!("{path}?{}", q.join("&"));
            }
            let headers: Vec<(&str, &str)> = r["headers"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "content-type")
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let body = (!r["body"].is_null()).then(|| serde_json::to_vec(&r["body"]).unwrap());
            let mut c = Conn::open(&emu);
            c.send(method, &path, &headers, body.as_deref());
            let resp = c.answer();
            assert_eq!(
                resp.status,
                200,
                "{case}: {:?}",
                String::from_utf8_lossy(&resp.body)
            );
            let v = resp.json();
            if case.starts_with("list") {
                for item in v.as_array().unwrap() {
                    for k in ["id", "agent_id", "organization_id", "status", "created_at"] {
                        assert!(item[k].is_string(), "{case}: {k}");
                    }
                }
            } else {
                assert_full_task(&v);
            }
            match case.as_str() {
                "update_status_result" => assert_eq!(v["result"], "Done"),
                "save_after_mutation" => assert_eq!(v["result"], "saved result"),
                "set_status" => {
                    assert_eq!(v["status"], "failed");
                    assert_eq!(v["result"], "boom");
                }
                "stop" => assert_eq!(v["status"], "stopped"),
                "create" => {
                    assert_eq!(v["agent_id"], "agent-123");
                    assert_eq!(v["input"]["text"], "Hello!");
                    assert_eq!(v["status"], "pending");
                }
                "list" => assert!(v.as_array().unwrap().is_empty()),
                "report_external_task" => assert_eq!(v["id"], "ext-1"),
                _ => {}
            }
        }
    }
    assert_eq!(emu.requests().len(), 15);
}

// ---------- lifecycle and async use ----------

#[test]
fn emulator_is_send_sync_and_shuts_down() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
    let emu = emu();
    let addr = emu.addr();
    assert_eq!(emu.base_url(), format!("http://{addr}"));
    assert!(addr.ip().is_loopback());
    let mut open = Conn::open(&emu);
    assert_eq!(
        open.call(&emu, "GET", "/agent-execution/x/status", None)
            .status,
        404
    );
    emu.shutdown();
    emu.shutdown();
    assert!(open.is_closed(), "open connections are closed on shutdown");
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
    drop(emu);

    let generated = Emulator::start().unwrap();
    assert!(!generated.api_key().is_empty());
    assert_eq!(generated.organization_id(), "org-emulator");
}

#[tokio::test]
async fn usable_from_a_current_thread_tokio_test() {
    let emu = std::sync::Arc::new(emu());
    emu.seed_task(recorder_task()).unwrap();
    let e = emu.clone();
    let r = tokio::task::spawn_blocking(move || {
        call(
            &e,
            "PATCH",
            "/agent-execution/task_xyz/update",
            Some(json!({"status": "completed"})),
        )
    })
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(emu.task("task_xyz").unwrap()["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_a_multi_thread_tokio_test_and_dropped_there() {
    let emu = Emulator::builder().api_key("k").start().unwrap();
    emu.inject(Fault::on("GET", "*").delay(Duration::from_millis(50)));
    let emu = std::sync::Arc::new(emu);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let e = emu.clone();
            tokio::task::spawn_blocking(move || {
                call(&e, "GET", "/agent-execution/none/status", None).status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 404);
    }
    assert_eq!(emu.connections_accepted(), 4);
    drop(emu);
}

#[test]
fn hold_rules_and_release_over_http() {
    let emu = emu();
    seed(&emu, recorder_task());
    let r = call(
        &emu,
        "POST",
        "/__emulator/faults",
        Some(json!({"method": "GET", "path": "/agent-execution/*", "action": "hold"})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        call(&emu, "GET", "/__emulator/faults", None).json()[0]["action"],
        "hold"
    );
    // A release that comes first is kept for the request that comes later.
    let r = call(
        &emu,
        "POST",
        "/__emulator/release",
        Some(json!({"count": 1})),
    );
    assert_eq!(r.status, 200);
    let r = call(&emu, "GET", "/agent-execution/task_xyz/status", None);
    assert_eq!(r.status, 200);
    assert_eq!(emu.held(), 0);
    let r = call(
        &emu,
        "POST",
        "/__emulator/release",
        Some(json!({"count": "x"})),
    );
    assert_eq!(r.status, 422);
}
