//! Both faces over https against the emulator's own TLS (a certificate
//! authority made at start, its root added to the client): an update by IP
//! and by name, a client without the root, and the fault table run against
//! an emulator over plain HTTP and one over https, which must give the same
//! outcome, fault for fault. The event streams over https (events, resume
//! after a drop, stalls, malformed frames) are tests/live.rs's scenarios,
//! module `over_https`; TLS to another root, through a proxy and by a pinned
//! name are in tests/network.rs.
//!
//! Each test body is written once and expanded for both faces.

mod common;

use std::time::Duration;

use common::{builder, client, emulator_from, emulator_over_https};
use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{CreateTask, Error, RetryPolicy, Tasks, UpdateTask};

fn quick() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// The call a row makes.
#[derive(Debug, Clone, Copy)]
enum Call {
    Get,
    Create,
    Update,
}

/// One fault, the call it hits, and the outcome both faces must get over
/// both schemes: a summary (`ok`, or the error's kind and attempts) and how
/// many requests the emulator received.
struct Row {
    name: &'static str,
    call: Call,
    fault: Option<Fault>,
    /// The base URL names a closed port instead of the emulator.
    refused: bool,
    tweak: fn(xpander_sdk::ClientBuilder) -> xpander_sdk::ClientBuilder,
    outcome: &'static str,
    requests: usize,
}

fn table() -> Vec<Row> {
    let on = |method| Fault::on(method, "/agent-execution/*");
    let row = |name, call, fault, outcome, requests| Row {
        name,
        call,
        fault: Some(fault),
        refused: false,
        tweak: |b| b,
        outcome,
        requests,
    };
    vec![
        Row {
            refused: true,
            fault: None,
            ..row("refused", Call::Get, on("GET"), "Connect after 3", 0)
        },
        row(
            "truncated body, retried for get",
            Call::Get,
            on("GET").truncate_body(),
            "ok",
            2,
        ),
        row(
            "truncated body, not retried for create",
            Call::Create,
            on("POST").truncate_body(),
            "Disconnected after 1",
            1,
        ),
        row(
            "closed before the answer, retried for update",
            Call::Update,
            on("PATCH").close_connection(),
            "ok",
            2,
        ),
        row(
            "closed before the answer, not retried for create",
            Call::Create,
            on("POST").close_connection(),
            "Disconnected after 1",
            1,
        ),
        row(
            "broken body (200, not JSON)",
            Call::Get,
            on("GET")
                .respond_text(200, r#"{"id": "task_xyz", "agent_id": "agen"#)
                .content_type("application/json"),
            "Decode after 1",
            1,
        ),
        Row {
            tweak: |b| b.max_response_bytes(64 * 1024),
            ..row(
                "oversized body",
                Call::Get,
                on("GET").oversized_body(1 << 20),
                "BodyTooLarge after 1",
                1,
            )
        },
        row(
            "two 503 then success",
            Call::Update,
            on("PATCH").times(2).respond(503, json!({"detail": "busy"})),
            "ok",
            3,
        ),
        row(
            "503 every time",
            Call::Get,
            on("GET").always().respond(503, json!({"detail": "busy"})),
            "status 503 after 3",
            3,
        ),
        Row {
            tweak: |b| b.request_timeout(Duration::from_millis(300)),
            ..row(
                "an answer that never comes",
                Call::Get,
                on("GET").hold(),
                "Timeout after 1",
                1,
            )
        },
    ]
}

/// `ok`, or the error's kind and attempts.
fn summary(result: Result<(), Error>) -> String {
    let Err(err) = result else {
        return "ok".into();
    };
    let kind = match &err {
        Error::Transport(t) => format!("{:?}", t.kind),
        Error::Decode(_) => "Decode".into(),
        Error::BodyTooLarge { .. } => "BodyTooLarge".into(),
        other => match other.status() {
            Some(status) => format!("status {status}"),
            None => format!("{other:?}"),
        },
    };
    format!("{kind} after {}", err.attempts())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The emulator and the client of a row, over https or not.
fn setup(row: &Row, tls: bool) -> (Emulator, Tasks) {
    let emulator = emulator_from(Emulator::builder().tls(tls));
    if let Some(fault) = &row.fault {
        emulator.inject(fault.clone());
    }
    let mut client = (row.tweak)(builder(&emulator).retry(quick()));
    if row.refused {
        let scheme = if tls { "https" } else { "http" };
        client = client.base_url(format!("{scheme}://127.0.0.1:{}", closed_port()));
    }
    (emulator, client.build().unwrap())
}

macro_rules! https_tests {
    (
        $face:ident, $mode:meta, $test:meta,
        update: $update:ident, get: $get:ident, create: $create:ident
    ) => {
        mod $face {
            use super::*;

            #[$mode]
            async fn run(tasks: &Tasks, call: Call) -> Result<(), Error> {
                match call {
                    Call::Get => tasks.$get("task_xyz").await.map(drop),
                    Call::Create => tasks
                        .$create(&CreateTask::new("agent-123", "Hi"))
                        .await
                        .map(drop),
                    Call::Update => tasks
                        .$update("task_xyz", &UpdateTask::new().result("x"))
                        .await
                        .map(drop),
                }
            }

            #[$mode]
            #[$test]
            async fn update_by_ip_and_by_name_on_one_connection_each() {
                let emulator = emulator_over_https();
                let by_ip = client(&emulator);
                assert!(by_ip.config().base_url.starts_with("https://127.0.0.1:"));
                let port = emulator.addr().port();
                let by_name = builder(&emulator)
                    .base_url(format!("https://localhost:{port}"))
                    .build()
                    .unwrap();
                for (n, tasks) in [by_ip, by_name].iter().enumerate() {
                    let result = format!("over TLS {n}");
                    let task = tasks
                        .$update("task_xyz", &UpdateTask::new().result(result.as_str()))
                        .await
                        .unwrap();
                    assert_eq!(task.result.as_deref(), Some(result.as_str()));
                    let read = tasks.$get("task_xyz").await.unwrap();
                    assert_eq!(read.result, Some(result));
                }
                // Two clients, two calls each: a connection and a handshake
                // per client.
                assert_eq!(
                    (emulator.connections_accepted(), emulator.tls_handshakes()),
                    (2, 2)
                );
                assert_eq!(emulator.requests().len(), 4);
            }

            #[$mode]
            #[$test]
            async fn a_client_without_the_root_refuses_the_emulator() {
                let emulator = emulator_over_https();
                let tasks = Tasks::builder()
                    .base_url(emulator.base_url())
                    .api_key(emulator.api_key())
                    .retry(quick())
                    .build()
                    .unwrap();
                let err = tasks.$get("task_xyz").await.unwrap_err();
                match &err {
                    Error::Transport(t) => {
                        assert_eq!(t.kind, xpander_sdk::TransportErrorKind::Connect, "{err:?}")
                    }
                    // No platform roots and none bundled: refused before
                    // any connection, naming the fixes (tests/tls_roots.rs).
                    Error::Config(_) if !cfg!(feature = "webpki-roots") => {}
                    other => panic!("{other:?}"),
                }
                assert_eq!(emulator.tls_handshakes(), 0);
                assert!(emulator.requests().is_empty(), "nothing was sent");
            }

            #[$mode]
            #[$test]
            async fn the_fault_table_gives_the_same_outcomes_over_https() {
                for row in table() {
                    for tls in [false, true] {
                        let (emulator, tasks) = setup(&row, tls);
                        let result = run(&tasks, row.call).await;
                        let got = summary(result);
                        let over = if tls { "https" } else { "http" };
                        assert_eq!(got, row.outcome, "{} over {over}", row.name);
                        let requests = emulator.requests().len();
                        assert_eq!(requests, row.requests, "{} over {over}", row.name);
                        // Over https every connection was TLS.
                        let handshakes = emulator.tls_handshakes();
                        assert_eq!(
                            handshakes > 0,
                            tls && !row.refused,
                            "{} over {over}",
                            row.name
                        );
                    }
                }
            }
        }
    };
}

https_tests!(
    blocking, maybe_async::must_be_sync, test,
    update: update, get: get, create: create
);

https_tests!(
    nonblocking, maybe_async::must_be_async, tokio::test(flavor = "multi_thread", worker_threads = 2),
    update: aupdate, get: aget, create: acreate
);
