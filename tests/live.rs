//! The live side of a task through both faces against the emulator: the
//! event stream (order, live delivery, resume after a drop, idle timeout,
//! error statuses, malformed events, bounded memory), waiting for a result
//! (followed and polled, finished mid-wait, timeout), and the recorded
//! requests of the official client's task extras.
//!
//! Each scenario is written once and expanded for both faces, as the crate's
//! own front end is.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use xpander_sdk::emulator::{ApiKeyCheck, Emulator, Fault, MalformedFrame};
use xpander_sdk::model::{EventPayload, TaskEvent, TaskEventType};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::sans_io::wait::WaitPolicy;
use xpander_sdk::{AgentExecutionStatus, Error, RetryPolicy, Tasks};

const KEY: &str = "live-key";
const ORG: &str = "org-1";
/// The event streams' paths, for fault rules.
const STREAMS: &str = "/org-1/agent-execution/*";

/// How many stream requests the emulator received for `task_id`.
fn stream_requests(emulator: &Emulator, task_id: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path_only() == format!("/{ORG}/agent-execution/{task_id}/events"))
        .count()
}

fn emulator() -> Arc<Emulator> {
    Arc::new(
        Emulator::builder()
            .api_key(KEY)
            .organization_id(ORG)
            .start()
            .unwrap(),
    )
}

/// As [`emulator`], serving https.
fn emulator_over_https() -> Arc<Emulator> {
    let builder = Emulator::builder().api_key(KEY).organization_id(ORG);
    Arc::new(builder.tls(true).start().unwrap())
}

/// A client of `emulator` (trusting its root when it serves https).
fn client(emulator: &Emulator) -> Tasks {
    common::builder(emulator)
        .organization_id(ORG)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10)))
        .build()
        .unwrap()
}

/// A streaming task, stored in the emulator.
fn streaming_task(emulator: &Emulator, id: &str) -> xpander_sdk::Task {
    let body = json!({
        "id": id, "agent_id": "agent-1", "organization_id": ORG,
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing", "events_streaming": true
    });
    emulator.seed_task(body.clone()).unwrap();
    serde_json::from_value(body).unwrap()
}

/// Fast reconnects for tests (the backoff is a parameter, not an assertion).
fn quick() -> StreamPolicy {
    StreamPolicy::default()
        .initial_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(20))
}

fn kinds(events: &[TaskEvent]) -> Vec<String> {
    events.iter().map(|e| e.kind.to_string()).collect()
}

/// Every SSE id once, in increasing order (the `connected` handshake has
/// none; every other event has one).
fn assert_ids_once_in_order(events: &[TaskEvent]) {
    let ids: Vec<u64> = events
        .iter()
        .filter(|e| e.kind != TaskEventType::Connected)
        .map(|e| {
            e.id.as_deref()
                .unwrap_or_else(|| panic!("no id: {:?} in {:?}", e.kind, kinds(events)))
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
}

/// Waits (on state, not on time) until the emulator has seen `n` requests
/// whose path contains `part`.
fn until_requests(emulator: &Emulator, part: &str, n: usize) {
    let started = Instant::now();
    while emulator
        .requests()
        .iter()
        .filter(|r| r.path.contains(part))
        .count()
        < n
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no request {part}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

macro_rules! live_scenarios {
    (
        $mode:meta, $face:ident,
        events_with: $events_with:ident, update: $update:ident, push: $push:ident,
        wait: $wait:ident, activity: $activity:ident, metrics: $metrics:ident,
        plan: $plan:ident, get: $get:ident
    ) => {
        pub mod $face {
            use super::*;

            /// Reads events until the stream ends; the errors too.
            #[$mode]
            pub async fn drain(
                mut stream: impl_stream!($face),
            ) -> (Vec<TaskEvent>, Vec<Error>) {
                let (mut events, mut errors) = (Vec::new(), Vec::new());
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(event) => events.push(event),
                        Err(error) => errors.push(error),
                    }
                }
                (events, errors)
            }

            /// The first events arrive while the task still runs; the
            /// changes made through the API follow in order; the stream ends
            /// after `task_finished`.
            #[$mode]
            pub async fn live_in_order(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-live");
                let mut stream = task.$events_with(&tasks, quick()).unwrap();
                let first = stream.next().await.unwrap().unwrap();
                assert_eq!(first.kind, TaskEventType::Connected);
                // The task has not finished: this event came live.
                let chunk = TaskEvent::new(
                    TaskEventType::Chunk,
                    "t-live",
                    ORG,
                    EventPayload::Text("Hel".into()),
                );
                tasks.$push("t-live", &[chunk]).await.unwrap();
                let second = stream.next().await.unwrap().unwrap();
                assert_eq!(second.payload.as_text(), Some("Hel"));
                tasks
                    .$update(
                        "t-live",
                        &xpander_sdk::UpdateTask::new()
                            .status(AgentExecutionStatus::Completed)
                            .result("Hello"),
                    )
                    .await
                    .unwrap();
                let (rest, errors) = drain(stream).await;
                assert!(errors.is_empty(), "{errors:?}");
                assert_eq!(kinds(&rest).last().map(String::as_str), Some("task_finished"));
                let finished = rest.last().unwrap().payload.as_task().unwrap();
                assert_eq!(finished.result.as_deref(), Some("Hello"));
                let mut all = vec![first, second];
                all.extend(rest);
                assert_ids_once_in_order(&all);
            }

            /// A drop after 3 events: resumed with `Last-Event-ID`, every
            /// event seen exactly once.
            #[$mode]
            pub async fn resume_after_a_drop(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-drop");
                // The first connection is dropped after 3 events.
                emulator.inject(Fault::on("GET", STREAMS).drop_after(3));
                let mut stream = task.$events_with(&tasks, quick()).unwrap();
                let first = stream.next().await.unwrap().unwrap();
                let mut events = vec![first];
                assert_eq!(events[0].kind, TaskEventType::Connected);
                // Pushed while the stream is open: the first two reach it,
                // the connection drops, the rest comes after the resume.
                let chunks: Vec<TaskEvent> = (0..6)
                    .map(|i| {
                        TaskEvent::new(TaskEventType::Chunk, "t-drop", ORG, EventPayload::Text(format!("c{i}")))
                    })
                    .collect();
                tasks.$push("t-drop", &chunks).await.unwrap();
                tasks
                    .$update(
                        "t-drop",
                        &xpander_sdk::UpdateTask::new().status(AgentExecutionStatus::Completed),
                    )
                    .await
                    .unwrap();
                let (rest, errors) = drain(stream).await;
                assert!(errors.is_empty(), "{errors:?}");
                events.extend(rest);
                let texts: Vec<_> = events.iter().filter_map(|e| e.payload.as_text()).collect();
                assert_eq!(texts, ["c0", "c1", "c2", "c3", "c4", "c5"], "{:?}", kinds(&events));
                assert_ids_once_in_order(&events);
                assert!(events.last().unwrap().is_finished());
                let streams: Vec<_> = emulator
                    .requests()
                    .into_iter()
                    .filter(|r| r.path.ends_with("/events"))
                    .collect();
                assert_eq!(streams.len(), 2, "one reconnect");
                assert_eq!(streams[0].header("last-event-id"), None);
                // Resumed from the last event received before the drop.
                let resumed_at = streams[1].header("last-event-id").unwrap();
                assert_eq!(Some(resumed_at), events[2].id.as_deref());
            }

            /// A new stream resumes where an earlier one stopped; the
            /// counters say what happened.
            #[$mode]
            pub async fn resume_from_an_earlier_stream(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-resume");
                let mut first = task.$events_with(&tasks, quick()).unwrap();
                let connected = first.next().await.unwrap().unwrap();
                assert_eq!(connected.kind, TaskEventType::Connected);
                let chunks: Vec<TaskEvent> = ["a", "b", "c"]
                    .into_iter()
                    .map(|t| TaskEvent::chunk(&task, t))
                    .collect();
                tasks.$push("t-resume", &chunks).await.unwrap();
                let a = first.next().await.unwrap().unwrap();
                assert_eq!(a.payload.as_text(), Some("a"));
                let stopped_at = first.last_event_id().unwrap().to_owned();
                first.stop();
                let after_stop = first.next().await;
                assert!(after_stop.is_none(), "stopped");
                assert_eq!(first.delivered(), 2, "the handshake and one chunk");

                let second = task
                    .$events_with(&tasks, quick())
                    .unwrap()
                    .resume_after(stopped_at.clone());
                tasks.$update("t-resume", &xpander_sdk::UpdateTask::new().status(AgentExecutionStatus::Completed))
                    .await
                    .unwrap();
                let (events, errors) = drain(second).await;
                assert!(errors.is_empty(), "{errors:?}");
                let texts: Vec<_> = events.iter().filter_map(|e| e.payload.as_text()).collect();
                assert_eq!(texts, ["b", "c"], "after {stopped_at}: {:?}", kinds(&events));
                assert!(events.last().unwrap().is_finished());
            }

            /// A stream that sends nothing (not even keep-alives) times out
            /// and reconnects; one that always stalls ends with an error.
            #[$mode]
            pub async fn idle_stream_times_out(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-idle");
                emulator.update_task("t-idle", json!({"status": "completed"})).unwrap();
                let policy = quick().idle_timeout(Duration::from_millis(200));
                emulator.inject(Fault::on("GET", STREAMS).stall_after_for(1, Duration::from_secs(3600)));
                let (events, errors) = drain(task.$events_with(&tasks, policy.clone()).unwrap()).await;
                assert!(errors.is_empty(), "{errors:?}");
                assert!(events.last().unwrap().is_finished(), "resumed after the stall");
                // At least 2: on a loaded machine a reconnection can be
                // slow past the short timeout too; what matters is that the
                // stalled stream was left and the events all came.
                assert!(stream_requests(emulator, "t-idle") >= 2, "the idle stream was left");
                emulator.release(usize::MAX >> 1);

                let task = streaming_task(emulator, "t-stalled");
                emulator.inject(
                    Fault::on("GET", "/org-1/agent-execution/t-stalled/*")
                        .always()
                        .stall_after_for(1, Duration::from_secs(3600)),
                );
                let policy = policy.max_reconnects(1);
                let (_, errors) = drain(task.$events_with(&tasks, policy).unwrap()).await;
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert!(errors[0].to_string().contains("gave up"), "{}", errors[0]);
                assert_eq!(stream_requests(emulator, "t-stalled"), 2);
                emulator.clear_faults();
            }

            /// A stream request whose answer never starts is left after the
            /// policy's connect timeout (the idle timeout here is an hour)
            /// and tried again.
            #[$mode]
            pub async fn a_stream_answer_that_never_starts(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-head");
                emulator.update_task("t-head", json!({"status": "completed"})).unwrap();
                emulator.inject(Fault::on("GET", STREAMS).hold());
                let policy = quick()
                    .connect_timeout(Duration::from_millis(200))
                    .idle_timeout(Duration::from_secs(3600));
                let (events, errors) = drain(task.$events_with(&tasks, policy).unwrap()).await;
                assert!(errors.is_empty(), "{errors:?}");
                assert!(events.last().unwrap().is_finished());
                assert!(stream_requests(emulator, "t-head") >= 2, "the held request was left");
                emulator.release(usize::MAX >> 1);
            }

            /// 404 and 401 answers are API errors with their status; a 503
            /// is retried.
            #[$mode]
            pub async fn error_statuses(emulator: &Emulator) {
                let tasks = client(emulator);
                let mut missing = streaming_task(emulator, "t-known");
                missing.id = "t-unknown".into();
                let (events, errors) = drain(missing.$events_with(&tasks, quick()).unwrap()).await;
                assert!(events.is_empty());
                assert_eq!(errors.len(), 1);
                assert!(errors[0].is_not_found(), "{:?}", errors[0]);

                let task = streaming_task(emulator, "t-auth");
                let wrong = common::builder(emulator)
                    .api_key("wrong")
                    .organization_id(ORG)
                    .build()
                    .unwrap();
                let (_, errors) = drain(task.$events_with(&wrong, quick()).unwrap()).await;
                assert!(errors[0].is_unauthorized(), "{:?}", errors[0]);

                emulator.update_task("t-auth", json!({"status": "completed"})).unwrap();
                emulator.inject(Fault::on("GET", STREAMS).times(2).respond(503, json!({"detail": "busy"})));
                let (events, errors) = drain(task.$events_with(&tasks, quick()).unwrap()).await;
                assert!(errors.is_empty(), "{errors:?}");
                assert!(events.last().unwrap().is_finished());
                assert_eq!(stream_requests(emulator, "t-auth"), 1 + 3, "401; two 503s, then the stream");
            }

            /// Malformed frames and an oversized line are skipped; the
            /// events after them still arrive.
            #[$mode]
            pub async fn malformed_events_are_skipped(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "t-bad");
                emulator.update_task("t-bad", json!({"status": "completed"})).unwrap();
                emulator.inject(Fault::on("GET", STREAMS).malformed_after(1, MalformedFrame::NotJson));
                let (events, errors) = drain(task.$events_with(&tasks, quick()).unwrap()).await;
                assert!(errors.is_empty(), "{errors:?}");
                assert!(events.last().unwrap().is_finished());
                assert!(emulator.faults().is_empty(), "the bad frame was sent");
                assert_eq!(stream_requests(emulator, "t-bad"), 1, "skipped, not a reconnect");

                for (id, fault) in [
                    ("t-bad2", Fault::on("GET", STREAMS).malformed_after(1, MalformedFrame::NoType)),
                    ("t-bad3", Fault::on("GET", STREAMS).oversized_line_after(1, 2 << 20)),
                ] {
                    let task = streaming_task(emulator, id);
                    emulator.update_task(id, json!({"status": "completed"})).unwrap();
                    emulator.inject(fault);
                    let mut policy = quick();
                    policy.limits.max_line_bytes = 1 << 20;
                    let (events, errors) = drain(task.$events_with(&tasks, policy).unwrap()).await;
                    assert!(errors.is_empty(), "{id}: {errors:?}");
                    assert!(events.last().unwrap().is_finished(), "{id}");
                    assert!(emulator.faults().is_empty(), "{id}: the bad frame was sent");
                    assert_eq!(stream_requests(emulator, id), 1, "{id}: skipped, not a reconnect");
                }
            }

            /// A task finished by another client mid-wait is answered, on
            /// the followed path and on the polled one.
            #[$mode]
            pub async fn wait_answers_a_task_finished_mid_wait(emulator: &Arc<Emulator>) {
                let tasks = client(emulator);
                for (id, streams, path) in [("t-w1", true, "/events"), ("t-w2", false, "/status")] {
                    let body = json!({
                        "id": id, "agent_id": "agent-1", "organization_id": ORG,
                        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
                        "status": "executing", "events_streaming": streams
                    });
                    emulator.seed_task(body).unwrap();
                    let finisher = {
                        let emulator = emulator.clone();
                        std::thread::spawn(move || {
                            // The waiter is waiting: its stream is open, or it has polled twice.
                            until_requests(&emulator, &format!("{id}{path}"), if streams { 1 } else { 2 });
                            emulator.update_task(id, json!({"status": "failed", "result": "boom"})).unwrap();
                        })
                    };
                    let policy = WaitPolicy::default()
                        .timeout(Duration::from_secs(30))
                        .poll(Duration::from_millis(5), Duration::from_millis(20));
                    let task = tasks.$wait(id, &policy).await.unwrap();
                    finisher.join().unwrap();
                    assert_eq!(task.status, Some(AgentExecutionStatus::Failed), "{id}");
                    assert_eq!(task.result.as_deref(), Some("boom"));
                    if !streams {
                        let polls = emulator
                            .requests()
                            .iter()
                            .filter(|r| r.path.contains(&format!("{id}/status")))
                            .count();
                        assert!(polls >= 2, "polled: {polls}");
                        assert!(!emulator.requests().iter().any(|r| r.path.contains(&format!("{id}/events"))));
                    }
                }
            }

            /// Every recorded outcome of the activity log, through the emulator.
            #[$mode]
            pub async fn activity_log_outcomes(emulator: &Emulator) {
                let tasks = client(emulator);
                let task = streaming_task(emulator, "task-1");
                let thread = recorded_result("get_activity_log_ok");
                emulator.set_activity("task-1", &thread);
                let read = task.$activity(&tasks).await.unwrap();
                assert_eq!(read.messages.len(), 8);
                assert_eq!(serde_json::to_value(&read).unwrap(), thread, "kept as it came");
                for (content_type, body) in [
                    ("application/json", &br#"{"messages": [], "note": "no id/created_at"}"#[..]),
                    ("application/json", b"null"),
                    ("application/json", b""),
                    ("text/plain", b"plain text body"),
                ] {
                    emulator.set_activity_raw("task-1", content_type, body.to_vec());
                    let error = task.$activity(&tasks).await.unwrap_err();
                    assert!(matches!(error, Error::Decode(_)), "{error:?}");
                }
                emulator.clear_activity("task-1");
                for status in [404, 500] {
                    emulator.inject(
                        Fault::on("GET", "/activity/*").respond(status, json!({"detail": "x"})),
                    );
                    let error = task.$activity(&tasks).await.unwrap_err();
                    assert_eq!(error.status(), Some(status));
                }
                // A network error (every attempt's connection closed before
                // an answer): a transport error, no fake status.
                emulator.clear_faults();
                emulator.inject(Fault::on("GET", "/activity/*").always().close_connection());
                let error = task.$activity(&tasks).await.unwrap_err();
                assert!(matches!(error, Error::Transport(_)), "{error:?}");
                assert_eq!(error.status(), None);
                emulator.clear_faults();
            }

            /// Metrics: stored as sent; 500 and 422 are API errors (not
            /// retried: a report is not sent twice); a task without tokens
            /// sends nothing.
            #[$mode]
            pub async fn metrics_outcomes(emulator: &Emulator) {
                let tasks = client(emulator);
                let mut task = streaming_task(emulator, "task-1");
                task.source = Some("sdk".into());
                task.tokens = Some(xpander_sdk::model::Tokens::new(30, 120));
                task.duration = 2.5;
                task.$metrics(&tasks).await.unwrap();
                let reports = emulator.metrics_reports();
                assert_eq!(reports.len(), 1);
                assert_eq!(reports[0].agent_id, "agent-1");
                assert_eq!(reports[0].report["duration"], 2.5);
                assert_eq!(reports[0].report["llm_tokens"]["worker"]["total_tokens"], 150);
                for status in [500, 422] {
                    emulator.inject(
                        Fault::on("POST", "/agents-metrics/*").respond(status, json!({"detail": "no"})),
                    );
                    let before = emulator.requests().len();
                    let error = task.$metrics(&tasks).await.unwrap_err();
                    assert_eq!(error.status(), Some(status));
                    assert_eq!(emulator.requests().len(), before + 1, "sent once");
                }
                task.tokens = None;
                let before = emulator.requests().len();
                let error = task.$metrics(&tasks).await.unwrap_err();
                assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
                assert_eq!(emulator.requests().len(), before, "nothing sent");
            }

            /// Plan status on every recorded server answer; a failed reload
            /// is an error (the official client answers `can_finish`); the
            /// caller's task is not changed.
            #[$mode]
            pub async fn plan_status_outcomes(emulator: &Emulator) {
                let tasks = client(emulator);
                for scenario in [
                    "plan_following_disabled",
                    "plan_following_incomplete",
                    "plan_following_incomplete_result_is_question",
                    "plan_following_question_raised_flag",
                    "plan_following_not_enforced",
                ] {
                    let server = scenario_json(scenario)["mode"]["status_task"].clone();
                    emulator.seed_task(server.clone()).unwrap();
                    let mut local: xpander_sdk::Task = serde_json::from_value(server).unwrap();
                    let before = &scenario_json(scenario)["result"]["task_before"];
                    local.result = before["result"].as_str().map(str::to_owned);
                    local.used_tools = vec!["tool_a".into()];
                    let kept = local.clone();
                    let status = local.$plan(&tasks).await.unwrap();
                    let expected = &scenario_json(scenario)["result"]["status_result"];
                    assert_eq!(status.can_finish, expected["can_finish"], "{scenario}");
                    assert_eq!(
                        serde_json::to_value(&status.uncompleted_tasks).unwrap(),
                        expected["uncompleted_tasks"],
                        "{scenario}"
                    );
                    assert_eq!(local, kept, "{scenario}: the caller's task is untouched");
                }
                emulator.inject(Fault::on("GET", "/agent-execution/*").respond(500, json!({"detail": "down"})));
                let local: xpander_sdk::Task =
                    serde_json::from_value(scenario_json("plan_following_disabled")["mode"]["status_task"].clone())
                        .unwrap();
                let error = local.$plan(&tasks).await.unwrap_err();
                assert_eq!(error.status(), Some(500));
            }

            /// A wait past its timeout is an error that says so.
            #[$mode]
            pub async fn wait_times_out(emulator: &Emulator) {
                let tasks = client(emulator);
                streaming_task(emulator, "t-slow");
                let policy = WaitPolicy::default()
                    .timeout(Duration::from_millis(300))
                    .poll(Duration::from_millis(5), Duration::from_millis(20));
                let error = tasks.$wait("t-slow", &policy).await.unwrap_err();
                assert!(error.is_timeout(), "{error:?}");
                assert!(matches!(error, Error::Timeout { .. }));
                let text = error.to_string();
                assert!(text.contains("t-slow") && text.contains("executing"), "{text}");
            }
        }
    };
}

fn scenario_json(name: &str) -> Value {
    let captures: Value = serde_json::from_str(include_str!(
        "fixtures/official-python-client-task-extras.json"
    ))
    .unwrap();
    captures["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
        .clone()
}

fn recorded_result(name: &str) -> Value {
    scenario_json(name)["result"]["value"].clone()
}

macro_rules! impl_stream {
    (blocking) => {
        xpander_sdk::blocking::EventStream
    };
    (nonblocking) => {
        xpander_sdk::nonblocking::EventStream
    };
}

live_scenarios!(maybe_async::must_be_sync, blocking,
    events_with: events_with, update: update, push: push_events, wait: wait_for_result,
    activity: get_activity_log, metrics: report_metrics, plan: get_plan_following_status, get: get);

live_scenarios!(maybe_async::must_be_async, nonblocking,
    events_with: aevents_with, update: aupdate, push: apush_events, wait: await_for_result,
    activity: aget_activity_log, metrics: areport_metrics, plan: aget_plan_following_status, get: aget);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Each scenario through both faces, against a fresh emulator from
/// `$emulator` for each.
macro_rules! both_faces {
    ($emulator:ident: $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (first, second) = ($emulator(), $emulator());
                blocking::$name(&first);
                runtime().block_on(nonblocking::$name(&second));
                for emulator in [first, second] {
                    let over_tls = emulator.root_certificate_pem().is_some();
                    assert_eq!(emulator.tls_handshakes() > 0, over_tls);
                }
            }
        )+
    };
}

/// Every scenario through both faces, against `$emulator`.
macro_rules! all_scenarios {
    ($emulator:ident) => {
        both_faces!(
            $emulator: live_in_order,
            resume_after_a_drop,
            resume_from_an_earlier_stream,
            idle_stream_times_out,
            a_stream_answer_that_never_starts,
            error_statuses,
            malformed_events_are_skipped,
            wait_answers_a_task_finished_mid_wait,
            wait_times_out,
            activity_log_outcomes,
            metrics_outcomes,
            plan_status_outcomes,
        );
    };
}

all_scenarios!(emulator);

/// The scenarios over https: the emulator's own TLS, its root trusted.
/// Drops, stalls and malformed frames happen inside the TLS session.
mod over_https {
    use super::*;

    all_scenarios!(emulator_over_https);
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// 1,000 events of 256 KiB (256 MB) through one stream of each face, each
/// read as it comes: the memory does not grow with what went through.
#[test]
fn an_endless_stream_of_large_events_runs_in_bounded_memory() {
    const EVENTS: usize = 1000;
    let emulator = Emulator::builder()
        .api_key(KEY)
        .organization_id(ORG)
        .event_buffer(8)
        .start()
        .unwrap();
    let tasks = client(&emulator);
    let big = "x".repeat(256 * 1024);
    let push = |id: &str| {
        emulator
            .push_event(
                id,
                json!({"type": "chunk", "task_id": id, "organization_id": ORG,
                       "time": "2026-11-20T10:00:00Z", "data": big}),
            )
            .unwrap();
    };
    // Against 225 MB streamed since the first reading, per face.
    let check = |face: &str, before: u64| {
        let grown = rss_kib().saturating_sub(before);
        assert!(grown < 64 * 1024, "{face}: memory grew by {grown} KiB");
    };

    let task = streaming_task(&emulator, "t-big");
    let mut stream = task.events_with(&tasks, quick()).unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap().kind,
        TaskEventType::Connected
    );
    let mut before = 0;
    for i in 0..EVENTS {
        push("t-big");
        let event = stream.next().unwrap().unwrap();
        assert_eq!(event.payload.as_text().map(str::len), Some(big.len()));
        if i == 100 {
            before = rss_kib();
        }
    }
    check("blocking", before);
    drop(stream);

    let task = streaming_task(&emulator, "t-big-async");
    runtime().block_on(async {
        let mut stream = task.aevents_with(&tasks, quick()).unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.kind, TaskEventType::Connected);
        let mut before = 0;
        for i in 0..EVENTS {
            push("t-big-async");
            let event = stream.next().await.unwrap().unwrap();
            assert_eq!(event.payload.as_text().map(str::len), Some(big.len()));
            if i == 100 {
                before = rss_kib();
            }
        }
        check("async", before);
    });
}

/// The requests of the official client's task-extras captures, in both
/// faces, through the emulator's request log: same method, path, query and
/// body, for every scenario with a request under the usual base URL. Those
/// under another base URL are replayed in
/// `the_recorded_requests_under_other_base_urls`; the one this crate sends
/// elsewhere on purpose (metrics with the client's configuration, not the
/// environment's) is checked in the core (`src/sans_io/extras_tests.rs`).
#[test]
fn the_recorded_task_extras_requests() {
    let captures: Value = serde_json::from_str(include_str!(
        "fixtures/official-python-client-task-extras.json"
    ))
    .unwrap();
    // Their request depends on the base URL (another host, port or path),
    // or this crate deliberately sends it elsewhere (the client's own
    // configuration, not the environment's).
    const OTHER_BASE_URL: [&str; 5] = [
        "aevents_base_url_with_path",
        "aevents_loopback_8085_rewrite",
        "aevents_base_url_port_9016",
        "plan_following_base_url_port_9016",
        "areport_metrics_no_configuration_arg",
    ];
    // LLM-framework glue, not Tasks API calls: not ported.
    const NOT_PORTED: [&str; 3] = [
        "to_message_deep_planning_started",
        "get_human_readable_files_guard_legacy",
        "get_media_texts_audio_attachment",
    ];
    for face in ["blocking", "async"] {
        let emulator = emulator();
        let tasks = client(&emulator);
        let rt = runtime();
        let mut base = streaming_task(&emulator, "task-1");
        base.source = Some("sdk".into());
        base.status = Some(AgentExecutionStatus::Executing);
        base.internal_status = Some("phase-2".into());
        base.input.text = "Summarize the quarterly report".into();
        base.used_tools = vec!["web_search".into(), "fetch_page".into()];
        base.result = Some("Revenue grew 12%.".into());
        base.tokens = Some(xpander_sdk::model::Tokens::new(30, 120));
        emulator
            .update_task("task-1", json!({"status": "completed"}))
            .unwrap();
        emulator.set_activity(
            "task-1",
            &json!({"id": "task-1", "created_at": "2025-06-01T12:00:00Z", "messages": []}),
        );
        let mut checked = 0;
        for scenario in captures["scenarios"].as_array().unwrap() {
            let name = scenario["name"].as_str().unwrap();
            let Some(expected) = scenario["requests"].get(0) else {
                continue;
            };
            if OTHER_BASE_URL.contains(&name) || NOT_PORTED.contains(&name) {
                continue;
            }
            let mut task = base.clone();
            if name.contains("orchestration") {
                task.source = Some("orchestration".into());
                task.return_metrics = true;
            }
            if name.contains("llm_model_name") {
                task.llm_model_name = Some("  GPT-5-Mini ".into());
            }
            let before = emulator.requests().len();
            let call = |blocking: bool| -> Result<(), Error> {
                if name.contains("events") {
                    if blocking {
                        blocking::drain(task.events(&tasks)?);
                    } else {
                        rt.block_on(async {
                            nonblocking::drain(task.aevents(&tasks)?).await;
                            Ok::<_, Error>(())
                        })?;
                    }
                } else if name.contains("activity_log") {
                    if blocking {
                        task.get_activity_log(&tasks)?;
                    } else {
                        rt.block_on(task.aget_activity_log(&tasks))?;
                    }
                } else if name.contains("report_metrics") {
                    if blocking {
                        task.report_metrics(&tasks)?;
                    } else {
                        rt.block_on(task.areport_metrics(&tasks))?;
                    }
                } else if name.starts_with("plan_following") {
                    if blocking {
                        task.get_plan_following_status(&tasks)?;
                    } else {
                        rt.block_on(task.aget_plan_following_status(&tasks))?;
                    }
                } else {
                    panic!("no call for scenario {name}");
                }
                Ok(())
            };
            call(face == "blocking").unwrap_or_else(|e| panic!("{face} {name}: {e}"));
            let sent = emulator.requests();
            assert_eq!(sent.len(), before + 1, "{face} {name}: one request");
            let got = &sent[before];
            assert_eq!(got.method, expected["method"], "{face} {name}");
            assert_eq!(got.path_only(), expected["path"], "{face} {name}");
            assert_eq!(expected["query"], json!({}), "{face} {name}");
            assert!(!got.path.contains('?'), "{face} {name}: no query");
            assert_eq!(
                got.json.clone().unwrap_or(Value::Null),
                expected["body_json"],
                "{face} {name}"
            );
            assert_eq!(got.api_key, ApiKeyCheck::Valid, "{face} {name}");
            if name.contains("events") {
                assert_eq!(got.header("accept"), Some("text/event-stream"));
                assert_eq!(got.header("cache-control"), Some("no-store"));
            }
            checked += 1;
        }
        assert_eq!(checked, 28, "{face}: 36 scenarios with a request, less 8");
    }
}

/// The captures whose request depends on the base URL, replayed through
/// the wire as well: an emulator on port 9016 (the agent-controller port,
/// whose paths gain the `/{org}` prefix, and where a `localhost:8085` base
/// sends its events), and a base URL with a path. Only the request is
/// checked (the emulator may answer 404 to a prefixed path). The port must
/// be free: a fresh CI machine's is.
#[test]
fn the_recorded_requests_under_other_base_urls() {
    let captures: Value = serde_json::from_str(include_str!(
        "fixtures/official-python-client-task-extras.json"
    ))
    .unwrap();
    let expected = |name: &str| -> Value {
        captures["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no scenario {name}"))["requests"][0]
            .clone()
    };
    // A fixed port: another copy of this binary running beside this one
    // (`.ci/stress`) may hold it; wait for it to be free (state, not time).
    let started = Instant::now();
    let on_9016 = loop {
        match Emulator::builder()
            .addr("127.0.0.1:9016")
            .api_key(KEY)
            .organization_id(ORG)
            .start()
        {
            Ok(emulator) => break Arc::new(emulator),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "port 9016 (the agent-controller port of these captures) stayed in use"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("an emulator on port 9016: {e}"),
        }
    };
    let elsewhere = emulator();
    let rt = runtime();
    for (name, emulator, base) in [
        (
            "aevents_base_url_with_path",
            &elsewhere,
            format!("{}/events-gw", elsewhere.base_url()),
        ),
        (
            "aevents_loopback_8085_rewrite",
            &on_9016,
            "http://localhost:8085".to_owned(),
        ),
        (
            "aevents_base_url_port_9016",
            &on_9016,
            "http://127.0.0.1:9016".to_owned(),
        ),
        (
            "plan_following_base_url_port_9016",
            &on_9016,
            "http://127.0.0.1:9016".to_owned(),
        ),
    ] {
        let expected = expected(name);
        let task = streaming_task(emulator, "task-1");
        emulator
            .update_task("task-1", json!({"status": "completed"}))
            .unwrap();
        let tasks = Tasks::builder()
            .base_url(base.as_str())
            .api_key(KEY)
            .organization_id(ORG)
            .build()
            .unwrap();
        let policy = StreamPolicy::default().max_reconnects(0);
        for face in ["blocking", "async"] {
            emulator.clear_requests();
            // The outcome is the emulator's answer to a path it may not
            // serve; the request is what is checked.
            if name.contains("events") {
                if face == "blocking" {
                    let _ = task
                        .events_with(&tasks, policy.clone())
                        .map(blocking::drain);
                } else {
                    rt.block_on(async {
                        if let Ok(stream) = task.aevents_with(&tasks, policy.clone()) {
                            nonblocking::drain(stream).await;
                        }
                    });
                }
            } else if face == "blocking" {
                let _ = task.get_plan_following_status(&tasks);
            } else {
                let _ = rt.block_on(task.aget_plan_following_status(&tasks));
            }
            // In this emulator's log: it reached the port of the capture
            // (9016 for a `localhost:8085` base too).
            let sent = emulator.requests();
            let got = sent
                .first()
                .unwrap_or_else(|| panic!("{face} {name}: no request reached the emulator"));
            assert_eq!(got.method, expected["method"], "{face} {name}");
            assert_eq!(got.path_only(), expected["path"], "{face} {name}");
            assert_eq!(expected["query"], json!({}), "{face} {name}");
            assert!(!got.path.contains('?'), "{face} {name}: no query");
            assert_eq!(got.json, None, "{face} {name}: no body");
            assert_eq!(got.api_key, ApiKeyCheck::Valid, "{face} {name}");
        }
    }
}
