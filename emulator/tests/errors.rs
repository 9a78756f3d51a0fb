//! Error statuses (401, 404, 405, 409, 411, 413, 422, 400, 431), hostile
//! bytes, and connection handling: keep-alive, pipelining, HTTP/1.0, `close`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use xpander_emulator::{Emulator, Fault};

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
