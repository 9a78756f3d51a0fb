//! The waiter on crafted tasks, events and times: both paths (stream and
//! polling), the deadline's edges and the backoff's bounds.

use std::time::{Duration, Instant};

use super::{StreamEnd, WaitPolicy, WaitStep, Waiter, MIN_RECHECK};
use crate::error::{ApiError, Error, ErrorClass, TransportError, TransportErrorKind};
use crate::model::{AgentExecutionStatus, Task, TaskEvent};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn task_value(status: &str, streaming: bool) -> serde_json::Value {
    serde_json::json!({
        "id": "task-1", "agent_id": "a", "organization_id": "org-1",
        "input": {"text": "hi"}, "created_at": "2025-06-01T12:00:00Z",
        "status": status, "events_streaming": streaming,
    })
}

fn task(status: &str) -> Task {
    serde_json::from_value(task_value(status, false)).unwrap()
}

fn streaming(status: &str) -> Task {
    serde_json::from_value(task_value(status, true)).unwrap()
}

fn event(kind: &str, data: serde_json::Value) -> TaskEvent {
    let envelope = serde_json::json!({
        "type": kind, "task_id": "task-1", "organization_id": "org-1",
        "time": "2025-06-01T12:00:00Z", "data": data,
    });
    TaskEvent::from_json(&envelope.to_string(), Some("1")).unwrap()
}

fn policy() -> WaitPolicy {
    WaitPolicy::default().jitter(false)
}

fn poll_after(step: WaitStep) -> Duration {
    match step {
        WaitStep::PollAfter(d) => d,
        other => panic!("expected a poll, got {other:?}"),
    }
}

fn timed_out(step: WaitStep) -> Error {
    match step {
        WaitStep::TimedOut(error) => error,
        other => panic!("expected a timeout, got {other:?}"),
    }
}

fn transient() -> Error {
    Error::Transport(TransportError::new(
        TransportErrorKind::Connect,
        "connection refused",
        None,
    ))
}

// --- Polling ---------------------------------------------------------------------

#[test]
fn a_task_that_does_not_stream_is_polled_with_growing_delays_up_to_the_cap() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    let delays: Vec<Duration> = (0..7)
        .map(|_| poll_after(w.on_task(task("executing"), t0)))
        .collect();
    assert_eq!(
        delays,
        [
            ms(500),
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(10),
            secs(10)
        ]
    );
    assert_eq!(w.last_status(), Some(&AgentExecutionStatus::Executing));
}

#[test]
fn every_final_status_ends_the_wait_with_the_task() {
    for status in ["completed", "failed", "error", "stopped"] {
        let t0 = Instant::now();
        let mut w = Waiter::new(policy(), t0);
        match w.on_task(task(status), t0) {
            WaitStep::Done(done) => assert_eq!(done.status.as_ref().unwrap().as_str(), status),
            other => panic!("{status}: {other:?}"),
        }
    }
    for status in ["pending", "executing", "paused", "awaiting_review"] {
        let t0 = Instant::now();
        let mut w = Waiter::new(policy(), t0);
        poll_after(w.on_task(task(status), t0));
    }
}

#[test]
fn the_backoff_factor_is_applied_and_a_bad_one_counts_as_one() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().backoff_factor(1.5), t0);
    let delays: Vec<Duration> = (0..3)
        .map(|_| poll_after(w.on_task(task("pending"), t0)))
        .collect();
    assert_eq!(delays, [ms(500), ms(750), ms(1125)]);

    for factor in [f64::NAN, 0.5, -3.0, 0.0] {
        let mut w = Waiter::new(policy().backoff_factor(factor), t0);
        for _ in 0..5 {
            assert_eq!(
                poll_after(w.on_task(task("pending"), t0)),
                ms(500),
                "{factor}"
            );
        }
    }
    for factor in [f64::INFINITY, 1e300, f64::MAX] {
        let mut w = Waiter::new(policy().backoff_factor(factor), t0);
        assert_eq!(poll_after(w.on_task(task("pending"), t0)), ms(500));
        for _ in 0..2000 {
            assert_eq!(
                poll_after(w.on_task(task("pending"), t0)),
                secs(10),
                "{factor}"
            );
        }
    }
}

#[test]
fn jitter_stays_between_half_the_delay_and_the_delay() {
    let t0 = Instant::now();
    let mut w = Waiter::new(WaitPolicy::default(), t0);
    // 200 draws: each between half its ceiling (500 ms doubled per draw,
    // up to 10 s) and the ceiling, and spread.
    let mut distinct = std::collections::HashSet::new();
    for n in 0..200u32 {
        let ceiling = ms(500)
            .saturating_mul(2u32.saturating_pow(n.min(20)))
            .min(secs(10));
        let d = poll_after(w.on_task(task("executing"), t0));
        assert!(
            d >= ceiling / 2 && d <= ceiling,
            "draw {n}: {d:?} for {ceiling:?}"
        );
        distinct.insert(d);
    }
    // The draws spread (a constant would mean no jitter at all).
    assert!(distinct.len() > 100, "{}", distinct.len());
}

// --- The deadline -----------------------------------------------------------------

#[test]
fn a_poll_never_waits_past_the_deadline_then_the_wait_times_out() {
    let t0 = Instant::now();
    let p = policy().timeout(secs(3)).poll(secs(2), secs(10));
    let mut w = Waiter::new(p, t0);
    assert_eq!(w.deadline(), Some(t0 + secs(3)));
    assert_eq!(poll_after(w.on_task(task("pending"), t0)), secs(2));
    // 4 s would overshoot: only the second left.
    assert_eq!(
        poll_after(w.on_task(task("executing"), t0 + secs(2))),
        secs(1)
    );
    assert_eq!(w.remaining(t0 + secs(2)), secs(1));

    let error = timed_out(w.on_task(task("executing"), t0 + secs(3)));
    assert!(error.is_timeout());
    assert_eq!(error.class(), ErrorClass::Transient);
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.status(), None);
    assert!(matches!(
        &error,
        Error::Timeout { task_id, waited, last_status: Some(AgentExecutionStatus::Executing) }
            if task_id == "task-1" && *waited == secs(3)
    ));
    assert_eq!(
        error.to_string(),
        "timed out after 3.0s waiting for task `task-1` to reach a final status (last status seen: executing)"
    );
    assert_eq!(w.remaining(t0 + secs(4)), Duration::ZERO);
}

#[test]
fn a_final_status_seen_at_the_deadline_still_wins() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().timeout(secs(1)), t0);
    assert!(matches!(
        w.on_task(task("completed"), t0 + secs(5)),
        WaitStep::Done(_)
    ));
}

#[test]
fn with_jitter_no_poll_ends_past_the_deadline() {
    let t0 = Instant::now();
    let p = WaitPolicy::default()
        .timeout(ms(7_777))
        .poll(ms(300), secs(2));
    let mut w = Waiter::new(p, t0);
    let mut now = t0;
    let mut polls = 0;
    loop {
        match w.on_task(task("executing"), now) {
            WaitStep::PollAfter(d) => {
                now += d;
                assert!(now <= t0 + ms(7_777));
                polls += 1;
            }
            WaitStep::TimedOut(error) => {
                assert!(error.is_timeout());
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(now, t0 + ms(7_777));
    assert!(polls >= 5, "{polls}");
}

#[test]
fn a_timeout_too_large_for_an_instant_means_no_deadline() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().timeout(Duration::MAX), t0);
    assert_eq!(w.deadline(), None);
    assert_eq!(w.remaining(t0), Duration::MAX);
    assert_eq!(poll_after(w.on_task(task("pending"), t0)), ms(500));
    assert_eq!(
        w.on_task(streaming("pending"), t0),
        WaitStep::FollowEvents {
            until: t0 + secs(60)
        }
    );
}

#[test]
fn the_timeout_error_without_any_status_says_so() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().timeout(secs(1)), t0);
    poll_after(w.on_error(transient(), t0));
    let error = timed_out(w.on_error(transient(), t0 + ms(1500)));
    assert!(
        error.to_string().ends_with("(last status seen: none)"),
        "{error}"
    );
}

// --- Errors while polling -----------------------------------------------------------

#[test]
fn a_passing_failure_is_polled_again_and_another_ends_the_wait() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    assert_eq!(poll_after(w.on_error(transient(), t0)), ms(500));
    let throttled = Error::Api(ApiError::new(429, "slow down"));
    assert_eq!(poll_after(w.on_error(throttled, t0)), secs(1));
    match w.on_error(
        Error::Api(ApiError::new(404, r#"{"detail":"Task t not found"}"#)),
        t0,
    ) {
        WaitStep::Failed(error) => assert!(error.is_not_found()),
        other => panic!("{other:?}"),
    }
    let mut w = Waiter::new(policy(), t0);
    assert!(matches!(
        w.on_error(Error::Api(ApiError::new(401, "")), t0),
        WaitStep::Failed(e) if e.is_unauthorized()
    ));
}

// --- Following the stream -------------------------------------------------------------

#[test]
fn a_streaming_task_is_followed_until_the_recheck_or_the_deadline() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    assert_eq!(
        w.on_task(streaming("executing"), t0),
        WaitStep::FollowEvents {
            until: t0 + secs(60)
        }
    );
    let mut w = Waiter::new(policy().timeout(secs(20)), t0);
    assert_eq!(
        w.on_task(streaming("executing"), t0 + secs(5)),
        WaitStep::FollowEvents {
            until: t0 + secs(20)
        }
    );
    // A recheck interval of zero is held to the minimum: no busy loop.
    let mut w = Waiter::new(policy().recheck_every(Duration::ZERO), t0);
    assert_eq!(
        w.on_task(streaming("executing"), t0),
        WaitStep::FollowEvents {
            until: t0 + MIN_RECHECK
        }
    );
    // Not followed when the policy says so.
    let mut w = Waiter::new(policy().follow_events(false), t0);
    poll_after(w.on_task(streaming("executing"), t0));
}

#[test]
fn the_final_task_of_the_stream_ends_the_wait() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    w.on_task(streaming("pending"), t0);
    assert_eq!(
        w.on_event(event("connected", serde_json::Value::Null), t0),
        None
    );
    assert_eq!(w.on_event(event("chunk", "Hel".into()), t0), None);
    assert_eq!(
        w.on_event(event("task_updated", task_value("executing", true)), t0),
        None
    );
    assert_eq!(w.last_status(), Some(&AgentExecutionStatus::Executing));
    match w.on_event(
        event("task_finished", task_value("completed", true)),
        t0 + secs(1),
    ) {
        Some(WaitStep::Done(done)) => {
            assert_eq!(done.id, "task-1");
            assert!(done.is_finished());
        }
        other => panic!("{other:?}"),
    }
    // A task_updated that already carries a final status is enough too.
    let mut w = Waiter::new(policy(), t0);
    assert!(matches!(
        w.on_event(event("task_updated", task_value("failed", true)), t0),
        Some(WaitStep::Done(_))
    ));
}

#[test]
fn a_task_finished_without_a_final_task_gets_the_task_at_once() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    w.on_task(streaming("executing"), t0);
    let truncated = serde_json::json!({"id": "task-1", "status": "completed"});
    assert_eq!(
        w.on_event(event("task_finished", truncated), t0),
        Some(WaitStep::PollAfter(Duration::ZERO))
    );
    assert_eq!(
        w.on_event(event("task_finished", serde_json::Value::Null), t0),
        Some(WaitStep::PollAfter(Duration::ZERO))
    );
}

#[test]
fn events_past_the_deadline_end_the_wait() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().timeout(secs(10)), t0);
    w.on_task(streaming("executing"), t0);
    assert_eq!(w.on_event(event("chunk", "a".into()), t0 + secs(9)), None);
    let error = timed_out(
        w.on_event(event("chunk", "b".into()), t0 + secs(10))
            .unwrap(),
    );
    assert!(error.to_string().contains("last status seen: executing"));
}

#[test]
fn a_stream_that_fails_falls_back_to_polling() {
    for end in [
        StreamEnd::Closed,
        StreamEnd::GaveUp(transient()),
        StreamEnd::GaveUp(Error::Api(ApiError::new(404, ""))),
    ] {
        let t0 = Instant::now();
        let mut w = Waiter::new(policy(), t0);
        assert!(matches!(
            w.on_task(streaming("executing"), t0),
            WaitStep::FollowEvents { .. }
        ));
        // Get the task at once: it may have finished meanwhile.
        assert_eq!(
            w.on_stream_end(end, t0 + secs(3)),
            WaitStep::PollAfter(Duration::ZERO)
        );
        // Still running: polled from now on, never followed again.
        assert_eq!(
            poll_after(w.on_task(streaming("executing"), t0 + secs(3))),
            ms(500)
        );
        assert_eq!(
            poll_after(w.on_task(streaming("executing"), t0 + secs(4))),
            secs(1)
        );
    }
}

#[test]
fn a_stream_cut_for_a_recheck_is_followed_again_after_one_get() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy(), t0);
    w.on_task(streaming("executing"), t0);
    let t1 = t0 + secs(60);
    assert_eq!(
        w.on_stream_end(StreamEnd::Cut, t1),
        WaitStep::PollAfter(Duration::ZERO)
    );
    assert_eq!(
        w.on_task(streaming("executing"), t1),
        WaitStep::FollowEvents {
            until: t1 + secs(60)
        }
    );
    // The get after the cut catches a task that finished unseen.
    w.on_stream_end(StreamEnd::Cut, t1 + secs(60));
    assert!(matches!(
        w.on_task(streaming("completed"), t1 + secs(60)),
        WaitStep::Done(_)
    ));
}

#[test]
fn a_stream_ending_past_the_deadline_times_out() {
    let t0 = Instant::now();
    let mut w = Waiter::new(policy().timeout(secs(30)), t0);
    let until = match w.on_task(streaming("executing"), t0) {
        WaitStep::FollowEvents { until } => until,
        other => panic!("{other:?}"),
    };
    assert_eq!(until, t0 + secs(30));
    timed_out(w.on_stream_end(StreamEnd::Cut, until));
}

#[test]
fn the_stream_policy_always_stops_at_the_finish() {
    let p = policy().stream(
        crate::sans_io::stream::StreamPolicy::default()
            .stop_at_finish(false)
            .max_reconnects(7),
    );
    let w = Waiter::new(p, Instant::now());
    let stream = w.stream_policy();
    assert!(stream.stop_at_finish);
    assert_eq!(stream.max_reconnects, 7);
    assert_eq!(WaitPolicy::default().stream.max_reconnects, 2);
}
