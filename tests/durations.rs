//! Issue #18, point 6: every duration a caller gives, `Duration::ZERO` and
//! `Duration::MAX`, through the real client (both faces) and the real
//! worker runtime against the emulator. Neither panics (`Instant`
//! overflow in ureq, tokio), hangs, or turns into a flood; `MAX` means "a
//! very long time" (never zero), `ZERO` "at once" (a timeout error, or the
//! floor of a pacing delay).
//!
//! Waits are on state; no time is asserted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::runtime::{Worker, WorkerPolicy};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::{CallOptions, ClientBuilder, Error, RetryPolicy, Task, Tasks, WaitPolicy};

const EXTREMES: [Duration; 2] = [Duration::ZERO, Duration::MAX];
const PATIENCE: Duration = Duration::from_secs(120);
const AGENT: &str = "agent-durations";

fn emulator() -> Emulator {
    Emulator::builder()
        .keep_alive_interval(Duration::from_millis(50))
        .start()
        .expect("the emulator starts")
}

fn builder(emulator: &Emulator) -> ClientBuilder {
    Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
}

fn seed(emulator: &Emulator, id: &str, status: &str) {
    emulator
        .seed_task(
            json!({"id": id, "agent_id": AGENT, "organization_id": emulator.organization_id(),
            "input": {"text": "x"}, "created_at": "2026-11-28T03:38:30Z", "status": status}),
        )
        .expect("seeded");
}

/// `MAX` must work; `ZERO` may also end in a timeout error, nothing else.
fn check(knob: &str, d: Duration, face: &str, outcome: Result<Task, Error>) {
    match outcome {
        Ok(task) => assert_eq!(task.id, "task-d", "{knob} {d:?} {face}"),
        Err(error) if d == Duration::ZERO && error.is_timeout() => {}
        Err(error) => panic!("{knob} = {d:?} ({face}): {error}"),
    }
}

type Knob = (&'static str, fn(ClientBuilder, Duration) -> ClientBuilder);

/// Every client-wide duration and every per-call one, in both faces.
#[test]
fn client_timeouts_and_deadlines_zero_and_max_in_both_faces() {
    let emulator = emulator();
    seed(&emulator, "task-d", "completed");
    let knobs: [Knob; 3] = [
        ("connect_timeout", |b, d| b.connect_timeout(d)),
        ("request_timeout", |b, d| b.request_timeout(d)),
        ("deadline", |b, d| b.deadline(d)),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (knob, set) in knobs {
        for d in EXTREMES {
            let tasks = set(builder(&emulator), d).build().expect("builds");
            check(knob, d, "blocking", tasks.get("task-d"));
            check(knob, d, "async", rt.block_on(tasks.aget("task-d")));
        }
    }
    type Call = (&'static str, fn(CallOptions, Duration) -> CallOptions);
    let calls: [Call; 2] = [
        ("CallOptions::timeout", |o, d| o.timeout(d)),
        ("CallOptions::deadline", |o, d| o.deadline(d)),
    ];
    let tasks = builder(&emulator).build().unwrap();
    for (knob, set) in calls {
        for d in EXTREMES {
            let tasks = tasks.with_options(set(CallOptions::new(), d));
            check(knob, d, "blocking", tasks.get("task-d"));
            check(knob, d, "async", rt.block_on(tasks.aget("task-d")));
        }
    }
}

/// Retry delays: a zero backoff retries (no panic), a `MAX` one waits
/// within the call's deadline (the 503 comes back instead of a sleep of
/// centuries); a `Retry-After` cap of zero or `MAX` is taken as well.
#[test]
fn retry_policy_delays_zero_and_max_in_both_faces() {
    let emulator = emulator();
    seed(&emulator, "task-d", "completed");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let busy = || {
        Fault::on("GET", "/agent-execution/task-d/status")
            .respond(503, json!({"detail": "busy"}))
            .retry_after("1")
    };
    for d in EXTREMES {
        let policies = [
            RetryPolicy::default().backoff(d, d),
            RetryPolicy::default().max_retry_after(d),
        ];
        for policy in policies {
            let tasks = builder(&emulator)
                .retry(policy)
                .deadline(Duration::from_secs(10))
                .build()
                .unwrap();
            for face in ["blocking", "async"] {
                emulator.inject(busy());
                let started = Instant::now();
                let outcome = match face {
                    "blocking" => tasks.get("task-d"),
                    _ => rt.block_on(tasks.aget("task-d")),
                };
                assert!(started.elapsed() < PATIENCE);
                match outcome {
                    Ok(task) => assert_eq!(task.id, "task-d"),
                    // Not retried: the wait would pass the deadline.
                    Err(error) => {
                        assert_eq!(error.status(), Some(503), "{policy:?} {face}: {error}")
                    }
                }
            }
        }
    }
}

/// A wait's timeout and poll delays: `MAX` is no deadline (the task is
/// answered), a zero timeout times out at once, a zero poll delay is
/// floored (the wait still ends on the completion, polling at a pace).
#[test]
fn wait_policy_zero_and_max_in_both_faces() {
    let emulator = emulator();
    seed(&emulator, "task-d", "completed");
    let tasks = builder(&emulator).build().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for d in EXTREMES {
        let policy = WaitPolicy::default().timeout(d).poll(d, d).recheck_every(d);
        check(
            "WaitPolicy",
            d,
            "blocking",
            tasks.wait_for_result("task-d", &policy),
        );
        check(
            "WaitPolicy",
            d,
            "async",
            rt.block_on(tasks.await_for_result("task-d", &policy)),
        );
    }
    // A zero poll delay on a task that completes later: the wait polls,
    // then answers the completion.
    seed(&emulator, "task-p", "executing");
    let policy = WaitPolicy::default()
        .timeout(Duration::MAX)
        .poll(Duration::ZERO, Duration::ZERO);
    let done = std::thread::scope(|s| {
        let waiter = s.spawn(|| tasks.wait_for_result("task-p", &policy));
        let start = Instant::now();
        while emulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("task-p"))
            .count()
            < 2
        {
            assert!(start.elapsed() < PATIENCE, "no poll");
            std::thread::sleep(Duration::from_millis(3));
        }
        let update =
            xpander_sdk::UpdateTask::new().status(xpander_sdk::AgentExecutionStatus::Completed);
        tasks.update("task-p", &update).expect("completed");
        waiter.join().unwrap()
    });
    assert_eq!(done.expect("answered").id, "task-p");
}

type WorkerKnob = (
    &'static str,
    fn(WorkerPolicy, Duration) -> WorkerPolicy,
    bool,
);

/// Every duration of the worker's policy (its stream's included), each
/// alone at `ZERO` and at `MAX`, through the runtime: it starts, serves a
/// task when it can, and shuts down; nothing panics or hangs. The third
/// column says whether the worker can serve at all with a zero (a zero
/// connect timeout never lets the stream open).
#[test]
fn worker_policy_durations_zero_and_max_through_the_runtime() {
    let knobs: [WorkerKnob; 13] = [
        ("heartbeat_interval", |p, d| p.heartbeat_interval(d), true),
        ("task_timeout", |p, d| p.task_timeout(Some(d)), true),
        ("shutdown_grace", |p, d| p.shutdown_grace(d), true),
        ("shutdown_deadline", |p, d| p.shutdown_deadline(d), true),
        ("abort_grace", |p, d| p.abort_grace(d), true),
        ("last_calls", |p, d| p.last_calls(d), true),
        ("save delays", |p, d| p.save_retries(3, d, d), true),
        (
            "stream idle_timeout",
            |p, d| {
                let s = p.stream.clone().idle_timeout(d);
                p.stream(s)
            },
            false,
        ),
        (
            "stream connect_timeout",
            |p, d| {
                let s = p.stream.clone().connect_timeout(d);
                p.stream(s)
            },
            false,
        ),
        (
            "stream initial_delay",
            |p, d| {
                let s = p.stream.clone().initial_delay(d);
                p.stream(s)
            },
            true,
        ),
        (
            "stream max_delay",
            |p, d| {
                let s = p.stream.clone().max_delay(d);
                p.stream(s)
            },
            true,
        ),
        (
            "stream reset_after",
            |p, d| {
                let s = p.stream.clone().reset_after(d);
                p.stream(s)
            },
            true,
        ),
        (
            "all of them",
            |p, d| {
                p.heartbeat_interval(d)
                    .task_timeout(Some(d))
                    .shutdown_grace(d)
                    .shutdown_deadline(d)
                    .abort_grace(d)
                    .last_calls(d)
                    .save_retries(3, d, d)
            },
            true,
        ),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (knob, set, serves_at_zero) in knobs {
        for d in EXTREMES {
            let emulator = emulator();
            let tasks = builder(&emulator).build().unwrap();
            let policy = set(
                WorkerPolicy::default().stream(
                    StreamPolicy::default()
                        .initial_delay(Duration::from_millis(10))
                        .max_delay(Duration::from_millis(100)),
                ),
                d,
            );
            let released = Arc::new(AtomicBool::new(false));
            let r = released.clone();
            let worker = Worker::builder(tasks.clone())
                .agent_id(AGENT)
                .policy(policy)
                .handle_signals(false)
                .handler(move |mut task, _ctx| {
                    let released = r.clone();
                    async move {
                        task.result = Some("served".into());
                        // Metrics are reported once the final save's answer
                        // is in: the test waits on them (state, not time).
                        task.tokens = Some(xpander_sdk::model::Tokens::new(1, 1));
                        released.store(true, Ordering::SeqCst);
                        Ok(task)
                    }
                })
                .build()
                .unwrap();
            let handle = worker.shutdown_handle();
            let mut readiness = worker.readiness();
            let run = rt.spawn(worker.run());
            let serves = d == Duration::MAX || serves_at_zero;
            let mut served = None;
            if serves {
                let ready = rt.block_on(async {
                    tokio::time::timeout(PATIENCE, readiness.wait_for(true)).await
                });
                assert_eq!(ready, Ok(true), "{knob} = {d:?}: the worker registers");
                let task = emulator
                    .create_task(AGENT, json!({"input": {"text": "x"}, "source": "sdk"}))
                    .unwrap();
                let id = task["id"].as_str().unwrap().to_owned();
                let start = Instant::now();
                let status = loop {
                    let status = emulator.task(&id).unwrap()["status"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    if ["completed", "error"].contains(&status.as_str()) {
                        break status;
                    }
                    assert!(start.elapsed() < PATIENCE, "{knob} = {d:?}: {status}");
                    std::thread::sleep(Duration::from_millis(3));
                };
                let expected = if knob.contains("task_timeout") || knob == "all of them" {
                    // A zero deadline fails the task at once ("timeout");
                    // `MAX` is a deadline that never comes.
                    if d == Duration::ZERO {
                        "error"
                    } else {
                        "completed"
                    }
                } else {
                    "completed"
                };
                if !(expected == "error" && status == "completed") {
                    assert_eq!(status, expected, "{knob} = {d:?}");
                }
                if status == "completed" {
                    // The worker has the save's answer (a zero shutdown
                    // deadline would otherwise name a save whose answer is
                    // still on its way).
                    while emulator.metrics_reports().is_empty() {
                        assert!(start.elapsed() < PATIENCE, "{knob} = {d:?}: no metrics");
                        std::thread::sleep(Duration::from_millis(3));
                    }
                }
                served = Some((id, status));
            }
            handle.shutdown();
            let exit = rt
                .block_on(async { tokio::time::timeout(PATIENCE, run).await })
                .expect("the run ends")
                .expect("no panic")
                .expect("a clean exit");
            match served {
                // A zero deadline with a task failed at once (a zero task
                // timeout: no metrics to wait on): its save's answer may be
                // on its way at the deadline, then it is named, nothing else.
                Some((id, status)) if status == "error" && d == Duration::ZERO => {
                    assert!(exit.unsaved.iter().all(|u| *u == id), "{knob}: {exit:?}")
                }
                _ => assert!(exit.unsaved.is_empty(), "{knob} = {d:?}: {exit:?}"),
            }
        }
    }
}
