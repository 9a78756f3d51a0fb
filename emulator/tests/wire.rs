//! The official Python client's recorded requests, replayed byte for byte.

mod common;

use common::sse::{kinds, End, Sse};
use common::*;
use serde_json::{json, Value};

// ---------- the official client's requests ----------

#[test]
fn official_python_client_requests_replay_and_answers_carry_required_fields() {
    let emu = emu();
    let seeded = full_recorder_task();
    seed(&emu, seeded.clone());
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
                // A seeded task is served exactly as seeded.
                "get" => assert_eq!(v, seeded),
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

/// The official client's live-side requests (task extras capture): the
/// event stream, the activity log and every metrics report it sent are
/// answered as the service would, with its very headers and bodies.
#[test]
fn official_python_client_live_requests_replay() {
    let emu = emu();
    let input = json!({"text": "Summarize the quarterly report", "files": [], "user": null});
    let task = json!({"id": "task-1", "agent_id": "agent-1", "organization_id": "org-1",
                      "status": "completed", "result": "Hello", "input": input});
    seed(&emu, task);
    let capture: Value = serde_json::from_str(TASK_EXTRAS).unwrap();
    let (mut streams, mut threads, mut sent_reports) = (0, 0, Vec::new());
    for scenario in capture["scenarios"].as_array().unwrap() {
        for r in scenario["requests"].as_array().into_iter().flatten() {
            let (method, path) = (r["method"].as_str().unwrap(), r["path"].as_str().unwrap());
            let known = [
                "/org-1/agent-execution/task-1/events",
                "/activity/agent-1/task-1",
                "/agents-metrics/agent-1/execution",
            ];
            if !known.contains(&path) {
                continue;
            }
            let headers: Vec<(&str, &str)> = r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
                .filter(|(k, _)| {
                    !["host", "content-length", "content-type"]
                        .contains(&k.to_ascii_lowercase().as_str())
                })
                .map(|(k, v)| (k, if v.starts_with('<') { emu.api_key() } else { v }))
                .collect();
            let body =
                (!r["body_json"].is_null()).then(|| serde_json::to_vec(&r["body_json"]).unwrap());
            let mut c = Conn::open(&emu);
            c.send(method, path, &headers, body.as_deref());
            let name = scenario["name"].as_str().unwrap();
            if path.ends_with("/events") {
                let mut sse =
                    Sse::after_request(c).unwrap_or_else(|r| panic!("{name}: {}", r.status));
                let (blocks, end) = sse.rest();
                assert_eq!(kinds(&blocks), ["connected", "task_finished"], "{name}");
                assert_eq!(end, End::Clean, "{name}");
                streams += 1;
            } else if path.starts_with("/activity/") {
                let thread = c.answer().json();
                assert_eq!(thread["id"], "task-1", "{name}");
                assert_eq!(
                    thread["messages"][0]["content"]["text"], input["text"],
                    "{name}"
                );
                threads += 1;
            } else {
                let answer = c.answer();
                assert_eq!(answer.status, 200, "{name}: {:?}", answer.json());
                sent_reports.push(r["body_json"].clone());
            }
        }
    }
    assert!(
        streams >= 5 && threads >= 5 && sent_reports.len() >= 4,
        "{streams} {threads} {}",
        sent_reports.len()
    );
    let stored: Vec<Value> = emu
        .metrics_reports()
        .into_iter()
        .map(|m| m.report)
        .collect();
    assert_eq!(stored, sent_reports);
    let logged = emu.requests();
    assert!(logged
        .iter()
        .any(|r| r.header("user-agent") == Some("python-httpx/0.28.1")));
}
