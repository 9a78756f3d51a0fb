//! The official Python client's recorded requests, replayed byte for byte.

mod common;

use common::*;
use serde_json::Value;

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
