//! Each fault of the reliability issue, injected by the emulator, against
//! both faces of the client: the stated outcome, and no panic. Each test
//! body is written once and expanded for both faces, as the crate's front
//! end is.

mod common;

use std::time::{Duration, Instant};

use common::{client, client_with, emulator};
use serde_json::json;
use xpander_sdk::emulator::Fault;
use xpander_sdk::{
    AgentExecutionStatus as S, CreateTask, Error, RetryPolicy, Tasks, TransportErrorKind,
    UpdateTask,
};

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn count(emulator: &xpander_sdk::emulator::Emulator, method: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method)
        .count()
}

macro_rules! fault_tests {
    (
        $face:ident, $mode:meta, $test:meta,
        update: $update:ident, get: $get:ident, create: $create:ident,
        retry_on_conflict: $retry_on_conflict:ident
    ) => {
        mod $face {
            use super::*;

            #[$mode]
            #[$test]
            async fn refused_connection_is_a_transport_error_after_retries() {
                let tasks = Tasks::builder()
                    .base_url(format!("http://127.0.0.1:{}", closed_port()))
                    .api_key("k")
                    .retry(RetryPolicy::default().backoff(
                        Duration::from_millis(1),
                        Duration::from_millis(5),
                    ))
                    .build()
                    .unwrap();
                let err = tasks.$update("t", &UpdateTask::new()).await.unwrap_err();
                assert!(err.is_connect(), "{err:?}");
                assert_eq!(err.attempts(), 3);
                assert!(err.to_string().contains("3 attempts"), "{err}");
            }

            #[$mode]
            #[$test]
            async fn a_connection_closed_before_the_answer_is_retried_for_update() {
                let emulator = emulator();
                emulator.inject(Fault::on("PATCH", "/agent-execution/*").close_connection());
                let tasks = client(&emulator);
                let task = tasks
                    .$update("task_xyz", &UpdateTask::new().result("once"))
                    .await
                    .unwrap();
                assert_eq!(task.result.as_deref(), Some("once"));
                assert_eq!(count(&emulator, "PATCH"), 2);
            }

            #[$mode]
            #[$test]
            async fn a_connection_closed_before_the_answer_is_not_retried_for_create() {
                let emulator = emulator();
                emulator.inject(Fault::on("POST", "/agent-execution/*").close_connection());
                let tasks = client(&emulator);
                let err = tasks
                    .$create(&CreateTask::new("agent-123", "Hello!"))
                    .await
                    .unwrap_err();
                match &err {
                    Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Disconnected),
                    other => panic!("{other:?}"),
                }
                assert_eq!(err.attempts(), 1);
                assert_eq!(count(&emulator, "POST"), 1);
                assert_eq!(emulator.tasks().len(), 1, "no task was created");
            }

            #[$mode]
            #[$test]
            async fn two_503_then_success_takes_three_attempts() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("PATCH", "/agent-execution/*")
                        .times(2)
                        .respond(503, json!({"detail": "busy"})),
                );
                let tasks = client(&emulator);
                let task = tasks
                    .$update("task_xyz", &UpdateTask::new().status(S::Completed))
                    .await
                    .unwrap();
                assert_eq!(task.status, Some(S::Completed));
                assert_eq!(count(&emulator, "PATCH"), 3);
                // The same body every time.
                let bodies: Vec<_> = emulator.requests().into_iter().map(|r| r.body).collect();
                assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
            }

            #[$mode]
            #[$test]
            async fn a_429_with_retry_after_waits_then_succeeds() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .respond(429, json!({"detail": "slow down"}))
                        .retry_after("1"),
                );
                let tasks = client(&emulator);
                let started = Instant::now();
                let task = tasks.$get("task_xyz").await.unwrap();
                // A lower bound only: the client slept at least what the
                // server asked (an upper bound would be a timing test).
                assert!(started.elapsed() >= Duration::from_millis(990));
                assert_eq!(task.id, "task_xyz");
                assert_eq!(count(&emulator, "GET"), 2);
            }

            #[$mode]
            #[$test]
            async fn a_500_with_html_is_an_api_error_with_the_text() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .respond_text(500, "<html><body>Internal error</body></html>")
                        .content_type("text/html"),
                );
                let tasks = client(&emulator);
                let err = tasks.$get("task_xyz").await.unwrap_err();
                let api = err.as_api().expect("an API error");
                assert_eq!(api.status, 500);
                assert!(api.body.contains("Internal error"), "{api:?}");
                assert_eq!(err.attempts(), 1, "500 is not retried");
            }

            #[$mode]
            #[$test]
            async fn a_200_with_truncated_json_is_a_decode_error_with_a_snippet() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .respond_text(200, r#"{"id": "task_xyz", "agent_id": "agen"#)
                        .content_type("application/json"),
                );
                let tasks = client(&emulator);
                match tasks.$get("task_xyz").await.unwrap_err() {
                    Error::Decode(e) => {
                        assert_eq!(e.status, 200);
                        assert_eq!(e.snippet, r#"{"id": "task_xyz", "agent_id": "agen"#);
                    }
                    other => panic!("{other:?}"),
                }
            }

            #[$mode]
            #[$test]
            async fn a_body_cut_off_mid_stream_is_retried_for_get() {
                let emulator = emulator();
                emulator.inject(Fault::on("GET", "/agent-execution/*").truncate_body());
                let tasks = client(&emulator);
                let task = tasks.$get("task_xyz").await.unwrap();
                assert_eq!(task.id, "task_xyz");
                assert_eq!(count(&emulator, "GET"), 2);
            }

            #[$mode]
            #[$test]
            async fn a_body_over_the_limit_is_a_limit_error() {
                let emulator = emulator();
                emulator.inject(Fault::on("GET", "/agent-execution/*").oversized_body(1 << 20));
                let tasks = Tasks::builder()
                    .base_url(emulator.base_url())
                    .api_key(emulator.api_key())
                    .max_response_bytes(64 * 1024)
                    .build()
                    .unwrap();
                match tasks.$get("task_xyz").await.unwrap_err() {
                    Error::BodyTooLarge { status, limit } => {
                        assert_eq!(status, 200);
                        assert_eq!(limit, 64 * 1024);
                    }
                    other => panic!("{other:?}"),
                }
            }

            /// A 503 or 429 whose body is far over the response limit stays
            /// an API error with its status (a prefix of the body is read,
            /// the rest dropped), so it is still classified and retried.
            #[$mode]
            #[$test]
            async fn a_huge_error_body_stays_an_api_error_and_is_retried() {
                let emulator = emulator();
                let page = format!("<html>{}</html>", "x".repeat(4 << 20));
                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .times(1)
                        .respond_text(503, page.clone()),
                );
                let builder = || {
                    Tasks::builder()
                        .base_url(emulator.base_url())
                        .api_key(emulator.api_key())
                        .max_response_bytes(64 * 1024)
                };
                let tasks = builder()
                    .retry(RetryPolicy::default().backoff(
                        Duration::from_millis(1),
                        Duration::from_millis(5),
                    ))
                    .build()
                    .unwrap();
                let task = tasks.$get("task_xyz").await.unwrap();
                assert_eq!(task.id, "task_xyz");
                assert_eq!(count(&emulator, "GET"), 2, "the 503 was retried");

                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .times(1)
                        .respond_text(429, page),
                );
                let once = builder().retry(RetryPolicy::disabled()).build().unwrap();
                let err = once.$get("task_xyz").await.unwrap_err();
                let api = err.as_api().unwrap_or_else(|| panic!("an API error: {err:?}"));
                assert_eq!(api.status, 429);
                assert!(api.body.starts_with("<html>xxx"), "{:?}", api.body.get(..20));
                assert!(api.body.len() <= 64 * 1024, "{} bytes kept", api.body.len());
                // The connection still serves the next call.
                once.$get("task_xyz").await.unwrap();
            }

            #[$mode]
            #[$test]
            async fn an_answer_that_never_comes_is_a_timeout_error() {
                let emulator = emulator();
                // Held until the emulator stops: no answer ever comes.
                emulator.inject(Fault::on("GET", "/agent-execution/*").hold());
                let tasks = Tasks::builder()
                    .base_url(emulator.base_url())
                    .api_key(emulator.api_key())
                    .request_timeout(Duration::from_millis(300))
                    .build()
                    .unwrap();
                let err = tasks.$get("task_xyz").await.unwrap_err();
                assert!(err.is_timeout(), "{err:?}");
                assert_eq!(err.attempts(), 1, "a timeout is the caller's budget");
            }

            #[$mode]
            #[$test]
            async fn two_conflicts_then_success_through_the_conflict_helper() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("PATCH", "/agent-execution/*")
                        .times(2)
                        .respond(409, json!({"detail": "Concurrent update conflict"})),
                );
                let tasks = client(&emulator);
                let mut runs = 0;
                let task = tasks
                    .$retry_on_conflict("task_xyz", |task| {
                        runs += 1;
                        task.result = Some(format!("applied on run {runs}"));
                    })
                    .await
                    .unwrap();
                assert_eq!(runs, 3);
                assert_eq!(task.result.as_deref(), Some("applied on run 3"));
                assert_eq!(emulator.task("task_xyz").unwrap()["result"], "applied on run 3");
            }

            #[$mode]
            #[$test]
            async fn the_conflict_helper_returns_the_last_conflict_when_the_budget_is_spent() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("PATCH", "/agent-execution/*")
                        .always()
                        .respond(409, json!({"detail": "Concurrent update conflict"})),
                );
                let tasks = client_with(&emulator, RetryPolicy::disabled());
                let mut runs = 0;
                let err = tasks
                    .$retry_on_conflict("task_xyz", |_| runs += 1)
                    .await
                    .unwrap_err();
                assert!(err.is_conflict(), "{err:?}");
                assert_eq!(runs, 5);
            }
        }
    };
}

fault_tests!(
    blocking, maybe_async::must_be_sync, test,
    update: update, get: get, create: create, retry_on_conflict: retry_on_conflict
);

fault_tests!(
    nonblocking, maybe_async::must_be_async, tokio::test(flavor = "multi_thread", worker_threads = 2),
    update: aupdate, get: aget, create: acreate, retry_on_conflict: aretry_on_conflict
);
