//! The emulator over https (feature `tls`): its certificate and root, a
//! client that does not trust it, plain HTTP sent to it, and the byte-level
//! faults (truncated body, closed connection, oversized body, hold, a
//! stream dropped or stalled mid-way) inside the TLS session. The raw
//! client of tests/common speaks TLS when the emulator does.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::sse::*;
use common::*;
use serde_json::json;
use xpander_emulator::{Emulator, Fault};

const PATH: &str = "/org-1/agent-execution/t1/events";

fn tls_emu() -> Emulator {
    let emu = Emulator::builder()
        .api_key("test-key-123")
        .tls(true)
        .tls_name("emulator.test")
        .start()
        .unwrap();
    seed(&emu, recorder_task());
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    emu
}

/// A request through a TLS session trusting `root` as `name`: the answer's
/// status line, or why the handshake failed.
fn handshake(emu: &Emulator, root: &str, name: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(emu.addr())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = tls::client(root, name);
    let mut stream = rustls::Stream::new(&mut tls, &mut s);
    stream.write_all(b"GET /agent-execution/task_xyz/status HTTP/1.1\r\nhost: t\r\nx-api-key: test-key-123\r\nconnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_string())
}

#[test]
fn https_with_its_root_and_one_handshake_per_connection() {
    let emu = tls_emu();
    assert!(
        emu.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        emu.base_url()
    );
    let pem = emu.root_certificate_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!emu.root_certificate_der().unwrap().is_empty());
    assert!(!pem.contains("PRIVATE KEY"), "the root's key stays inside");

    let mut conn = Conn::open(&emu);
    for _ in 0..3 {
        let r = conn.call(&emu, "GET", "/agent-execution/task_xyz/status", None);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["id"], "task_xyz");
    }
    assert_eq!((emu.tls_handshakes(), emu.connections_accepted()), (1, 1));
    assert_eq!(emu.requests().len(), 3);
}

#[test]
fn plain_http_has_no_root_and_counts_no_handshake() {
    let emu = Emulator::start().unwrap();
    assert!(emu.base_url().starts_with("http://"));
    assert_eq!(emu.root_certificate_pem(), None);
    assert_eq!(emu.root_certificate_der(), None);
    assert_eq!(emu.tls_handshakes(), 0);
}

#[test]
fn the_certificate_names_loopback_and_the_extra_names_only() {
    let emu = tls_emu();
    let root = emu.root_certificate_pem().unwrap();
    for name in ["localhost", "127.0.0.1", "::1", "emulator.test"] {
        let status = handshake(&emu, root, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status, "HTTP/1.1 200 OK", "{name}");
    }
    let err = handshake(&emu, root, "other.test").unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert_eq!(emu.tls_handshakes(), 4);
}

#[test]
fn a_client_without_the_root_gets_nowhere_and_nothing_is_logged() {
    let emu = tls_emu();
    let other = Emulator::builder().tls(true).start().unwrap();
    let err = handshake(&emu, other.root_certificate_pem().unwrap(), "localhost").unwrap_err();
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    assert_eq!(emu.tls_handshakes(), 0);
    assert_eq!(emu.connections_accepted(), 1);
    assert!(emu.requests().is_empty());
}

#[test]
fn plain_http_sent_to_https_gets_no_http_answer() {
    let emu = tls_emu();
    let mut s = TcpStream::connect(emu.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /agent-execution/task_xyz/status HTTP/1.1\r\nhost: t\r\nx-api-key: test-key-123\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert!(emu.requests().is_empty());
}

#[test]
fn request_faults_happen_inside_the_tls_session() {
    let emu = tls_emu();
    let task = "/agent-execution/task_xyz/status";

    emu.inject(Fault::on("GET", task).truncate_body());
    match get_raw(&emu, task) {
        Read_::Truncated(r, got) => {
            let announced: usize = r.header("content-length").unwrap().parse().unwrap();
            assert_eq!(got, announced / 2, "half the body, then the end");
        }
        other => panic!("{other:?}"),
    }

    emu.inject(Fault::on("GET", task).close_connection());
    assert!(matches!(get_raw(&emu, task), Read_::Closed));

    emu.inject(Fault::on("GET", task).oversized_body(300_000));
    match get_raw(&emu, task) {
        Read_::Full(r) => assert_eq!(r.body.len(), 300_000),
        other => panic!("{other:?}"),
    }

    emu.inject(
        Fault::on("GET", task)
            .respond(503, json!({"detail": "busy"}))
            .retry_after("1"),
    );
    let r = call(&emu, "GET", task, None);
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));

    emu.inject(Fault::on("GET", task).hold());
    std::thread::scope(|s| {
        let answer = s.spawn(|| call(&emu, "GET", task, None).status);
        wait_held(&emu, 1);
        emu.release(1);
        assert_eq!(answer.join().unwrap(), 200);
    });
    // Every request above completed its handshake.
    assert_eq!(emu.tls_handshakes(), 5);
}

#[test]
fn a_stream_dropped_mid_way_then_resumed() {
    let emu = tls_emu();
    for i in 0..3 {
        emu.push_event("t1", json!({"type": "chunk", "data": i}))
            .unwrap();
    }
    emu.inject(Fault::on("GET", PATH).drop_after(2));
    let (blocks, end) = Sse::open(&emu, PATH, &[("last-event-id", "0")]).rest();
    assert_eq!(kinds(&blocks), ["connected", "task_created"]);
    assert_eq!(end, End::Dropped);
    let last = blocks[1].id.unwrap().to_string();
    let mut sse = Sse::open(&emu, PATH, &[("last-event-id", &last)]);
    assert_eq!(sse.next_event().unwrap().kind(), "connected");
    for i in 0..3 {
        let b = sse.next_event().unwrap();
        assert_eq!(
            (b.kind(), b.json()["data"].clone()),
            ("chunk".into(), json!(i))
        );
    }
    complete_and_expect_end(&emu, &mut sse, "t1");
}

#[test]
fn a_stalled_stream_sends_nothing_until_released() {
    let emu = Emulator::builder()
        .api_key("test-key-123")
        .tls(true)
        .keep_alive_interval(Duration::from_millis(1))
        .start()
        .unwrap();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    assert_stall_then_release(&emu, PATH);
}
