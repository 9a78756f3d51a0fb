//! Reconnects under hostile hints (issue #18, "every server hint has a
//! floor") and the cancel safety of the async event stream (issue #19,
//! point 7), over HTTP against the emulator: the task event stream in both
//! faces, the agent stream through the worker runtime.
//!
//! Every timing check is a lower bound on the gaps between the connections
//! the emulator saw (a loaded machine only makes them longer) or a count of
//! connections; every wait is on state, with a generous patience.
#![cfg(all(feature = "emulator", feature = "blocking", feature = "async"))]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::model::{EventPayload, TaskEvent, TaskEventType};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::{AgentExecutionStatus, Error, RetryPolicy, Task, Tasks, UpdateTask};

const ORG: &str = "org-1";
/// Every task's event stream, for fault rules.
const STREAMS: &str = "/org-1/agent-execution/*";
/// The longest any wait on state may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

fn emulator() -> Emulator {
    Emulator::builder()
        .organization_id(ORG)
        .keep_alive_interval(Duration::from_millis(50))
        .start()
        .expect("the emulator starts")
}

fn client(emulator: &Emulator) -> Tasks {
    Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(ORG)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10)))
        .build()
        .expect("the client builds")
}

/// A streaming task, stored in the emulator.
fn streaming_task(emulator: &Emulator, id: &str) -> Task {
    let body = json!({
        "id": id, "agent_id": "agent-1", "organization_id": ORG,
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing", "events_streaming": true
    });
    emulator.seed_task(body.clone()).unwrap();
    serde_json::from_value(body).unwrap()
}

/// When the emulator received each request to exactly `path`, in order.
fn arrivals(emulator: &Emulator, path: &str) -> Vec<Instant> {
    let mut at: Vec<Instant> = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path_only() == path)
        .map(|r| r.received)
        .collect();
    at.sort();
    at
}

fn gaps(arrivals: &[Instant]) -> Vec<Duration> {
    arrivals.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The least a jittered wait may be after `n` failures in a row (from 1):
/// the delay (`base` doubled `n - 1` times) while twice it fits under
/// `max`, then half of `max`; never below `base`.
fn least_wait(base: Duration, max: Duration, n: u32) -> Duration {
    let next = base.saturating_mul(1 << n.min(20)).min(max);
    (next / 2).max(base)
}

/// Every gap is at least the backoff's least wait for its rank.
fn assert_backed_off(gaps: &[Duration], base: Duration, max: Duration, what: &str) {
    for (i, gap) in gaps.iter().enumerate() {
        let least = least_wait(base, max, i as u32 + 1);
        assert!(
            *gap >= least,
            "{what}: gap {i} is {gap:?}, less than {least:?}: {gaps:?}"
        );
    }
}

/// An HTTP date about `ahead` from now (whole seconds: up to a second
/// less), and the instant it names on the monotonic clock.
fn http_date_ahead(ahead: Duration) -> (String, Instant) {
    let (wall, now) = (std::time::SystemTime::now(), Instant::now());
    let date = httpdate::fmt_http_date(wall + ahead);
    let at = httpdate::parse_http_date(&date).unwrap();
    (date, now + at.duration_since(wall).unwrap_or_default())
}

fn events_path(task_id: &str) -> String {
    format!("/{ORG}/agent-execution/{task_id}/events")
}

#[derive(Debug, Clone, Copy)]
enum Face {
    Blocking,
    Async,
}

/// Reads the whole stream of `task` with `policy` in `face`: the events
/// and the errors, within PATIENCE.
async fn drain(
    face: Face,
    tasks: &Tasks,
    task: &Task,
    policy: StreamPolicy,
) -> (Vec<TaskEvent>, Vec<Error>) {
    let read = async {
        let (mut events, mut errors) = (Vec::new(), Vec::new());
        match face {
            Face::Blocking => {
                let (tasks, task) = (tasks.clone(), task.clone());
                let items = tokio::task::spawn_blocking(move || {
                    task.events_with(&tasks, policy)
                        .unwrap()
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap();
                for item in items {
                    match item {
                        Ok(event) => events.push(event),
                        Err(error) => errors.push(error),
                    }
                }
            }
            Face::Async => {
                let mut stream = task.aevents_with(tasks, policy).unwrap();
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(event) => events.push(event),
                        Err(error) => errors.push(error),
                    }
                }
            }
        }
        (events, errors)
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the stream ends in time")
}

const FACES: [Face; 2] = [Face::Blocking, Face::Async];

// ----- the task event stream: every hint has a floor ------------------------------------

/// A stream that asks for `retry: 0` and is cut after its handshake on
/// every connection: the reconnects back off from the policy's initial
/// delay, doubling, and the session gives up after `max_reconnects`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_zero_and_a_cut_on_every_connection_back_off_from_the_floor() {
    for face in FACES {
        let emulator = emulator();
        let tasks = client(&emulator);
        let task = streaming_task(&emulator, "t-flood");
        emulator.inject(
            Fault::on("GET", STREAMS)
                .always()
                .drop_after(1)
                .sse_retry(Duration::ZERO),
        );
        let (base, max) = (Duration::from_millis(40), Duration::from_secs(2));
        let policy = StreamPolicy::default()
            .initial_delay(base)
            .max_delay(max)
            .max_reconnects(4);
        let (events, errors) = drain(face, &tasks, &task, policy).await;
        assert!(
            events.iter().all(|e| e.kind == TaskEventType::Connected),
            "{face:?}"
        );
        assert_eq!(errors.len(), 1, "{face:?}: it gives up: {errors:?}");
        let at = arrivals(&emulator, &events_path("t-flood"));
        assert_eq!(
            at.len(),
            5,
            "{face:?}: one connection and max_reconnects more"
        );
        assert_backed_off(&gaps(&at), base, max, &format!("{face:?} retry: 0"));
    }
}

/// A refusal with `Retry-After: 0` on every connection: the same floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_zero_refusal_backs_off_from_the_floor() {
    for face in FACES {
        let emulator = emulator();
        let tasks = client(&emulator);
        let task = streaming_task(&emulator, "t-refused");
        emulator.inject(
            Fault::on("GET", STREAMS)
                .always()
                .respond(503, json!({"detail": "busy"}))
                .retry_after("0"),
        );
        let (base, max) = (Duration::from_millis(40), Duration::from_secs(2));
        let policy = StreamPolicy::default()
            .initial_delay(base)
            .max_delay(max)
            .max_reconnects(4);
        let (events, errors) = drain(face, &tasks, &task, policy).await;
        assert!(events.is_empty());
        assert_eq!(errors.len(), 1, "{face:?}");
        assert_eq!(errors[0].status(), Some(503), "{face:?}: {}", errors[0]);
        let at = arrivals(&emulator, &events_path("t-refused"));
        assert_eq!(at.len(), 5, "{face:?}");
        assert_backed_off(&gaps(&at), base, max, &format!("{face:?} Retry-After: 0"));
    }
}

/// A refusal whose `Retry-After` is an HTTP date (RFC 9110 allows one; CDNs
/// send them): the wait lasts until that date, as a delay in seconds
/// would, not the backoff's short one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_http_date_lengthens_the_wait() {
    for face in FACES {
        let emulator = emulator();
        let tasks = client(&emulator);
        let task = streaming_task(&emulator, "t-date");
        let (date, due) = http_date_ahead(Duration::from_secs(3));
        emulator.inject(
            Fault::on("GET", STREAMS)
                .always()
                .respond(503, json!({"detail": "busy"}))
                .retry_after(date),
        );
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(Duration::from_secs(10))
            .max_reconnects(1);
        let (events, errors) = drain(face, &tasks, &task, policy).await;
        assert!(events.is_empty());
        assert_eq!(errors.len(), 1, "{face:?}");
        let at = arrivals(&emulator, &events_path("t-date"));
        assert_eq!(at.len(), 2, "{face:?}");
        // Not before the date (a little slack for the two clocks).
        assert!(
            at[1] + Duration::from_millis(100) >= due,
            "{face:?}: {:?} early",
            due - at[1]
        );
    }
}

/// The normal path next to it: a `retry:` longer than the initial delay
/// lengthens every wait; one above `max_delay` is held to it (the stream
/// does not wait an hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_hint_lengthens_the_wait_and_one_above_the_cap_is_capped() {
    for face in FACES {
        let emulator = emulator();
        let tasks = client(&emulator);
        let task = streaming_task(&emulator, "t-long");
        let hint = Duration::from_millis(300);
        emulator.inject(
            Fault::on("GET", STREAMS)
                .always()
                .drop_after(1)
                .sse_retry(hint),
        );
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(Duration::from_secs(5))
            .max_reconnects(2);
        let (_, errors) = drain(face, &tasks, &task, policy).await;
        assert_eq!(errors.len(), 1);
        let at = arrivals(&emulator, &events_path("t-long"));
        assert_eq!(at.len(), 3, "{face:?}");
        assert_backed_off(
            &gaps(&at),
            hint,
            Duration::from_secs(5),
            &format!("{face:?} retry: 300"),
        );

        let emulator = self::emulator();
        let tasks = client(&emulator);
        let task = streaming_task(&emulator, "t-capped");
        let hour = Duration::from_secs(3600);
        emulator.inject(
            Fault::on("GET", STREAMS)
                .always()
                .drop_after(1)
                .sse_retry(hour),
        );
        let max = Duration::from_millis(150);
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(max)
            .max_reconnects(2);
        let started = Instant::now();
        let (_, errors) = drain(face, &tasks, &task, policy).await;
        assert_eq!(errors.len(), 1);
        assert!(started.elapsed() < PATIENCE);
        let at = arrivals(&emulator, &events_path("t-capped"));
        assert_eq!(at.len(), 3, "{face:?}");
        // Held to the cap: every wait is the cap itself, no less.
        assert_backed_off(&gaps(&at), max, max, &format!("{face:?} retry: 1 h"));
    }
}

// ----- the async event stream: cancel safety --------------------------------------------

/// The stream that holds its request under way stays `Send + Sync`.
#[test]
fn the_event_streams_stay_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<xpander_sdk::nonblocking::EventStream>();
    send_sync::<xpander_sdk::blocking::EventStream>();
}

/// Polls `future` once with a waker that does nothing, then drops it.
fn poll_once_and_drop<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// `next()` dropped again and again while the stream waits out its
/// backoff (a `select!` with a timeout arm, and a single poll with a noop
/// waker): the next call goes on with the same wait, so the gaps the
/// emulator saw still respect the backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_dropped_during_the_backoff_keeps_the_wait() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = streaming_task(&emulator, "t-cancel");
    emulator.inject(
        Fault::on("GET", STREAMS)
            .always()
            .drop_after(1)
            .sse_retry(Duration::ZERO),
    );
    let (base, max) = (Duration::from_millis(60), Duration::from_secs(2));
    let policy = StreamPolicy::default()
        .initial_delay(base)
        .max_delay(max)
        .max_reconnects(4);
    let mut stream = task.aevents_with(&tasks, policy).unwrap();
    let started = Instant::now();
    let (mut dropped, mut handshakes, mut ended) = (0u32, 0u32, false);
    let mut n = 0u32;
    while !ended {
        assert!(started.elapsed() < PATIENCE, "the stream ends in time");
        n += 1;
        let outcome = if n.is_multiple_of(2) {
            tokio::time::timeout(Duration::from_millis(1), stream.next())
                .await
                .ok()
        } else {
            let polled = poll_once_and_drop(stream.next());
            tokio::time::sleep(Duration::from_millis(1)).await;
            polled
        };
        match outcome {
            None => dropped += 1,
            Some(Some(Ok(event))) => {
                assert_eq!(event.kind, TaskEventType::Connected);
                handshakes += 1;
            }
            Some(Some(Err(_))) | Some(None) => ended = true,
        }
    }
    assert!(dropped >= 10, "the calls were cut: {dropped}");
    let at = arrivals(&emulator, &events_path("t-cancel"));
    assert_eq!(at.len(), 5, "no extra connection for a dropped call");
    assert!((1..=5).contains(&handshakes), "{handshakes}");
    assert_backed_off(&gaps(&at), base, max, "next() dropped while waiting");
}

/// The same through the `futures` Stream (`into_stream`), polled with a
/// timeout each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_stream_polled_with_timeouts_keeps_the_wait() {
    use futures_core::Stream;
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = streaming_task(&emulator, "t-poll");
    emulator.inject(
        Fault::on("GET", STREAMS)
            .always()
            .drop_after(1)
            .sse_retry(Duration::ZERO),
    );
    let (base, max) = (Duration::from_millis(60), Duration::from_secs(2));
    let policy = StreamPolicy::default()
        .initial_delay(base)
        .max_delay(max)
        .max_reconnects(3);
    let mut stream = Box::pin(task.aevents_with(&tasks, policy).unwrap().into_stream());
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < PATIENCE, "the stream ends in time");
        let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx));
        match tokio::time::timeout(Duration::from_millis(1), next).await {
            Err(_) | Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => break,
        }
    }
    let at = arrivals(&emulator, &events_path("t-poll"));
    assert_eq!(at.len(), 4);
    assert_backed_off(&gaps(&at), base, max, "poll_next cut by timeouts");
}

/// `next()` dropped while the answer's head is awaited: the same request
/// goes on; no second connection is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_dropped_while_the_answer_is_awaited_keeps_the_request() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = streaming_task(&emulator, "t-head");
    emulator.inject(Fault::on("GET", STREAMS).hold());
    let policy = StreamPolicy::default().initial_delay(Duration::from_millis(5));
    let mut stream = task.aevents_with(&tasks, policy).unwrap();
    let started = Instant::now();
    while emulator.held() == 0 {
        assert!(started.elapsed() < PATIENCE, "the request arrives");
        let cut = tokio::time::timeout(Duration::from_millis(2), stream.next()).await;
        assert!(cut.is_err(), "held: nothing comes");
    }
    for n in 0..40u32 {
        if n.is_multiple_of(2) {
            let cut = tokio::time::timeout(Duration::from_millis(2), stream.next()).await;
            assert!(cut.is_err(), "held: nothing comes");
        } else {
            assert!(poll_once_and_drop(stream.next()).is_none());
        }
    }
    assert_eq!(
        arrivals(&emulator, &events_path("t-head")).len(),
        1,
        "one request"
    );
    emulator.release(1);
    let first = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert_eq!(first.unwrap().unwrap().kind, TaskEventType::Connected);
    assert_eq!(
        arrivals(&emulator, &events_path("t-head")).len(),
        1,
        "the same request answered"
    );
}

/// `next()` dropped while a read waits: no event is lost or given twice,
/// and the idle deadline is not restarted by each call (a silent
/// connection is still given up after `idle_timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_dropped_while_reading_loses_no_event_and_keeps_the_idle_deadline() {
    // Events pushed while every read is cut short.
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = streaming_task(&emulator, "t-read");
    let mut stream = task.aevents_with(&tasks, StreamPolicy::default()).unwrap();
    // The handshake first: from here on the stream is live (a new stream
    // gets no backlog).
    let connected = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap();
    assert_eq!(connected.unwrap().unwrap().kind, TaskEventType::Connected);
    let pusher = {
        let tasks = tasks.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let chunk = TaskEvent::new(
                    TaskEventType::Chunk,
                    "t-read",
                    ORG,
                    EventPayload::Text(format!("c{i}")),
                );
                tasks.apush_events("t-read", &[chunk]).await.unwrap();
            }
            let done = UpdateTask::new().status(AgentExecutionStatus::Completed);
            tasks.aupdate("t-read", &done).await.unwrap();
        })
    };
    let mut events = Vec::new();
    let started = Instant::now();
    let mut n = 0u32;
    loop {
        assert!(started.elapsed() < PATIENCE, "the stream ends in time");
        n += 1;
        let outcome = if n.is_multiple_of(3) {
            poll_once_and_drop(stream.next())
        } else {
            tokio::time::timeout(Duration::from_micros(300), stream.next())
                .await
                .ok()
        };
        match outcome {
            None => {}
            Some(Some(event)) => events.push(event.unwrap()),
            Some(None) => break,
        }
    }
    pusher.await.unwrap();
    let texts: Vec<String> = events
        .iter()
        .filter_map(|e| e.payload.as_text().map(str::to_owned))
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    assert_eq!(texts, expected);
    assert!(events.last().unwrap().is_finished());
    assert_eq!(arrivals(&emulator, &events_path("t-read")).len(), 1);

    // A stream that goes silent after its handshake (no keep-alive either):
    // the idle timeout still ends the connection, though each call is cut
    // long before it.
    let emulator = self::emulator();
    let tasks = client(&emulator);
    let task = streaming_task(&emulator, "t-idle");
    emulator.inject(Fault::on("GET", STREAMS).stall_after(1));
    let (idle, base) = (Duration::from_millis(300), Duration::from_millis(50));
    let policy = StreamPolicy::default()
        .idle_timeout(idle)
        .initial_delay(base);
    let mut stream = task.aevents_with(&tasks, policy).unwrap();
    let started = Instant::now();
    while arrivals(&emulator, &events_path("t-idle")).len() < 2 {
        assert!(
            started.elapsed() < PATIENCE,
            "the silent connection is given up"
        );
        let _ = tokio::time::timeout(Duration::from_millis(2), stream.next()).await;
    }
    let at = arrivals(&emulator, &events_path("t-idle"));
    assert!(at[1] - at[0] >= idle + base, "{:?}", at[1] - at[0]);
    emulator.release(1);
}

// ----- the agent stream: the worker runtime --------------------------------------------

#[cfg(feature = "runtime")]
mod agent_stream {
    use super::*;
    use xpander_sdk::runtime::{BoxError, TaskContext, Worker, WorkerPolicy};

    const AGENT: &str = "agent-rc";

    fn stream_path() -> String {
        format!("/{ORG}/events/{AGENT}/")
    }

    /// Runs a worker of `AGENT` with this stream policy until the emulator
    /// saw `connections` agent-stream requests; answers their arrivals.
    async fn run_until(
        emulator: &Emulator,
        stream: StreamPolicy,
        connections: usize,
    ) -> Vec<Instant> {
        let tasks = client(emulator);
        let worker = Worker::builder(tasks)
            .agent_id(AGENT)
            .policy(WorkerPolicy::default().stream(stream))
            .handle_signals(false)
            .handler(|task: Task, _ctx: TaskContext| async move { Ok::<_, BoxError>(task) })
            .build()
            .expect("the worker builds");
        let handle = worker.shutdown_handle();
        let run = tokio::spawn(worker.run());
        let started = Instant::now();
        while arrivals(emulator, &stream_path()).len() < connections {
            assert!(
                started.elapsed() < PATIENCE,
                "{connections} connections in time"
            );
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        handle.shutdown();
        tokio::time::timeout(PATIENCE, run)
            .await
            .expect("the run ends")
            .expect("no panic")
            .expect("a clean exit");
        arrivals(emulator, &stream_path())
    }

    /// Every registration is followed by a cut, with `retry: 0`: the
    /// worker backs off from its initial delay, doubling (the handshake
    /// does not reset the backoff), instead of reconnecting at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retry_zero_and_a_cut_after_every_registration_back_off_from_the_floor() {
        let emulator = emulator();
        emulator.inject(
            Fault::on("GET", &stream_path())
                .always()
                .drop_after(1)
                .sse_retry(Duration::ZERO),
        );
        let (base, max) = (Duration::from_millis(40), Duration::from_millis(800));
        let policy = StreamPolicy::default().initial_delay(base).max_delay(max);
        let at = run_until(&emulator, policy, 6).await;
        // Counted against a bound: 6 connections cannot come in less than
        // the sum of the least waits.
        let least: Duration = (1..6).map(|n| least_wait(base, max, n)).sum();
        assert!(at[5] - at[0] >= least, "{:?}", gaps(&at));
        assert_backed_off(&gaps(&at[..6]), base, max, "agent stream, retry: 0");
    }

    /// A refused agent stream with `Retry-After: 0`: the same floor.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_after_zero_refusal_backs_off_from_the_floor() {
        let emulator = emulator();
        emulator.inject(
            Fault::on("GET", &stream_path())
                .always()
                .respond(503, json!({"detail": "busy"}))
                .retry_after("0"),
        );
        let (base, max) = (Duration::from_millis(40), Duration::from_millis(800));
        let policy = StreamPolicy::default().initial_delay(base).max_delay(max);
        let at = run_until(&emulator, policy, 6).await;
        assert_backed_off(&gaps(&at[..6]), base, max, "agent stream, Retry-After: 0");
    }

    /// A refused agent stream whose error body stops coming half-way: the
    /// worker gives the body up after the idle timeout and reconnects
    /// (after its backoff), instead of waiting for the rest for ever with
    /// no stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_whose_body_stalls_is_given_up_and_the_worker_reconnects() {
        let (addr, count) = stalled_error_body();
        let policy = StreamPolicy::default()
            .idle_timeout(Duration::from_millis(300))
            .initial_delay(Duration::from_millis(10));
        let worker = Worker::builder(hostile_client(addr))
            .agent_id(AGENT)
            .policy(WorkerPolicy::default().stream(policy))
            .handle_signals(false)
            .handler(|task: Task, _ctx: TaskContext| async move { Ok::<_, BoxError>(task) })
            .build()
            .expect("the worker builds");
        let handle = worker.shutdown_handle();
        let run = tokio::spawn(worker.run());
        let started = Instant::now();
        while count.load(std::sync::atomic::Ordering::SeqCst) < 3 {
            assert!(started.elapsed() < PATIENCE, "the worker reconnects");
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        handle.shutdown();
        let _ = tokio::time::timeout(PATIENCE, run)
            .await
            .expect("the run ends");
    }

    /// A refused agent stream whose `Retry-After` is an HTTP date: the
    /// worker waits until then.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_after_http_date_lengthens_the_wait() {
        let emulator = emulator();
        let (date, due) = http_date_ahead(Duration::from_secs(3));
        emulator.inject(
            Fault::on("GET", &stream_path())
                .always()
                .respond(503, json!({"detail": "busy"}))
                .retry_after(date),
        );
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(Duration::from_secs(10));
        let at = run_until(&emulator, policy, 2).await;
        assert!(
            at[1] + Duration::from_millis(100) >= due,
            "{:?} early",
            due - at[1]
        );
    }

    /// The normal path: a long `retry:` lengthens the waits; one above the
    /// cap is held to the cap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_retry_hint_lengthens_the_wait_and_one_above_the_cap_is_capped() {
        let emulator = emulator();
        let hint = Duration::from_millis(250);
        emulator.inject(
            Fault::on("GET", &stream_path())
                .always()
                .drop_after(1)
                .sse_retry(hint),
        );
        let max = Duration::from_secs(5);
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(max);
        let at = run_until(&emulator, policy, 3).await;
        assert_backed_off(&gaps(&at[..3]), hint, max, "agent stream, retry: 250");

        let emulator = self::emulator();
        let hour = Duration::from_secs(3600);
        emulator.inject(
            Fault::on("GET", &stream_path())
                .always()
                .drop_after(1)
                .sse_retry(hour),
        );
        let max = Duration::from_millis(150);
        let policy = StreamPolicy::default()
            .initial_delay(Duration::from_millis(10))
            .max_delay(max);
        // Three connections within PATIENCE: the hour was held to 150 ms.
        let at = run_until(&emulator, policy, 3).await;
        assert_backed_off(&gaps(&at[..3]), max, max, "agent stream, retry: 1 h");
    }
}

// ----- an error answer whose body stalls ---------------------------------------------------

/// A hostile server on loopback: every request gets a `503` head that
/// promises a body of 1,000 bytes, a few of them, then silence on a
/// connection kept open (a proxy that died half-way, a half-open TCP
/// connection). Answers its address and the count of connections.
fn stalled_error_body() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let (c, kept) = (count.clone(), Arc::new(Mutex::new(Vec::new())));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            c.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                  content-length: 1000\r\n\r\n{\"detail\": \"bu",
            );
            let _ = stream.flush();
            // Kept open, silent, until the test process ends.
            kept.lock().unwrap().push(stream);
        }
    });
    (addr, count)
}

fn hostile_client(addr: std::net::SocketAddr) -> Tasks {
    Tasks::builder()
        .base_url(format!("http://{addr}"))
        .api_key("k-stall")
        .organization_id(ORG)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10)))
        .build()
        .expect("the client builds")
}

/// The body of an error answer that stops coming is given up after the
/// idle timeout, like the body of a stream: the session goes on (here: it
/// reconnects once, then gives up with a timeout) instead of waiting for
/// the rest of the body for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_answer_whose_body_stalls_is_given_up_after_the_idle_timeout() {
    for face in FACES {
        let (addr, count) = stalled_error_body();
        let tasks = hostile_client(addr);
        let task: Task = serde_json::from_value(json!({
            "id": "t-stall", "agent_id": "agent-1", "organization_id": ORG,
            "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
            "status": "executing", "events_streaming": true
        }))
        .unwrap();
        let policy = StreamPolicy::default()
            .idle_timeout(Duration::from_millis(300))
            .initial_delay(Duration::from_millis(10))
            .max_reconnects(1);
        let (events, errors) = drain(face, &tasks, &task, policy).await;
        assert!(events.is_empty(), "{face:?}");
        assert_eq!(errors.len(), 1, "{face:?}: it gives up: {errors:?}");
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "{face:?}: one connection and one reconnect"
        );
    }
}

/// `next()` dropped while an error answer's body comes: the bytes read so
/// far are kept, so the error built from it is whole (its detail intact),
/// and the answer is not asked for again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_dropped_while_an_error_body_comes_keeps_its_bytes() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let body = br#"{"detail": "the whole detail of a refusal"}"#;
            let (first, rest) = body.split_at(20);
            let head = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(first);
            let _ = stream.flush();
            let _ = wait.recv();
            let _ = stream.write_all(rest);
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(3600));
        }
    });
    let tasks = hostile_client(addr);
    let task: Task = serde_json::from_value(json!({
        "id": "t-body", "agent_id": "agent-1", "organization_id": ORG,
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing", "events_streaming": true
    }))
    .unwrap();
    let policy = StreamPolicy::default().idle_timeout(PATIENCE);
    let mut stream = task.aevents_with(&tasks, policy).unwrap();
    let started = Instant::now();
    // Cut until the body is being read (the head came), then some more.
    while !format!("{stream:?}").contains("ErrorBody") {
        assert!(started.elapsed() < PATIENCE, "the head comes");
        let cut = tokio::time::timeout(Duration::from_millis(2), stream.next()).await;
        assert!(cut.is_err(), "nothing comes before the body ends");
    }
    for n in 0..20u32 {
        if n.is_multiple_of(2) {
            let cut = tokio::time::timeout(Duration::from_millis(2), stream.next()).await;
            assert!(cut.is_err(), "the body is not over");
        } else {
            assert!(poll_once_and_drop(stream.next()).is_none());
        }
    }
    go.send(()).unwrap();
    let error = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the error comes")
        .expect("an item")
        .expect_err("an error");
    assert_eq!(error.status(), Some(403), "{error}");
    assert!(
        error.to_string().contains("the whole detail of a refusal"),
        "{error}"
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
}
