//! Faults in the middle of an event stream, from the handle and over HTTP:
//! a dropped connection, a stall released by the handle, malformed frames,
//! an oversized line; and the request-level faults on a stream's request.

mod common;

use std::time::Duration;

use common::sse::*;
use common::*;
use serde_json::json;
use xpander_emulator::{Emulator, Fault, FaultAction, MalformedFrame, StreamFault};

const PATH: &str = "/org-1/agent-execution/t1/events";

/// An emulator with task `t1` (executing) and `n` chunks pushed (ids 2..).
fn emu_with_chunks(builder: xpander_emulator::EmulatorBuilder, n: u64) -> Emulator {
    let emu = builder.api_key("test-key-123").start().unwrap();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    for i in 0..n {
        emu.push_event("t1", json!({"type": "chunk", "data": i}))
            .unwrap();
    }
    emu
}

#[test]
fn drop_after_n_events_cuts_the_stream_without_its_last_chunk() {
    let emu = emu_with_chunks(Emulator::builder(), 3);
    emu.inject(Fault::on("GET", PATH).drop_after(2));
    let (blocks, end) = Sse::open(&emu, PATH, &[("last-event-id", "0")]).rest();
    assert_eq!(
        kinds(&blocks),
        ["connected", "task_created"],
        "the handshake counts"
    );
    assert_eq!(end, End::Dropped);
    assert!(emu.faults().is_empty(), "used up by one stream");
    let (blocks, _) = {
        let mut sse = Sse::open(&emu, PATH, &[("last-event-id", "0")]);
        emu.update_task("t1", json!({"status": "completed"}))
            .unwrap();
        sse.rest()
    };
    assert_eq!(blocks.len(), 6, "the next stream is whole: {blocks:?}");

    // Zero events: dropped right after the head.
    emu.inject(Fault::on("GET", PATH).drop_after(0));
    let (blocks, end) = Sse::open(&emu, PATH, &[]).rest();
    assert_eq!((blocks.len(), end), (0, End::Dropped));
}

#[test]
fn a_mid_stream_rule_is_neither_fired_nor_used_up_by_other_requests() {
    let emu = emu_with_chunks(Emulator::builder(), 0);
    emu.inject(Fault::any("*").drop_after(1));
    assert_eq!(
        call(&emu, "GET", "/agent-execution/t1/status", None).status,
        200
    );
    assert_eq!(emu.faults().len(), 1);
    let (blocks, end) = Sse::open(&emu, PATH, &[]).rest();
    assert_eq!(
        (kinds(&blocks), end),
        (vec!["connected".to_string()], End::Dropped)
    );
    assert!(emu.faults().is_empty());
}

#[test]
fn a_stall_sends_nothing_until_released_then_everything_meanwhile() {
    let builder = Emulator::builder().keep_alive_interval(Duration::from_millis(1));
    let emu = emu_with_chunks(builder, 0);
    assert_stall_then_release(&emu, PATH);

    // A stall for a duration ends by itself.
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    emu.inject(Fault::on("GET", PATH).stall_after_for(0, Duration::from_millis(1)));
    let mut sse = Sse::open(&emu, PATH, &[]);
    assert_eq!(sse.next_event().unwrap().kind(), "connected");
}

#[test]
fn malformed_frames_come_once_and_the_stream_goes_on() {
    let emu = emu_with_chunks(Emulator::builder(), 1);
    emu.inject(Fault::on("GET", PATH).malformed_after(1, MalformedFrame::NotJson));
    let mut sse = Sse::open(&emu, PATH, &[("last-event-id", "0")]);
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
    let bad = sse.next_block().unwrap();
    assert_eq!(bad.id, None);
    let data = bad.data.as_deref().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(data).is_err(),
        "{data}"
    );
    assert_eq!(sse.next_event().unwrap().kind(), "task_created");
    assert_eq!(sse.next_event().unwrap().kind(), "chunk");

    emu.inject(Fault::on("GET", PATH).malformed_after(0, MalformedFrame::NoType));
    let mut sse = Sse::open(&emu, PATH, &[]);
    let untyped = sse.next_block().unwrap().json();
    assert!(untyped.get("type").is_none(), "{untyped}");
    assert_eq!(untyped["task_id"], "t1");
    assert!(untyped.as_object().unwrap().contains_key("data"));
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
}

#[test]
fn an_oversized_line_has_the_exact_length() {
    let emu = emu_with_chunks(Emulator::builder(), 0);
    let size = 1 << 20;
    emu.inject(Fault::on("GET", PATH).oversized_line_after(1, size));
    let mut sse = Sse::open(&emu, PATH, &[]);
    sse.next_block().unwrap();
    let big = sse.next_block().unwrap();
    let data = big.data.unwrap();
    assert_eq!(("data: ".len() + data.len()) as u64, size);
    assert!(
        serde_json::from_str::<String>(&data).is_ok(),
        "a JSON string"
    );
    complete_and_expect_end(&emu, &mut sse, "t1");
}

#[test]
fn stream_faults_over_http_round_trip() {
    let emu = emu_with_chunks(Emulator::builder(), 0);
    let rules = json!([
        {"method": "GET", "path": PATH, "action": "drop", "after_events": 1},
        {"method": "GET", "path": PATH, "action": "stall", "after_events": 2},
        {"method": "GET", "path": PATH, "action": "malformed", "after_events": 3, "frame": "no_type"},
        {"method": "GET", "path": PATH, "action": "oversized_line", "after_events": 4, "size": 99},
    ]);
    let r = Conn::open(&emu).call(&emu, "POST", "/__emulator/faults", Some(&rules));
    assert_eq!(r.status, 200, "{:?}", r.json());
    let actions: Vec<FaultAction> = emu.faults().iter().map(|f| f.action().clone()).collect();
    assert_eq!(
        actions,
        [
            FaultAction::MidStream {
                after: 1,
                fault: StreamFault::Drop
            },
            FaultAction::MidStream {
                after: 2,
                fault: StreamFault::Stall(None)
            },
            FaultAction::MidStream {
                after: 3,
                fault: StreamFault::Malformed(MalformedFrame::NoType)
            },
            FaultAction::MidStream {
                after: 4,
                fault: StreamFault::OversizedLine(99)
            },
        ]
    );
    let listed = Conn::open(&emu)
        .call(&emu, "GET", "/__emulator/faults", None)
        .json();
    assert_eq!(listed[0]["after_events"], 1);
    assert_eq!(listed[2]["frame"], "no_type");
    let (blocks, end) = Sse::open(&emu, PATH, &[]).rest();
    assert_eq!((blocks.len(), end), (1, End::Dropped));
    let bad = json!({"action": "malformed", "frame": "odd"});
    let r = Conn::open(&emu).call(&emu, "POST", "/__emulator/faults", Some(&bad));
    assert_eq!(r.status, 422);
}

#[test]
fn request_faults_apply_to_the_stream_request() {
    let emu = emu_with_chunks(Emulator::builder(), 0);
    // Held: the head waits until released.
    emu.inject(Fault::on("GET", PATH).hold());
    std::thread::scope(|s| {
        let opened = s.spawn(|| Sse::open(&emu, PATH, &[]).next_block().unwrap().kind());
        wait_held(&emu, 1);
        emu.release(1);
        assert_eq!(opened.join().unwrap(), "connected");
    });
    // Truncated: the head, then the connection closes without any event.
    emu.inject(Fault::on("GET", PATH).truncate_body());
    let (blocks, end) = Sse::open(&emu, PATH, &[]).rest();
    assert_eq!((blocks.len(), end), (0, End::Dropped));
    // Closed without an answer.
    emu.inject(Fault::on("GET", PATH).close_connection());
    let mut c = Conn::open(&emu);
    c.send("GET", PATH, &[("x-api-key", emu.api_key())], None);
    assert!(matches!(c.read_answer(), Read_::Closed));
}
