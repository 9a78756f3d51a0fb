//! The real network, in both faces: TLS with an extra root, a wrong root,
//! a CONNECT proxy, HTTP/2 by ALPN, deadlines and per-call options, your own
//! HTTP client, and the same error kind and retry decision for the same
//! failure in both faces. Every server is on loopback (tests/support/net.rs).
//! Each test body is written once and expanded for both faces.

mod common;
#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use common::{client, emulator, emulator_from, RECORDER_TASK};
use net::{fixed_answer, ConnectProxy, HyperTls, TestCa, Unaccepting};
use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{
    CallOptions, CreateTask, Error, RetryPolicy, Tasks, TransportErrorKind, UpdateTask,
};

/// A name that is not loopback (so proxies apply) and never looked up:
/// every client here pins it with `ClientBuilder::resolve`.
const HOST: &str = "tasks.example.test";

fn quick() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// An emulator serving https, its certificate naming `HOST` too.
fn https_emulator() -> Emulator {
    emulator_from(Emulator::builder().tls_name(HOST))
}

/// A client of `https://HOST:port` trusting `root` (if any), `HOST` pinned
/// to `addr`, no proxy.
fn https_client(
    addr: std::net::SocketAddr,
    root: Option<&str>,
    key: &str,
) -> xpander_sdk::ClientBuilder {
    let mut builder = Tasks::builder()
        .base_url(format!("https://{HOST}:{}", addr.port()))
        .api_key(key)
        .retry(quick())
        .resolve(HOST, addr)
        .no_proxy();
    if let Some(root) = root {
        builder = builder.add_root_certificate_pem(root);
    }
    builder
}

fn kind(err: &Error) -> Option<TransportErrorKind> {
    match err {
        Error::Transport(t) => Some(t.kind),
        _ => None,
    }
}

/// One failure of the table: a server that fails in one way, and what
/// both faces must make of it.
struct Fault1 {
    name: &'static str,
    base_url: String,
    root: Option<String>,
    connect_timeout: Duration,
    kind: TransportErrorKind,
    /// Attempts made by an idempotent call (get) and by create.
    get_attempts: u32,
    create_attempts: u32,
    _keep: Option<Unaccepting>,
}

fn fault_table() -> Vec<Fault1> {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (broken_body, _) =
        fixed_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\"".to_vec());
    let mut huge = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend(b"\r\ncontent-length: 2\r\n\r\n{}");
    let (oversized, _) = fixed_answer(huge);
    let (garbage, _) = fixed_answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec());
    let unaccepting = Unaccepting::start();
    let other = TestCa::new(&[HOST, "localhost"]);
    let http = |addr: std::net::SocketAddr| format!("http://127.0.0.1:{}", addr.port());
    let row = |name, base_url, kind, get_attempts, create_attempts| Fault1 {
        name,
        base_url,
        root: None,
        connect_timeout: Duration::from_secs(10),
        kind,
        get_attempts,
        create_attempts,
        _keep: None,
    };
    use TransportErrorKind::*;
    vec![
        row(
            "refused connection",
            format!("http://127.0.0.1:{closed}"),
            Connect,
            3,
            3,
        ),
        Fault1 {
            connect_timeout: Duration::from_millis(200),
            _keep: Some(unaccepting),
            ..row("connect timeout", String::new(), ConnectTimeout, 3, 3)
        }
        .with_url_of_keep(),
        row("broken body", http(broken_body), Disconnected, 3, 1),
        row("oversized answer head", http(oversized), Protocol, 1, 1),
        row("invalid HTTP", http(garbage), Protocol, 1, 1),
        Fault1 {
            root: Some(other.root_pem.clone()),
            ..row(
                "TLS handshake failure (wrong root)",
                format!("https://localhost:{}", https_emulator_forever().port()),
                Connect,
                // A refused certificate: no retry can fix it (issue 19).
                1,
                1,
            )
        },
    ]
}

impl Fault1 {
    fn with_url_of_keep(mut self) -> Fault1 {
        if let Some(keep) = &self._keep {
            self.base_url = format!("http://127.0.0.1:{}", keep.addr.port());
        }
        self
    }

    fn client(&self) -> Tasks {
        let mut builder = Tasks::builder()
            .base_url(&self.base_url)
            .api_key("k")
            .retry(quick())
            .connect_timeout(self.connect_timeout)
            .no_proxy();
        if let Some(root) = &self.root {
            builder = builder.add_root_certificate_pem(root);
        }
        builder.build().unwrap()
    }
}

/// An emulator serving https, kept for the whole test process: its address.
fn https_emulator_forever() -> std::net::SocketAddr {
    Box::leak(Box::new(https_emulator())).addr()
}

macro_rules! network_tests {
    (
        $face:ident, $mode:meta, $test:meta,
        update: $update:ident, get: $get:ident, create: $create:ident
    ) => {
        mod $face {
            use super::*;

            #[$mode]
            #[$test]
            async fn update_over_tls_trusting_an_extra_root() {
                let emulator = https_emulator();
                let root = emulator.root_certificate_pem();
                let tasks = https_client(emulator.addr(), root, emulator.api_key())
                    .build()
                    .unwrap();
                let task = tasks
                    .$update("task_xyz", &UpdateTask::new().result("over TLS"))
                    .await
                    .unwrap();
                assert_eq!(task.result.as_deref(), Some("over TLS"));
                tasks.$get("task_xyz").await.unwrap();
                // One connection, one handshake, for both calls.
                assert_eq!((emulator.connections_accepted(), emulator.tls_handshakes()), (1, 1));
                assert_eq!(emulator.requests().len(), 2);
            }

            #[$mode]
            #[$test]
            async fn a_server_signed_by_another_root_is_refused_and_nothing_is_sent() {
                let emulator = https_emulator();
                let other = TestCa::new(&[HOST]);
                let tasks = https_client(emulator.addr(), Some(&other.root_pem), emulator.api_key())
                    .build()
                    .unwrap();
                let err = tasks.$get("task_xyz").await.unwrap_err();
                assert_eq!(kind(&err), Some(TransportErrorKind::Connect), "{err:?}");
                assert!(emulator.requests().is_empty());
                assert_eq!(emulator.tls_handshakes(), 0);
            }

            #[$mode]
            #[$test]
            async fn a_connect_proxy_carries_the_https_tunnel() {
                let emulator = https_emulator();
                let proxy = ConnectProxy::start(emulator.addr());
                let tasks = Tasks::builder()
                    .base_url(format!("https://{HOST}"))
                    .api_key(emulator.api_key())
                    .add_root_certificate_pem(emulator.root_certificate_pem().unwrap())
                    .proxy(format!("http://user:pa55@{}", proxy.addr))
                    .build()
                    .unwrap();
                assert!(!format!("{tasks:?}").contains("pa55"));
                let task = tasks
                    .$update("task_xyz", &UpdateTask::new().result("tunnelled"))
                    .await
                    .unwrap();
                assert_eq!(task.result.as_deref(), Some("tunnelled"));
                assert_eq!(proxy.tunnels.load(std::sync::atomic::Ordering::SeqCst), 1);
                assert_eq!(*proxy.targets.lock().unwrap(), [format!("{HOST}:443")]);
                // user:pa55, base64: the proxy's credentials, not the key.
                assert_eq!(*proxy.auth.lock().unwrap(), ["Basic dXNlcjpwYTU1"]);
            }

            #[$mode]
            #[$test]
            async fn loopback_is_never_proxied_even_through_an_explicit_proxy() {
                let emulator = emulator();
                let proxy = ConnectProxy::start("127.0.0.1:9".parse().unwrap());
                let tasks = Tasks::builder()
                    .base_url(emulator.base_url())
                    .api_key(emulator.api_key())
                    .proxy(format!("http://{}", proxy.addr))
                    .build()
                    .unwrap();
                assert!(tasks.config().proxy.is_none());
                tasks.$get("task_xyz").await.unwrap();
                assert!(proxy.targets.lock().unwrap().is_empty());
            }

            #[$mode]
            #[$test]
            async fn a_plain_http_host_goes_through_a_proxy_only_when_allowed() {
                let emulator = emulator();
                let upstream = emulator.base_url().trim_start_matches("http://").parse().unwrap();
                let proxy = ConnectProxy::start(upstream);
                let builder = Tasks::builder()
                    .base_url(format!("http://{HOST}"))
                    .allow_insecure_http(true)
                    .api_key(emulator.api_key())
                    .proxy(format!("http://{}", proxy.addr));
                let err = builder.clone().build().unwrap_err();
                assert!(err.to_string().contains("allow_cleartext_proxy"), "{err}");
                let tasks = builder.allow_cleartext_proxy(true).build().unwrap();
                tasks.$get("task_xyz").await.unwrap();
                assert_eq!(proxy.targets.lock().unwrap().len(), 1);
            }

            #[$mode]
            #[$test]
            async fn the_deadline_ends_an_answer_that_never_comes() {
                let emulator = emulator();
                emulator.inject(Fault::on("GET", "/agent-execution/*").hold());
                let tasks = client(&emulator);
                let err = tasks
                    .with_options(CallOptions::new().deadline(Duration::from_millis(300)))
                    .$get("task_xyz")
                    .await
                    .unwrap_err();
                assert!(err.is_timeout(), "{err:?}");
                assert_eq!(err.attempts(), 1);
            }

            #[$mode]
            #[$test]
            async fn no_retry_starts_whose_wait_would_pass_the_deadline() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("GET", "/agent-execution/*")
                        .always()
                        .respond(503, json!({"detail": "busy"}))
                        .retry_after("2"),
                );
                let tasks = Tasks::builder()
                    .base_url(emulator.base_url())
                    .api_key(emulator.api_key())
                    .deadline(Duration::from_secs(1))
                    .build()
                    .unwrap();
                let err = tasks.$get("task_xyz").await.unwrap_err();
                assert_eq!(err.status(), Some(503), "{err:?}");
                assert_eq!(err.attempts(), 1);
                assert_eq!(emulator.requests().len(), 1);
            }

            #[$mode]
            #[$test]
            async fn per_call_headers_retry_and_timeout() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("PATCH", "/agent-execution/*")
                        .times(1)
                        .respond(503, json!({"detail": "busy"})),
                );
                let tasks = client(&emulator);
                let once = tasks.with_options(
                    CallOptions::new()
                        .retry(RetryPolicy::disabled())
                        .timeout(Duration::from_secs(5))
                        .header("X-Request-Id", "run-42"),
                );
                let err = once
                    .$update("task_xyz", &UpdateTask::new().result("x"))
                    .await
                    .unwrap_err();
                assert_eq!((err.status(), err.attempts()), (Some(503), 1));
                once.$update("task_xyz", &UpdateTask::new().result("x")).await.unwrap();
                let requests = emulator.requests();
                assert_eq!(requests.len(), 2);
                assert!(requests.iter().all(|r| r.header("x-request-id") == Some("run-42")));
                // The client it was made from is untouched.
                tasks.$get("task_xyz").await.unwrap();
                assert_eq!(emulator.requests()[2].header("x-request-id"), None);
            }

            #[$mode]
            #[$test]
            async fn a_reserved_header_is_refused_before_any_request() {
                let emulator = emulator();
                let tasks = client(&emulator)
                    .with_options(CallOptions::new().header("x-api-key", "other-key"));
                let err = tasks.$get("task_xyz").await.unwrap_err();
                assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
                assert!(!err.to_string().contains("other-key"), "{err}");
                assert!(emulator.requests().is_empty());
            }

            #[$mode]
            #[$test]
            async fn a_429_to_create_is_retried() {
                let emulator = emulator();
                emulator.inject(
                    Fault::on("POST", "/agent-execution/*")
                        .times(1)
                        .respond(429, json!({"detail": "slow down"})),
                );
                let tasks = client(&emulator);
                let task = tasks.$create(&CreateTask::new("agent-123", "Hi")).await.unwrap();
                assert_eq!(task.agent_id, "agent-123");
                assert_eq!(emulator.requests().len(), 2);
            }

            #[$mode]
            #[$test]
            async fn the_same_failure_gives_the_same_kind_and_retries_in_both_faces() {
                for fault in fault_table() {
                    let tasks = fault.client();
                    let err = tasks.$get("task_xyz").await.unwrap_err();
                    assert_eq!(kind(&err), Some(fault.kind), "{}: {err:?}", fault.name);
                    assert_eq!(err.attempts(), fault.get_attempts, "{}: {err:?}", fault.name);
                    let err = tasks
                        .$create(&CreateTask::new("agent-123", "Hi"))
                        .await
                        .unwrap_err();
                    assert_eq!(kind(&err), Some(fault.kind), "{}: {err:?}", fault.name);
                    assert_eq!(err.attempts(), fault.create_attempts, "{}: {err:?}", fault.name);
                }
            }

            #[$mode]
            #[$test]
            async fn a_named_loopback_host_works() {
                let emulator = emulator();
                let port = emulator.base_url().rsplit(':').next().unwrap().to_string();
                let tasks = Tasks::builder()
                    .base_url(format!("http://localhost:{port}"))
                    .api_key(emulator.api_key())
                    .build()
                    .unwrap();
                for _ in 0..3 {
                    tasks.$get("task_xyz").await.unwrap();
                }
            }
        }
    };
}

network_tests!(
    blocking, maybe_async::must_be_sync, test,
    update: update, get: get, create: create
);

network_tests!(
    nonblocking, maybe_async::must_be_async, tokio::test(flavor = "multi_thread", worker_threads = 2),
    update: aupdate, get: aget, create: acreate
);

#[cfg(not(feature = "http2"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_http2_feature_the_async_face_speaks_http1_over_tls() {
    let ca = TestCa::new(&[HOST]);
    let server = HyperTls::start(&ca, &["h2", "http/1.1"], task_body());
    let tasks = https_client(server.addr, Some(&ca.root_pem), "k")
        .build()
        .unwrap();
    tasks.aget("task_xyz").await.unwrap();
    assert_eq!(*server.protocols.lock().unwrap(), ["http/1.1"]);
}

fn task_body() -> Vec<u8> {
    RECORDER_TASK.as_bytes().to_vec()
}

#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_face_speaks_http2_over_tls_when_offered() {
    let ca = TestCa::new(&[HOST]);
    let server = HyperTls::start(&ca, &["h2", "http/1.1"], task_body());
    let tasks = https_client(server.addr, Some(&ca.root_pem), "k")
        .build()
        .unwrap();
    for _ in 0..3 {
        tasks.aget("task_xyz").await.unwrap();
    }
    let h1 = https_client(server.addr, Some(&ca.root_pem), "k")
        .http2(false)
        .build()
        .unwrap();
    h1.aget("task_xyz").await.unwrap();
    // The blocking face speaks HTTP/1.1.
    let blocking = tasks.clone();
    tokio::task::spawn_blocking(move || blocking.get("task_xyz").unwrap())
        .await
        .unwrap();
    assert_eq!(
        *server.protocols.lock().unwrap(),
        ["h2", "http/1.1", "http/1.1"],
        "one HTTP/2 connection for three calls, then HTTP/1.1 when turned off"
    );
}

#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_in_flight_from_a_cold_client_share_one_http2_connection() {
    let ca = TestCa::new(&[HOST]);
    let server = HyperTls::start(&ca, &["h2", "http/1.1"], task_body());
    let tasks = https_client(server.addr, Some(&ca.root_pem), "k")
        .build()
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let tasks = tasks.clone();
        calls.spawn(async move { tasks.aget("task_xyz").await.unwrap() });
    }
    while let Some(call) = calls.join_next().await {
        call.unwrap();
    }
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// The first call of an HTTP/2 client goes alone, but one that never ends
/// does not hold up the calls started meanwhile for long.
#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_first_call_does_not_hold_up_the_others() {
    let emulator = https_emulator();
    emulator.inject(Fault::on("GET", "/agent-execution/*").hold());
    let root = emulator.root_certificate_pem();
    let tasks = https_client(emulator.addr(), root, emulator.api_key())
        .build()
        .unwrap();
    let held = tokio::spawn({
        let tasks = tasks.clone();
        async move { tasks.aget("task_xyz").await }
    });
    while emulator.held() == 0 {
        tokio::task::yield_now().await;
    }
    // The first call is held by the server: this one must still complete.
    tasks
        .aupdate("task_xyz", &UpdateTask::new().result("not held up"))
        .await
        .unwrap();
    emulator.release(1);
    held.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn your_own_clients_are_used_and_error_answers_keep_their_body() {
    // A reqwest client built by hand needs a crypto provider: the crate
    // builds reqwest without one of its own choosing (ring is set per client).
    // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = emulator();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .reqwest_client(reqwest::Client::builder().no_proxy().build().unwrap())
        .ureq_agent(ureq::Agent::new_with_defaults())
        .build()
        .unwrap();
    tasks.aget("task_xyz").await.unwrap();
    let err = tasks.aget("no_such_task").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let blocking = tasks.clone();
    let err = tokio::task::spawn_blocking(move || {
        blocking.get("task_xyz").unwrap();
        blocking.get("no_such_task").unwrap_err()
    })
    .await
    .unwrap();
    // ureq's default agent makes a 404 an error; the crate asks it not to.
    assert!(err.is_not_found(), "{err:?}");
    assert!(!err.as_api().unwrap().body.is_empty(), "{err:?}");
    assert_eq!(emulator.requests().len(), 4);
}
