//! A task's event stream: head, handshake, the events of changes through
//! every route, resumption with Last-Event-ID, keep-alives, the end after
//! `task_finished`, and the errors before any stream byte.

mod common;

use std::time::Duration;

use common::sse::*;
use common::*;
use serde_json::json;
use xpander_emulator::{ApiKeyCheck, Emulator, Fault, REDACTED};

/// A task the emulator created (`POST /agent-execution/agent-1`); its id.
fn create_task(emu: &Emulator) -> String {
    let body = json!({"input": {"text": "Summarize"}, "events_streaming": true});
    let r = call(emu, "POST", "/agent-execution/agent-1", Some(body));
    assert_eq!(r.status, 200);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Reads the next event (keep-alives skipped) and checks it is `kind` about
/// task `id`; returns it.
fn expect(sse: &mut Sse, kind: &str, id: &str) -> Block {
    let b = sse
        .next_event()
        .unwrap_or_else(|| panic!("stream ended before {kind}"));
    let env = b.json();
    assert_eq!(env["type"], kind, "{env}");
    assert_eq!(env["task_id"], id, "{env}");
    b
}

#[test]
fn every_route_that_changes_the_task_streams_its_event_while_the_stream_is_open() {
    let emu = emu();
    let id = create_task(&emu);
    let mut sse = Sse::open(&emu, &events_path(&id), &[]);
    assert_eq!(sse.head.status, 200);
    assert_eq!(sse.head.header("cache-control"), Some("no-store"));
    assert_eq!(sse.head.header("connection"), Some("close"));

    let hello = sse.next_block().unwrap();
    assert_eq!(hello.id, None, "the handshake has no id");
    let env = hello.json();
    let keys: Vec<&str> = env
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "data",
            "identity",
            "organization_id",
            "task_id",
            "time",
            "type"
        ]
    );
    assert_eq!(env["type"], "connected");
    assert_eq!(env["organization_id"], emu.organization_id());
    assert!(env["data"].is_null() && env["identity"].is_null());
    assert!(env["time"].as_str().unwrap().ends_with('Z'));

    // Each change is made only after the previous event was read: every
    // event arrives while the stream is open, not when it ends.
    let update = format!("/agent-execution/{id}/update");
    let r = call(&emu, "PATCH", &update, Some(json!({"status": "executing"})));
    assert_eq!(r.status, 200);
    let b = expect(&mut sse, "task_updated", &id);
    assert_eq!(b.json()["data"], r.json(), "the whole task as data");

    let mut saved = r.json();
    saved["title"] = json!("saved");
    assert_eq!(call(&emu, "PATCH", &update, Some(saved)).status, 200);
    assert_eq!(
        expect(&mut sse, "task_updated", &id).json()["data"]["title"],
        "saved"
    );

    let by_control = Conn::open(&emu).call(
        &emu,
        "PATCH",
        &format!("/__emulator/tasks/{id}"),
        Some(&json!({"internal_status": "phase-2"})),
    );
    assert_eq!(by_control.json()["internal_status"], "phase-2");
    expect(&mut sse, "task_updated", &id);

    emu.update_task(&id, json!({"result": "half"})).unwrap();
    assert_eq!(
        expect(&mut sse, "task_updated", &id).json()["data"]["result"],
        "half"
    );

    let chunk = json!([{"type": "chunk", "task_id": id, "organization_id": "org-1",
                        "time": "2025-06-01T12:00:02Z", "data": "Hel", "identity": {"name": "R"}}]);
    let pushed = call(
        &emu,
        "POST",
        &format!("/agent-execution/{id}/events/push"),
        Some(chunk.clone()),
    );
    assert_eq!(pushed.status, 200);
    let b = expect(&mut sse, "chunk", &id);
    assert_eq!(
        b.json(),
        chunk[0],
        "a pushed envelope is streamed as pushed"
    );
    assert_eq!(pushed.json()["ids"], json!([b.id.unwrap()]));

    let stopped = call(&emu, "DELETE", &format!("/agent-execution/{id}"), None);
    let finished = expect(&mut sse, "task_finished", &id);
    assert_eq!(finished.json()["data"], stopped.json());
    assert_eq!(finished.json()["data"]["status"], "stopped");
    let (after, end) = sse.rest();
    assert!(after.is_empty(), "nothing after task_finished: {after:?}");
    assert_eq!(end, End::Clean);

    // The ids: per task, increasing, the same as the handle's view.
    let kept = emu.events(&id);
    let kept_ids: Vec<u64> = kept.iter().map(|e| e.id).collect();
    assert_eq!(kept_ids, (1..=7).collect::<Vec<u64>>());
    assert_eq!(kept[0].kind(), Some("task_created"));
    assert_eq!(finished.id, Some(7));
}

#[test]
fn a_finished_task_sends_connected_then_its_task_finished_then_ends() {
    let emu = emu();
    seed(
        &emu,
        json!({"id": "done", "status": "completed", "result": "ok"}),
    );
    let report = json!({"input": "q", "result": "r", "is_success": false});
    let reported = call(
        &emu,
        "POST",
        "/agent-execution/agent-1/report_task",
        Some(report),
    );
    let reported = reported.json()["id"].as_str().unwrap().to_string();
    for id in ["done", reported.as_str()] {
        let mut sse = Sse::open(&emu, &events_path(id), &[]);
        let (blocks, end) = sse.rest();
        assert_eq!(kinds(&blocks), ["connected", "task_finished"], "{id}");
        assert_eq!(blocks[1].id, Some(2), "created, then finished");
        assert_eq!(end, End::Clean);
    }
    // A change of a finished task is an update; a new stream still sends
    // the task_finished.
    emu.update_task("done", json!({"result": "edited"}))
        .unwrap();
    let kinds_kept: Vec<_> = emu
        .events("done")
        .iter()
        .map(|e| e.kind().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds_kept,
        ["task_created", "task_finished", "task_updated"]
    );
    let (blocks, _) = Sse::open(&emu, &events_path("done"), &[]).rest();
    assert_eq!(kinds(&blocks), ["connected", "task_finished"]);
}

#[test]
fn resuming_with_last_event_id_sends_exactly_the_missing_events() {
    let emu = emu();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    for i in 0..5 {
        emu.push_event("t1", json!({"type": "chunk", "task_id": "t1", "data": i}))
            .unwrap();
    }
    let mut sse = Sse::open(&emu, &events_path("t1"), &[("Last-Event-ID", "3")]);
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
    let ids: Vec<Option<u64>> = (0..3).map(|_| sse.next_event().unwrap().id).collect();
    assert_eq!(ids, [Some(4), Some(5), Some(6)]);
    emu.push_event("t1", json!({"type": "chunk", "data": "live"}))
        .unwrap();
    assert_eq!(sse.next_event().unwrap().id, Some(7), "then live events");
    emu.update_task("t1", json!({"status": "failed"})).unwrap();
    let (rest, end) = sse.rest();
    assert_eq!(kinds(&rest), ["task_finished"]);
    assert_eq!((rest[0].id, end), (Some(8), End::Clean));

    // From 0: everything; after the newest of a finished task: nothing
    // more, and the stream ends.
    let (all, _) = Sse::open(&emu, &events_path("t1"), &[("last-event-id", "0")]).rest();
    let ids: Vec<Option<u64>> = all.iter().map(|b| b.id).collect();
    assert_eq!(
        ids,
        [
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
            Some(8)
        ]
    );
    let (none, end) = Sse::open(&emu, &events_path("t1"), &[("last-event-id", "8")]).rest();
    assert_eq!(
        (kinds(&none), end),
        (vec!["connected".to_string()], End::Clean)
    );

    // The request log has the stream requests, the header, no key.
    let log = emu.requests();
    let last = log.last().unwrap();
    assert_eq!(last.path, "/org-1/agent-execution/t1/events");
    assert_eq!(last.header("last-event-id"), Some("8"));
    assert_eq!(last.header("accept"), Some("text/event-stream"));
    assert_eq!(last.header("x-api-key"), Some(REDACTED));
    assert_eq!(last.api_key, ApiKeyCheck::Valid);
}

#[test]
fn an_id_older_than_the_buffer_gets_what_is_kept_and_a_bad_id_is_a_fresh_start() {
    let emu = Emulator::builder().event_buffer(3).start().unwrap();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    for i in 0..5 {
        emu.push_event("t1", json!({"type": "chunk", "data": i}))
            .unwrap();
    }
    let kept: Vec<u64> = emu.events("t1").iter().map(|e| e.id).collect();
    assert_eq!(kept, [4, 5, 6]);
    let mut sse = Sse::open(&emu, &events_path("t1"), &[("last-event-id", "1")]);
    sse.next_block().unwrap();
    let ids: Vec<Option<u64>> = (0..3).map(|_| sse.next_event().unwrap().id).collect();
    assert_eq!(ids, [Some(4), Some(5), Some(6)]);

    let mut fresh = Sse::open(&emu, &events_path("t1"), &[("last-event-id", "abc")]);
    assert_eq!(fresh.next_block().unwrap().kind(), "connected");
    emu.update_task("t1", json!({"status": "completed"}))
        .unwrap();
    let (rest, _) = fresh.rest();
    assert_eq!(
        rest.iter().map(|b| b.id).collect::<Vec<_>>(),
        [Some(7)],
        "only live events"
    );
}

#[test]
fn keep_alive_comments_and_the_retry_hint() {
    let emu = Emulator::builder()
        .keep_alive_interval(Duration::from_millis(1))
        .sse_retry(Duration::from_millis(1500))
        .start()
        .unwrap();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    let mut sse = Sse::open(&emu, &events_path("t1"), &[]);
    let first = sse.next_block().unwrap();
    assert_eq!((first.retry, first.data.as_deref()), (Some(1500), None));
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
    // Idle: keep-alive comments come (their timing is not checked).
    let ka = sse.next_block().unwrap();
    assert!(ka.is_keep_alive(), "{ka:?}");
    complete_and_expect_end(&emu, &mut sse, "t1");

    // By default: no retry line, and no keep-alive before the handshake.
    let emu = emu_with_task();
    let mut sse = Sse::open(&emu, &events_path("t1"), &[]);
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
}

fn emu_with_task() -> Emulator {
    let emu = emu();
    seed(&emu, json!({"id": "t1", "status": "executing"}));
    emu
}

#[test]
fn removing_the_task_ends_its_stream() {
    let emu = emu_with_task();
    let mut sse = Sse::open(&emu, &events_path("t1"), &[]);
    sse.next_block().unwrap();
    assert_eq!(call(&emu, "DELETE", "/__emulator/tasks", None).status, 200);
    let (rest, end) = sse.rest();
    assert!(rest.is_empty());
    assert_eq!(end, End::Clean);
}

#[test]
fn errors_come_as_http_statuses_before_any_stream_byte() {
    let emu = emu_with_task();
    let no_stream = |r: Result<Sse, Response>| r.err().expect("not a stream");

    let r = no_stream(Sse::request(&emu, &events_path("nope"), &[]));
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"detail": "Task nope not found"}));

    let mut c = Conn::open(&emu);
    c.send(
        "GET",
        &events_path("t1"),
        &[("accept", "text/event-stream")],
        None,
    );
    assert_eq!(c.answer().status, 401);
    let mut c = Conn::open(&emu);
    c.send("GET", &events_path("t1"), &[("x-api-key", "wrong")], None);
    assert_eq!(c.answer().status, 401);
    assert_eq!(
        call(&emu, "POST", &events_path("t1"), Some(json!({}))).status,
        405
    );
    assert_eq!(
        call(&emu, "GET", "/agent-execution/t1/events", None).status,
        404
    );

    // Status faults apply to the stream's request too.
    emu.inject(
        Fault::on("GET", "/org-1/agent-execution/*").respond(503, json!({"detail": "busy"})),
    );
    let r = no_stream(Sse::request(&emu, &events_path("t1"), &[]));
    assert_eq!((r.status, r.json()), (503, json!({"detail": "busy"})));
    emu.inject(Fault::on("GET", "*").respond_text(404, "gone"));
    assert_eq!(
        no_stream(Sse::request(&emu, &events_path("t1"), &[])).body,
        b"gone"
    );
    // Any org segment.
    let mut other_org = Sse::open(&emu, "/whatever/agent-execution/t1/events", &[]);
    assert_eq!(other_org.next_block().unwrap().kind(), "connected");
}

#[test]
fn shutdown_closes_open_and_stalled_streams() {
    let emu = emu_with_task();
    emu.inject(Fault::on("GET", "*").stall_after(1));
    let mut stalled = Sse::open(&emu, &events_path("t1"), &[]);
    let mut open = Sse::open(&emu, &events_path("t1"), &[]);
    assert_eq!(stalled.next_block().unwrap().kind(), "connected");
    assert_eq!(open.next_block().unwrap().kind(), "connected");
    wait_held(&emu, 1);
    emu.shutdown();
    for sse in [&mut stalled, &mut open] {
        let (rest, end) = sse.rest();
        assert_eq!((rest.len(), end), (0, End::Dropped));
    }
    assert_eq!(emu.held(), 0, "a stall ended by shutdown is not counted");
}
