//! Fault injection from the handle and over HTTP: answers, delays, holds,
//! closed connections, truncated and oversized bodies, probabilities.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use xpander_emulator::{Emulator, Fault};

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
    let answer = get_raw(&emu, "/agent-execution/task_xyz/status");
    assert!(matches!(answer, Read_::Closed));
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
