//! The event session on crafted bytes and crafted connection outcomes: every
//! decision is taken on time passed in, so nothing here sleeps or races.

use std::time::{Duration, Instant};

use super::{
    Disconnect, EventSession, NextStep, Opened, SessionItem, StreamPolicy, MAX_LAST_EVENT_ID_BYTES,
};
use crate::error::{ApiError, Error, ErrorClass, TransportError, TransportErrorKind};
use crate::model::{EventPayload, TaskEventType};
use crate::sans_io::sse::SseLimits;

const SSE: Option<&str> = Some("text/event-stream");

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The JSON envelope of an event of `kind` with this `data` (JSON text).
fn envelope(kind: &str, data: &str) -> String {
    format!(
        r#"{{"type":"{kind}","task_id":"task-1","organization_id":"org-1","time":"2025-06-01T12:00:00Z","data":{data}}}"#
    )
}

/// One SSE frame: an optional `id:` line, one `data:` line, a blank line.
fn frame(id: Option<&str>, kind: &str, data: &str) -> String {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    format!("{id}data: {}\n\n", envelope(kind, data))
}

fn chunk(n: u32) -> String {
    frame(Some(&n.to_string()), "chunk", &format!("\"part {n}\""))
}

fn task_json(status: &str) -> String {
    format!(
        r#"{{"id":"task-1","agent_id":"a","organization_id":"org-1","input":{{"text":"hi"}},"created_at":"2025-06-01T12:00:00Z","status":"{status}"}}"#
    )
}

fn finished(id: &str) -> String {
    frame(Some(id), "task_finished", &task_json("completed"))
}

fn policy() -> StreamPolicy {
    StreamPolicy::default().jitter(false)
}

fn session() -> EventSession {
    EventSession::new("task-1", policy())
}

/// A session with a stream open at `now`.
fn open(policy: StreamPolicy, now: Instant) -> EventSession {
    let mut session = EventSession::new("task-1", policy);
    assert_eq!(session.on_open(200, SSE, now), Opened::Stream);
    session
}

/// Everything the fed bytes hold now.
fn drain(session: &mut EventSession) -> Vec<SessionItem> {
    std::iter::from_fn(|| session.next_item()).collect()
}

/// Feeds each chunk and drains after each; a summary of what came out:
/// `kind#id` for an event, `skip` for a skipped one.
fn run(session: &mut EventSession, chunks: &[&[u8]]) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in chunks {
        session.feed(chunk);
        out.extend(drain(session).iter().map(summary));
    }
    out
}

fn summary(item: &SessionItem) -> String {
    match item {
        SessionItem::Event(e) => format!("{}#{}", e.kind, e.id.as_deref().unwrap_or("-")),
        SessionItem::Skipped { .. } => "skip".to_owned(),
    }
}

fn reconnect_after(step: NextStep) -> Duration {
    match step {
        NextStep::Reconnect { after } => after,
        other => panic!("expected a reconnect, got {other:?}"),
    }
}

fn give_up(step: NextStep) -> Error {
    match step {
        NextStep::GiveUp(error) => error,
        other => panic!("expected to give up, got {other:?}"),
    }
}

fn api(status: u16, retry_after: Option<&str>) -> Disconnect {
    let mut error = ApiError::new(status, r#"{"detail":"nope"}"#);
    if let Some(value) = retry_after {
        error = error.retry_after(value);
    }
    Disconnect::Error(Error::Api(error))
}

fn refused() -> Disconnect {
    Disconnect::Error(Error::Transport(TransportError::new(
        TransportErrorKind::Connect,
        "connection refused",
        None,
    )))
}

fn header<'a>(
    headers: &'a [(&'static str, crate::sans_io::HeaderValue)],
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| std::str::from_utf8(v.as_bytes()).unwrap())
}

// --- Decoding through the session ------------------------------------------

#[test]
fn the_same_events_come_out_of_every_chunking() {
    let stream = format!(
        ": hello\r\n\r\n{}retry: 1500\r\n{}{}",
        frame(Some("1"), "connected", "null").replace('\n', "\r\n"),
        chunk(2),
        frame(
            None,
            "tool_call_request",
            r#"{"request_id":"r","operation_id":"o"}"#
        ),
    );
    let bytes = stream.as_bytes();
    let expected = ["connected#1", "chunk#2", "tool_call_request#2"];
    let t0 = Instant::now();

    let mut whole = open(policy(), t0);
    assert_eq!(run(&mut whole, &[bytes]), expected);
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let mut s = open(policy(), t0);
        assert_eq!(run(&mut s, &[a, b]), expected, "split at {split}");
        assert_eq!(s.server_retry(), Some(ms(1500)));
        assert_eq!(s.last_event_id(), Some("2"));
    }
    let mut bytewise = open(policy(), t0);
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(run(&mut bytewise, &chunks), expected);
    for size in [2, 3, 7, 64] {
        let mut s = open(policy(), t0);
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        assert_eq!(run(&mut s, &chunks), expected, "chunks of {size}");
    }
}

#[test]
fn events_are_typed_and_keep_their_sse_id() {
    let mut s = open(policy(), Instant::now());
    s.feed(chunk(7).as_bytes());
    match s.next_item() {
        Some(SessionItem::Event(e)) => {
            assert_eq!(e.kind, TaskEventType::Chunk);
            assert_eq!(e.payload.as_text(), Some("part 7"));
            assert_eq!(e.id.as_deref(), Some("7"));
            assert_eq!(e.task_id, "task-1");
        }
        other => panic!("{other:?}"),
    }
    assert!(s.next_item().is_none());
    assert_eq!(s.delivered(), 1);
}

#[test]
fn bytes_fed_before_the_stream_opens_are_ignored() {
    let mut s = session();
    s.feed(chunk(1).as_bytes());
    assert!(s.next_item().is_none());
    assert_eq!(s.on_open(200, SSE, Instant::now()), Opened::Stream);
    assert!(s.next_item().is_none());
    assert_eq!(s.buffered_bytes(), 0);
}

// --- Malformed events ------------------------------------------------------

#[test]
fn malformed_events_are_skipped_and_the_next_one_still_comes() {
    let limits = SseLimits {
        max_line_bytes: 256,
        max_event_bytes: 512,
    };
    let mut s = open(policy().limits(limits), Instant::now());
    let stream = [
        "data: {not json\n\n".to_owned(),
        chunk(1),
        "data: {\"task_id\":\"task-1\",\"data\":null}\n\n".to_owned(),
        chunk(2),
        format!("data: \"{}\"\n\n", "x".repeat(1000)),
        chunk(3),
        "data: [1,2]\n\n".to_owned(),
        "data: {\"type\":7,\"data\":null}\n\n".to_owned(),
        chunk(4),
    ]
    .concat();
    let out = run(&mut s, &[stream.as_bytes()]);
    assert_eq!(
        out,
        ["skip", "chunk#1", "skip", "chunk#2", "skip", "chunk#3", "skip", "skip", "chunk#4"]
    );
    assert_eq!(s.skipped(), 5);
    assert!(!s.is_done());
}

#[test]
fn skip_reasons_say_why_without_quoting_the_data() {
    let mut s = open(policy(), Instant::now());
    s.feed(b"id: 9\ndata: \"tok-SECRET-1\"\n\ndata: {\"data\":\"tok-SECRET-2\"}\n\ndata: {\"type\":\"chunk\n\n");
    let reasons: Vec<String> = drain(&mut s)
        .into_iter()
        .map(|item| match item {
            SessionItem::Skipped { reason } => reason,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].starts_with("event \"9\" dropped: not a task event"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("missing field `type`"),
        "{}",
        reasons[1]
    );
    assert!(reasons[2].contains("not JSON"), "{}", reasons[2]);
    for reason in &reasons {
        assert!(!reason.contains("SECRET"), "{reason}");
    }
}

#[test]
fn an_unknown_kind_is_delivered_not_skipped() {
    let mut s = open(policy(), Instant::now());
    s.feed(frame(Some("1"), "brand_new_kind", r#"{"x":1}"#).as_bytes());
    match s.next_item() {
        Some(SessionItem::Event(e)) => {
            assert!(e.kind.is_unknown());
            assert!(matches!(e.payload, EventPayload::Raw(_)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_with_empty_data_are_dropped_silently() {
    let mut s = open(policy(), Instant::now());
    let out = run(&mut s, &[b"data:\n\ndata:  \n\n", chunk(1).as_bytes()]);
    assert_eq!(out, ["chunk#1"]);
    assert_eq!(s.skipped(), 0);
}

// --- The end of the stream ---------------------------------------------------

#[test]
fn the_stream_stops_at_task_finished_and_drops_what_follows() {
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    let stream = [chunk(1), finished("2"), chunk(3)].concat();
    let items = drain_fed(&mut s, stream.as_bytes());
    assert_eq!(items, ["chunk#1", "task_finished#2"]);
    assert!(s.is_done() && s.is_finished());
    // The finished task is the event's payload.
    s.feed(chunk(4).as_bytes());
    assert!(s.next_item().is_none());
    assert_eq!(s.on_disconnect(Disconnect::Eof, t0), NextStep::Done);
    assert_eq!(s.last_event_id(), Some("2"));
}

fn drain_fed(s: &mut EventSession, bytes: &[u8]) -> Vec<String> {
    run(s, &[bytes])
}

#[test]
fn the_finished_event_carries_the_final_task() {
    let mut s = open(policy(), Instant::now());
    s.feed(finished("1").as_bytes());
    match s.next_item() {
        Some(SessionItem::Event(e)) => {
            assert!(e.is_finished());
            assert!(e.payload.as_task().unwrap().is_finished());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_stop_at_finish_events_after_it_still_come_and_the_end_is_done() {
    let t0 = Instant::now();
    let mut s = open(policy().stop_at_finish(false), t0);
    let stream = [chunk(1), finished("2"), chunk(3)].concat();
    assert_eq!(
        drain_fed(&mut s, stream.as_bytes()),
        ["chunk#1", "task_finished#2", "chunk#3"]
    );
    assert!(s.is_finished() && !s.is_done());
    // After task_finished, the end of the body is the end: no reconnect.
    assert_eq!(
        s.on_disconnect(Disconnect::Eof, t0 + secs(1)),
        NextStep::Done
    );
    assert!(s.is_done());

    // A broken connection or an idle timeout after it too.
    for why in [Disconnect::IdleTimeout, refused()] {
        let mut s = open(policy().stop_at_finish(false), t0);
        s.feed(finished("1").as_bytes());
        drain(&mut s);
        assert_eq!(s.on_disconnect(why, t0), NextStep::Done);
    }
}

#[test]
fn a_204_ends_the_stream() {
    let mut s = session();
    assert_eq!(
        s.on_open(204, None, Instant::now()),
        Opened::Then(NextStep::Done)
    );
    assert!(s.is_done());
    assert_eq!(
        s.on_disconnect(Disconnect::Eof, Instant::now()),
        NextStep::Done
    );
}

#[test]
fn stop_ends_the_session() {
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    s.feed(chunk(1).as_bytes());
    s.stop();
    assert!(s.is_done());
    assert!(s.next_item().is_none());
    assert_eq!(s.on_disconnect(Disconnect::Eof, t0), NextStep::Done);
    assert_eq!(s.on_open(200, SSE, t0), Opened::Then(NextStep::Done));
}

// --- Answers that are not a stream -------------------------------------------

#[test]
fn not_found_and_unauthorized_give_up_with_the_api_error() {
    for status in [404, 401, 403, 400, 500] {
        let t0 = Instant::now();
        let mut s = session();
        assert_eq!(
            s.on_open(status, Some("application/json"), t0),
            Opened::ReadError
        );
        let error = give_up(s.on_disconnect(api(status, None), t0));
        assert_eq!(error.status(), Some(status));
        assert!(matches!(&error, Error::Api(a) if a.detail.as_deref() == Some("nope")));
        assert_eq!(error.attempts(), 1);
        assert!(s.is_done());
    }
    let mut s = session();
    s.on_open(404, None, Instant::now());
    assert!(give_up(s.on_disconnect(api(404, None), Instant::now())).is_not_found());
    let mut s = session();
    s.on_open(401, None, Instant::now());
    assert!(give_up(s.on_disconnect(api(401, None), Instant::now())).is_unauthorized());
}

#[test]
fn throttling_and_gateway_errors_reconnect() {
    for status in [429, 502, 503, 504] {
        let t0 = Instant::now();
        let mut s = session();
        assert_eq!(s.on_open(status, None, t0), Opened::ReadError);
        assert_eq!(
            reconnect_after(s.on_disconnect(api(status, None), t0)),
            ms(500)
        );
        assert_eq!(s.on_open(200, SSE, t0), Opened::Stream);
    }
}

#[test]
fn retry_after_in_seconds_is_honoured_and_a_longer_one_gives_up() {
    let t0 = Instant::now();
    let mut s = session();
    s.on_open(503, None, t0);
    assert_eq!(
        reconnect_after(s.on_disconnect(api(503, Some(" 7 ")), t0)),
        secs(7)
    );

    // An HTTP date in the past: the backoff applies.
    s.on_open(429, None, t0);
    let date = Some("Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        reconnect_after(s.on_disconnect(api(429, date), t0)),
        secs(1)
    );
    // One in the future: the wait lasts until then (whole seconds: the
    // date names a time between 19 and 20 s from now).
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + secs(20));
    s.on_open(503, None, t0);
    let wait = reconnect_after(s.on_disconnect(api(503, Some(&soon)), t0));
    assert!(wait >= secs(18) && wait <= secs(20), "{wait:?}");
    // One far in the future: more patience than the policy has.
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + secs(3600));
    s.on_open(503, None, t0);
    let error = give_up(s.on_disconnect(api(503, Some(&later)), t0));
    assert_eq!(error.status(), Some(503));
    // A persistent session waits the cap.
    let mut s = EventSession::new("t", policy().persistent(true));
    s.on_open(503, None, t0);
    assert_eq!(
        reconnect_after(s.on_disconnect(api(503, Some(&later)), t0)),
        secs(30)
    );

    let mut s = session();
    s.on_open(503, None, t0);
    let error = give_up(s.on_disconnect(api(503, Some("120")), t0));
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.as_api().unwrap().retry_after.as_deref(), Some("120"));
}

#[test]
fn a_2xx_that_is_not_an_event_stream_is_an_error() {
    for content_type in [Some("application/json"), None, Some("text/event-streamx")] {
        let mut s = session();
        let error = match s.on_open(200, content_type, Instant::now()) {
            Opened::Then(step) => give_up(step),
            other => panic!("{other:?}"),
        };
        assert!(matches!(error, Error::Decode(_)), "{error:?}");
        assert_eq!(error.status(), Some(200));
        let shown = error.to_string();
        assert!(shown.contains("text/event-stream"), "{shown}");
        if let Some(ct) = content_type {
            assert!(shown.contains(ct), "{shown}");
        }
        assert!(s.is_done());
    }
    for content_type in ["Text/Event-Stream", "text/event-stream; charset=utf-8"] {
        assert_eq!(
            session().on_open(200, Some(content_type), Instant::now()),
            Opened::Stream
        );
    }
}

// --- Reconnecting --------------------------------------------------------------

#[test]
fn drops_before_task_finished_reconnect() {
    let t0 = Instant::now();
    for why in [Disconnect::Eof, Disconnect::IdleTimeout, refused()] {
        let mut s = open(policy(), t0);
        s.feed(chunk(1).as_bytes());
        drain(&mut s);
        assert_eq!(reconnect_after(s.on_disconnect(why, t0 + secs(1))), ms(500));
        assert!(!s.is_done());
    }
    // A failed connect (no answer at all) counts the same.
    let mut s = session();
    assert_eq!(reconnect_after(s.on_disconnect(refused(), t0)), ms(500));
    assert_eq!(reconnect_after(s.on_disconnect(refused(), t0)), secs(1));
}

#[test]
fn errors_of_other_kinds_give_up_at_once() {
    let mut s = session();
    let error = give_up(s.on_disconnect(
        Disconnect::Error(Error::Config("no key".into())),
        Instant::now(),
    ));
    assert!(matches!(error, Error::Config(_)));
    assert!(s.is_done());
}

#[test]
fn the_last_event_id_is_sent_on_every_reconnect() {
    let t0 = Instant::now();
    let mut s = session();
    let headers = s.request_headers();
    assert_eq!(header(&headers, "accept"), Some("text/event-stream"));
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "last-event-id"), None);

    s.on_open(200, SSE, t0);
    s.feed([chunk(1), chunk(2)].concat().as_bytes());
    drain(&mut s);
    reconnect_after(s.on_disconnect(Disconnect::Eof, t0));
    assert_eq!(header(&s.request_headers(), "last-event-id"), Some("2"));

    // A connection that brings no id keeps the one known.
    s.on_open(200, SSE, t0);
    s.feed(frame(None, "think", "{}").as_bytes());
    assert_eq!(drain(&mut s).len(), 1);
    reconnect_after(s.on_disconnect(refused(), t0));
    assert_eq!(s.last_event_id(), Some("2"));
    reconnect_after(s.on_disconnect(refused(), t0));
    assert_eq!(header(&s.request_headers(), "last-event-id"), Some("2"));

    // An id in a block without data counts too (the WHATWG rule).
    s.on_open(200, SSE, t0);
    s.feed(b"id: 5\n\n");
    assert!(s.next_item().is_none());
    assert_eq!(s.last_event_id(), Some("5"));
    // An empty id clears it.
    s.feed(b"id\n\n");
    assert!(s.next_item().is_none());
    assert_eq!(s.last_event_id(), None);
    assert_eq!(header(&s.request_headers(), "last-event-id"), None);
}

#[test]
fn an_id_that_cannot_be_a_header_is_not_sent_and_never_panics() {
    let t0 = Instant::now();
    let long = "7".repeat(MAX_LAST_EVENT_ID_BYTES + 1);
    for (id, sendable) in [
        ("ok-é-ünïcode", true),
        ("tab\there", true),
        ("bell\u{7}", false),
        ("del\u{7f}", false),
        (long.as_str(), false),
    ] {
        let mut s = open(policy(), t0);
        s.feed(frame(Some(id), "think", "{}").as_bytes());
        assert_eq!(drain(&mut s).len(), 1, "{id:?}");
        let headers = s.request_headers();
        assert_eq!(
            header(&headers, "last-event-id").is_some(),
            sendable,
            "{id:?}"
        );
        assert_eq!(s.last_event_id().is_some(), sendable, "{id:?}");

        let given = EventSession::new("t", policy()).with_last_event_id(id);
        assert_eq!(given.last_event_id().is_some(), sendable, "{id:?}");
    }
}

#[test]
fn replayed_events_are_not_delivered_twice() {
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    let first = [chunk(1), chunk(2), chunk(3)].concat();
    assert_eq!(
        drain_fed(&mut s, first.as_bytes()),
        ["chunk#1", "chunk#2", "chunk#3"]
    );
    reconnect_after(s.on_disconnect(Disconnect::Eof, t0 + secs(1)));

    // A server that ignores Last-Event-ID and replays from the start.
    s.on_open(200, SSE, t0 + secs(2));
    let replay = [chunk(1), chunk(2), chunk(3), chunk(4), finished("5")].concat();
    let chunks: Vec<&[u8]> = replay.as_bytes().chunks(5).collect();
    assert_eq!(run(&mut s, &chunks), ["chunk#4", "task_finished#5"]);
    assert_eq!(s.replayed(), 3);
    assert_eq!(s.delivered(), 5);
}

#[test]
fn an_event_that_inherits_the_id_before_it_is_not_a_replay() {
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    // Two identical events, the second without an id of its own: the
    // WHATWG rules give it the id of the first; it is still a new event.
    let same = frame(None, "chunk", "\"l\"");
    let stream = format!("id: 1\n{same}{same}");
    assert_eq!(drain_fed(&mut s, stream.as_bytes()), ["chunk#1", "chunk#1"]);
    assert_eq!(s.replayed(), 0);

    // After a reconnect, a new event that inherits a replayed id is new too.
    reconnect_after(s.on_disconnect(Disconnect::Eof, t0));
    s.on_open(200, SSE, t0);
    let stream = format!("id: 1\n{same}{}", frame(None, "chunk", "\"o\""));
    assert_eq!(drain_fed(&mut s, stream.as_bytes()), ["chunk#1"]);
    assert_eq!(s.replayed(), 1);
}

#[test]
fn an_id_reused_for_other_data_is_not_a_replay() {
    // A server that numbers events from 1 on each connection.
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    assert_eq!(drain_fed(&mut s, chunk(1).as_bytes()), ["chunk#1"]);
    reconnect_after(s.on_disconnect(Disconnect::Eof, t0));
    s.on_open(200, SSE, t0);
    let other = frame(Some("1"), "chunk", "\"something else\"");
    assert_eq!(drain_fed(&mut s, other.as_bytes()), ["chunk#1"]);
    assert_eq!(s.replayed(), 0);
}

#[test]
fn the_backoff_doubles_up_to_the_cap() {
    let p = policy().max_reconnects(20);
    let mut s = EventSession::new("t", p);
    let t0 = Instant::now();
    let delays: Vec<Duration> = (0..9)
        .map(|_| reconnect_after(s.on_disconnect(refused(), t0)))
        .collect();
    assert_eq!(
        delays,
        [
            ms(500),
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(16),
            secs(30),
            secs(30),
            secs(30)
        ]
    );
    assert_eq!(s.failures(), 9);
}

#[test]
fn jitter_stays_between_the_delay_and_twice_it_never_below_the_floor() {
    let p = StreamPolicy::default().max_reconnects(u32::MAX);
    let mut s = EventSession::new("t", p);
    let t0 = Instant::now();
    let mut distinct = std::collections::HashSet::new();
    for n in 0..200u32 {
        let delay = ms(500).saturating_mul(2u32.saturating_pow(n.min(20)));
        let high = delay.saturating_mul(2).min(secs(30));
        let low = (high / 2).max(ms(500));
        let d = reconnect_after(s.on_disconnect(refused(), t0));
        assert!(
            d >= low && d <= high,
            "draw {n}: {d:?} not in {low:?}..={high:?}"
        );
        distinct.insert(d);
    }
    assert!(distinct.len() > 100, "{}", distinct.len());
}

#[test]
fn a_connection_that_stayed_up_resets_the_backoff() {
    let p = policy().max_reconnects(10);
    let t0 = Instant::now();
    let mut s = EventSession::new("t", p);
    for expected in [ms(500), secs(1), secs(2)] {
        assert_eq!(reconnect_after(s.on_disconnect(refused(), t0)), expected);
    }
    // Up for less than reset_after, with no event: the count goes on.
    s.on_open(200, SSE, t0);
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0 + secs(59))),
        secs(4)
    );
    // Up for reset_after: a new count.
    s.on_open(200, SSE, t0 + secs(60));
    let step = s.on_disconnect(Disconnect::IdleTimeout, t0 + secs(120));
    assert_eq!(reconnect_after(step), ms(500));
    assert_eq!(s.failures(), 1);
}

#[test]
fn a_new_event_resets_the_give_up_count_but_only_time_up_resets_the_backoff() {
    let p = policy().max_reconnects(3);
    let t0 = Instant::now();
    let mut s = EventSession::new("t", p);
    reconnect_after(s.on_disconnect(refused(), t0));
    reconnect_after(s.on_disconnect(refused(), t0));

    // Only the `connected` handshake: not progress.
    s.on_open(200, SSE, t0);
    s.feed(frame(None, "connected", "null").as_bytes());
    assert_eq!(drain(&mut s).len(), 1);
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        secs(2)
    );
    assert_eq!(s.failures(), 3);

    // A new event is progress: the count towards max_reconnects starts
    // again, but the connection broke at once, so the backoff goes on.
    s.on_open(200, SSE, t0);
    s.feed(chunk(1).as_bytes());
    assert_eq!(drain(&mut s).len(), 1);
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0 + secs(1))),
        secs(4)
    );
    assert_eq!(s.failures(), 1);

    // Only replays: not progress either.
    s.on_open(200, SSE, t0);
    s.feed(chunk(1).as_bytes());
    assert_eq!(drain(&mut s).len(), 0);
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        secs(8)
    );
    assert_eq!(s.failures(), 2);

    // Many events on connections cut at once: the count of give-up never
    // grows, the waits stay at the cap instead of the base.
    for n in 2..12 {
        s.on_open(200, SSE, t0);
        s.feed(chunk(n).as_bytes());
        assert_eq!(drain(&mut s).len(), 1);
        let wait = reconnect_after(s.on_disconnect(Disconnect::Eof, t0 + secs(59)));
        assert!(wait >= secs(16), "{n}: {wait:?}");
    }
    assert_eq!(s.failures(), 1);
}

#[test]
fn a_zero_retry_hint_never_goes_below_the_floor() {
    let t0 = Instant::now();
    for jitter in [false, true] {
        let p = StreamPolicy::default()
            .jitter(jitter)
            .max_reconnects(u32::MAX);
        let mut s = EventSession::new("t", p);
        let mut now = t0;
        let mut previous = Duration::ZERO;
        for n in 0..50 {
            s.on_open(200, SSE, now);
            s.feed(b"retry: 0\n\n");
            s.feed(frame(None, "connected", "null").as_bytes());
            drain(&mut s);
            assert_eq!(s.server_retry(), Some(Duration::ZERO));
            let wait = reconnect_after(s.on_disconnect(Disconnect::Eof, now + ms(1)));
            assert!(wait >= ms(500), "{jitter} {n}: {wait:?}");
            // Exponential growth: each nominal delay doubles up to the cap.
            let nominal = ms(500).saturating_mul(1 << n.min(10)).min(secs(30));
            assert!(wait >= nominal.min(secs(15)), "{jitter} {n}: {wait:?}");
            if !jitter {
                assert!(wait >= previous);
                previous = wait;
            }
            now += wait + ms(1);
        }
    }
}

#[test]
fn retry_after_lengthens_a_wait_and_never_shortens_it() {
    let t0 = Instant::now();
    for persistent in [false, true] {
        let p = policy().persistent(persistent).max_reconnects(10);
        let mut s = EventSession::new("t", p);
        // Zero, a date in the past, garbage: the backoff's wait.
        for (value, expected) in [
            ("0", ms(500)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", secs(1)),
            ("soon", secs(2)),
            // Longer than the backoff: the server's.
            ("7", secs(7)),
            // Shorter than the backoff (8 s now): the backoff's.
            ("1", secs(8)),
        ] {
            s.on_open(503, None, t0);
            let wait = reconnect_after(s.on_disconnect(api(503, Some(value)), t0));
            assert_eq!(wait, expected, "{persistent} {value}");
        }
    }
}

#[test]
fn the_server_retry_hint_is_the_base_delay_up_to_the_cap() {
    let t0 = Instant::now();
    let mut s = open(policy().max_reconnects(10), t0);
    s.feed(b"retry: 2000\n\n");
    assert!(s.next_item().is_none());
    assert_eq!(s.server_retry(), Some(secs(2)));
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        secs(2)
    );
    // It stays for the next connections, and doubles like the default.
    assert_eq!(reconnect_after(s.on_disconnect(refused(), t0)), secs(4));

    // A hint beyond max_delay is held to it.
    s.on_open(200, SSE, t0);
    s.feed(b"retry: 3600000\n\n");
    assert!(s.next_item().is_none());
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        secs(30)
    );
}

#[test]
fn it_gives_up_after_max_reconnects_with_the_count_and_the_last_cause() {
    let t0 = Instant::now();
    let mut s = EventSession::new("task-1", policy().max_reconnects(2));
    reconnect_after(s.on_disconnect(refused(), t0));
    s.on_open(503, None, t0);
    reconnect_after(s.on_disconnect(api(503, None), t0));
    s.on_open(200, SSE, t0);
    let error = give_up(s.on_disconnect(Disconnect::IdleTimeout, t0 + secs(1)));
    assert!(s.is_done());
    assert_eq!(error.attempts(), 3);
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
    let shown = error.to_string();
    assert!(shown.contains("task `task-1`"), "{shown}");
    assert!(shown.contains("max_reconnects = 2"), "{shown}");
    assert!(shown.contains("idle timeout"), "{shown}");
    assert!(shown.contains("after 3 attempts"), "{shown}");
    // Ended: nothing more happens.
    assert_eq!(s.on_disconnect(Disconnect::Eof, t0), NextStep::Done);

    // An error status as the last cause stays the API error, counted.
    let mut s = EventSession::new("task-1", policy().max_reconnects(1));
    reconnect_after(s.on_disconnect(refused(), t0));
    s.on_open(502, None, t0);
    let error = give_up(s.on_disconnect(api(502, None), t0));
    assert_eq!(error.status(), Some(502));
    assert_eq!(error.attempts(), 2);
    assert!(error.to_string().contains("after 2 attempts"));
}

#[test]
fn no_reconnect_at_all_when_max_reconnects_is_zero() {
    let t0 = Instant::now();
    let mut s = open(policy().max_reconnects(0), t0);
    s.feed(chunk(1).as_bytes());
    drain(&mut s);
    let error = give_up(s.on_disconnect(Disconnect::Eof, t0));
    assert_eq!(error.attempts(), 1);
    assert!(matches!(&error, Error::Transport(t) if t.kind == TransportErrorKind::Disconnected));
    assert!(error.to_string().contains("before `task_finished`"));
}

// --- Memory ----------------------------------------------------------------------

#[test]
fn an_endless_stream_of_large_events_keeps_memory_bounded() {
    let limits = SseLimits {
        max_line_bytes: 64 * 1024,
        max_event_bytes: 64 * 1024,
    };
    let p = policy().limits(limits).max_remembered_ids(64);
    let mut s = open(p, Instant::now());
    let big = "y".repeat(40 * 1024);
    let mut most = 0;
    let mut delivered = 0;
    for n in 0..2_000u32 {
        let event = frame(Some(&n.to_string()), "chunk", &format!("\"{big}\""));
        // Each event in three chunks: the session holds partial events too.
        for piece in event.as_bytes().chunks(event.len() / 3 + 1) {
            s.feed(piece);
            most = most.max(s.buffered_bytes());
            delivered += drain(&mut s).len();
        }
    }
    assert_eq!(delivered, 2_000);
    // At most one event being decoded plus the fingerprints, whatever the
    // number of events (80 MB went through).
    assert!(most <= 64 * 1024 + 64 * 16, "{most}");
    // Between events: the fingerprints and the stream's last id ("1999").
    assert_eq!(s.buffered_bytes(), 64 * 16 + 4);

    // An oversized event is dropped, never buffered whole.
    let huge = frame(Some("x"), "chunk", &format!("\"{}\"", "z".repeat(1 << 20)));
    for piece in huge.as_bytes().chunks(8 * 1024) {
        s.feed(piece);
        drain(&mut s);
        assert!(s.buffered_bytes() <= 64 * 1024 + 8 * 1024 + 64 * 16);
    }
}

// --- Persistent streams and raw events (the agent worker's stream) -------------

#[test]
fn a_persistent_session_never_gives_up() {
    let t0 = Instant::now();
    let p = policy().persistent(true).max_reconnects(2);
    let mut s = EventSession::new("agent-1", p);
    let decode = Error::Decode(crate::error::DecodeError {
        status: 200,
        expected: "x",
        snippet: String::new(),
        source: <serde_json::Error as serde::de::Error>::custom("no"),
    });
    let whys = [
        api(400, None),
        api(401, None),
        api(404, None),
        api(500, None),
        refused(),
        Disconnect::Error(decode),
        Disconnect::Eof,
        Disconnect::IdleTimeout,
    ];
    let mut delays = Vec::new();
    for why in whys {
        delays.push(reconnect_after(s.on_disconnect(why, t0)));
    }
    // Past `max_reconnects`, still the doubling backoff up to the cap.
    assert_eq!(
        delays,
        [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000].map(ms)
    );
    // A Retry-After beyond the cap waits the cap; a shorter one than the
    // backoff, the backoff.
    assert_eq!(
        reconnect_after(s.on_disconnect(api(503, Some("3600")), t0)),
        secs(30)
    );
    assert_eq!(
        reconnect_after(s.on_disconnect(api(503, Some("7")), t0)),
        secs(30)
    );
    let mut fresh = EventSession::new("agent-1", policy().persistent(true));
    assert_eq!(
        reconnect_after(fresh.on_disconnect(api(503, Some("3600")), t0)),
        secs(30)
    );
    // Answers with nothing to read are failures tried again, not the end.
    for (status, content_type) in [(204, None), (204, SSE), (200, Some("text/html"))] {
        match s.on_open(status, content_type, t0) {
            Opened::Then(NextStep::Reconnect { after }) => assert_eq!(after, secs(30)),
            other => panic!("{status}: {other:?}"),
        }
        assert!(!s.is_done());
    }
    // Only the driver ends it.
    s.stop();
    assert_eq!(s.on_disconnect(Disconnect::Eof, t0), NextStep::Done);
}

#[test]
fn raw_events_keep_their_names_and_empty_data_and_drop_replays() {
    let t0 = Instant::now();
    let mut s = open(policy().persistent(true), t0);
    s.feed(b"event: worker-registration\ndata: {\"id\":\"w\"}\n\n: keep-alive\n\nevent: worker-environment-conflict\ndata:\n\nid: 7\nevent: agent-execution\ndata: {}\n\n");
    let events: Vec<_> = std::iter::from_fn(|| s.next_event())
        .map(|e| {
            let e = e.unwrap();
            (e.event().to_owned(), e.data().to_owned())
        })
        .collect();
    assert_eq!(
        events,
        [
            ("worker-registration".to_owned(), r#"{"id":"w"}"#.to_owned()),
            ("worker-environment-conflict".to_owned(), String::new()),
            ("agent-execution".to_owned(), "{}".to_owned()),
        ]
    );
    // None of it counts as progress by itself: a break is a failure...
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        ms(500)
    );
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        ms(1000)
    );
    assert_eq!(s.failures(), 2);
    // ... unless the driver marks the connection healthy: a new count of
    // failures, but the backoff goes on (the connection did not stay up).
    s.on_open(200, SSE, t0);
    s.mark_progress();
    assert_eq!(
        reconnect_after(s.on_disconnect(Disconnect::Eof, t0)),
        ms(2000)
    );
    assert_eq!(s.failures(), 1);
    // The same event replayed after a reconnect is dropped; the id is resumed from.
    s.on_open(200, SSE, t0);
    assert_eq!(s.last_event_id(), Some("7"));
    s.feed(
        b"id: 7\nevent: agent-execution\ndata: {}\n\nid: 8\nevent: agent-execution\ndata: {}\n\n",
    );
    let ids: Vec<_> = std::iter::from_fn(|| s.next_event())
        .map(|e| e.unwrap().id().map(str::to_owned))
        .collect();
    assert_eq!(ids, [Some("8".to_owned())]);
    assert_eq!(s.replayed(), 1);
}

// --- Secrets ---------------------------------------------------------------------

#[test]
fn debug_output_never_shows_event_data() {
    let t0 = Instant::now();
    let mut s = open(policy(), t0);
    let auth = frame(
        Some("1"),
        "auth_event",
        r#"{"type":"token_ready","data":{"access_token":"tok-SECRET-9"}}"#,
    );
    let partial = "data: {\"type\":\"chunk\",\"data\":\"tok-SECRET-9";
    s.feed(format!("{auth}{partial}").as_bytes());
    let item = s.next_item().unwrap();
    assert!(matches!(&item, SessionItem::Event(e) if e.kind == TaskEventType::AuthEvent));
    for shown in [
        format!("{item:?}"),
        format!("{s:?}"),
        format!("{:?}", s.policy()),
    ] {
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    assert!(format!("{item:?}").contains("AuthEvent"));
}
