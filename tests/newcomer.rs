//! A newcomer's first hour (issue 22): errors that name the request and put
//! the common mistakes in words, a wrong base path told from a missing
//! task, a seeded task the SDK reads, one naming convention for builders.
//! Both faces, against the emulator and loopback listeners.

use std::net::TcpListener;

use serde_json::json;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::sans_io::wait::WaitPolicy;
use xpander_sdk::sans_io::worker::WorkerPolicy;
use xpander_sdk::sans_io::Method;
use xpander_sdk::{Error, ListFilter, RetryPolicy, Tasks, TransportErrorKind};

const KEY: &str = "newcomer-key-5d1e";

fn emulator() -> Emulator {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    emulator
        .seed_task_with_defaults(json!({"id": "t1", "agent_id": "a1", "status": "executing"}))
        .unwrap();
    emulator
}

fn client(base_url: &str) -> Tasks {
    Tasks::builder()
        .base_url(base_url)
        .api_key(KEY)
        .retry(RetryPolicy::disabled())
        .no_proxy()
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `call` in the blocking face and `acall` in the async one; answers both errors.
macro_rules! both {
    ($tasks:expr, |$t:ident| $call:expr, $acall:expr) => {{
        let $t = &$tasks;
        let blocking = $call.expect_err("the blocking call fails");
        let asynchronous = runtime()
            .block_on(async { $acall.await })
            .expect_err("the async call fails");
        [blocking, asynchronous]
    }};
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn api_errors_name_the_method_and_the_url_without_its_query() {
    let emulator = emulator();
    let base = emulator.base_url();
    let tasks = client(&base);
    for error in both!(tasks, |t| t.get("nope"), t.aget("nope")) {
        let api = error.as_api().expect("an API error");
        assert_eq!(api.method, Some(Method::GET));
        assert_eq!(
            api.url.as_deref(),
            Some(&*format!("{base}/agent-execution/nope/status"))
        );
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!(
                "GET {base}/agent-execution/nope/status: the API answered 404"
            )),
            "{shown}"
        );
        assert!(error.is_not_found() && !error.is_unknown_route(), "{shown}");
    }
    // A list with a filter: the query (ids, filters) stays out.
    emulator.inject(
        xpander_sdk::emulator::Fault::on("GET", "*")
            .times(2)
            .respond(500, json!({"detail": "boom"})),
    );
    let mut filter = ListFilter::new();
    filter.user_id = Some("user-secret-id".into());
    for error in both!(tasks, |t| t.list("a1", &filter), t.alist("a1", &filter)) {
        let shown = error.to_string();
        assert!(shown.contains(&format!("GET {base}/")), "{shown}");
        assert!(
            !shown.contains("user-secret-id") && !shown.contains('?'),
            "{shown}"
        );
        assert!(!shown.contains(KEY), "{shown}");
    }
}

#[test]
fn transport_errors_name_the_method_and_the_url() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let tasks = client(&base);
    for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
        let Error::Transport(transport) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(transport.kind, TransportErrorKind::Connect);
        assert_eq!(transport.method, Some(Method::GET));
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!(
                "GET {base}/agent-execution/t1/status: transport error (Connect)"
            )),
            "{shown}"
        );
    }
    // The default port is written out.
    let tasks = client("https://127.0.0.1");
    let port_443_open = std::net::TcpStream::connect("127.0.0.1:443").is_ok();
    if !port_443_open {
        for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
            assert!(
                error
                    .to_string()
                    .starts_with("GET https://127.0.0.1:443/agent-execution/t1/status: "),
                "{error}"
            );
        }
    }
}

#[test]
fn a_base_url_without_a_scheme_is_refused_naming_the_url_meant() {
    let cases = [
        ("127.0.0.1:8016", "did you mean \"http://127.0.0.1:8016\"?"),
        (
            "localhost:8016/api",
            "did you mean \"http://localhost:8016/api\"?",
        ),
        (
            "inbound.xpander.ai",
            "did you mean \"https://inbound.xpander.ai\"?",
        ),
    ];
    for (raw, meant) in cases {
        match Tasks::builder().base_url(raw).api_key(KEY).build() {
            Err(Error::Config(message)) => {
                assert!(
                    message.contains("no scheme") && message.contains(meant),
                    "{message}"
                )
            }
            other => panic!("{raw}: {other:?}"),
        }
    }
}

#[test]
fn tls_spoken_to_a_plain_http_server_says_so() {
    let emulator = emulator();
    let plain = emulator.base_url();
    let authority = plain.strip_prefix("http://").unwrap();
    let tasks = client(&format!("https://{authority}"));
    for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
        let shown = error.to_string();
        assert!(
            shown.contains(&format!(
                "the server at {authority} does not speak TLS: did you mean http://{authority}?"
            )),
            "{shown}"
        );
        assert!(error.is_connect(), "{error:?}");
    }
}

#[test]
fn an_unknown_host_is_named() {
    // `.invalid` never resolves (RFC 6761), with or without a network.
    let tasks = client("https://no-such-host.invalid");
    for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
        let shown = error.to_string();
        assert!(
            shown.contains("could not resolve host no-such-host.invalid"),
            "{shown}"
        );
        assert!(
            shown.starts_with("GET https://no-such-host.invalid:443/agent-execution/t1/status: "),
            "{shown}"
        );
        assert!(error.is_connect(), "{error:?}");
    }
}

#[test]
fn a_wrong_base_path_is_an_unknown_route_not_a_missing_task() {
    let emulator = emulator();
    let wrong = client(&format!("{}/v1", emulator.base_url()));
    for error in both!(wrong, |t| t.get("t1"), t.aget("t1")) {
        assert!(error.is_unknown_route(), "{error:?}");
        assert!(!error.is_not_found(), "{error:?}");
        assert_eq!(error.status(), Some(404));
        assert!(error.to_string().contains("check the base URL"), "{error}");
    }
    let right = client(&emulator.base_url());
    for error in both!(right, |t| t.get("missing"), t.aget("missing")) {
        assert!(
            error.is_not_found() && !error.is_unknown_route(),
            "{error:?}"
        );
        assert!(!error.to_string().contains("base URL"), "{error}");
    }
    // A web server's HTML 404 page is about the route too.
    emulator.inject(
        xpander_sdk::emulator::Fault::on("GET", "*")
            .times(2)
            .respond_text(404, "<html><body><h1>404 Not Found</h1></body></html>"),
    );
    for error in both!(right, |t| t.get("t1"), t.aget("t1")) {
        assert!(
            error.is_unknown_route() && !error.is_not_found(),
            "{error:?}"
        );
    }
}

#[test]
fn a_task_seeded_with_defaults_is_one_the_sdk_reads() {
    let emulator = emulator();
    let tasks = client(&emulator.base_url());
    let task = tasks.get("t1").unwrap();
    assert_eq!(task.organization_id, emulator.organization_id());
    assert_eq!(task.agent_id, "a1");
    // The control route does the same.
    let body = r#"{"id": "t2", "agent_id": "a1", "status": "pending"}"#;
    let answer = raw_post(&emulator, "/__emulator/tasks?defaults=true", body);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let task = runtime().block_on(tasks.aget("t2")).unwrap();
    assert_eq!(task.organization_id, emulator.organization_id());
}

fn raw_post(emulator: &Emulator, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let authority = emulator
        .base_url()
        .strip_prefix("http://")
        .unwrap()
        .to_string();
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn every_builder_takes_plain_setters() {
    use std::time::Duration;
    let s = Duration::from_secs;
    let wait = WaitPolicy::default()
        .timeout(s(5))
        .poll(s(1), s(2))
        .backoff_factor(1.5)
        .jitter(false)
        .follow_events(false)
        .recheck_every(s(30))
        .stream(StreamPolicy::default().max_reconnects(1));
    assert_eq!(
        (wait.timeout, wait.poll_initial, wait.poll_max),
        (s(5), s(1), s(2))
    );
    assert!(!wait.jitter && !wait.follow_events);
    let stream = StreamPolicy::default()
        .idle_timeout(s(7))
        .connect_timeout(s(3))
        .max_reconnects(4)
        .initial_delay(s(1))
        .max_delay(s(9))
        .reset_after(s(60))
        .jitter(false)
        .stop_at_finish(false)
        .max_remembered_ids(10)
        .persistent(true);
    assert_eq!((stream.idle_timeout, stream.max_reconnects), (s(7), 4));
    let retry = RetryPolicy::default()
        .max_attempts(2)
        .backoff(s(1), s(4))
        .jitter(false)
        .max_retry_after(s(8));
    assert_eq!(retry.max_attempts, 2);
    let worker = WorkerPolicy::default()
        .concurrency(3)
        .queue_capacity(5)
        .heartbeat_interval(s(10))
        .task_timeout(Some(s(60)))
        .shutdown_grace(s(2))
        .stream(StreamPolicy::default())
        .max_idle_reconnects(Some(3))
        .save_retries(4, s(1), s(2));
    assert_eq!((worker.concurrency, worker.save_attempts), (3, 4));
}

#[test]
fn transport_errors_of_a_filtered_list_keep_the_query_out() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let tasks = client(&base);
    let mut filter = ListFilter::new();
    filter.user_id = Some("user-secret-id".into());
    for error in both!(tasks, |t| t.list("a1", &filter), t.alist("a1", &filter)) {
        let shown = error.to_string();
        assert!(shown.contains(&format!("GET {base}/")), "{shown}");
        assert!(
            !shown.contains("user-secret-id") && !shown.contains('?'),
            "{shown}"
        );
        let debug = format!("{error:?}");
        assert!(!debug.contains("user-secret-id"), "{debug}");
    }
}

#[test]
fn a_404_from_anything_but_the_api_is_an_unknown_route() {
    let emulator = emulator();
    let tasks = client(&emulator.base_url());
    // What sits in front of an API answers a route it has no rule for:
    // Traefik and Go's mux in text, Envoy with no body, an API gateway
    // with JSON that is not FastAPI's, nginx in HTML after a BOM.
    let proxies = [
        xpander_sdk::emulator::Fault::on("GET", "*").respond_text(404, "404 page not found\n"),
        xpander_sdk::emulator::Fault::on("GET", "*").respond_text(404, ""),
        xpander_sdk::emulator::Fault::on("GET", "*").respond(404, json!({"message": "Not Found"})),
        xpander_sdk::emulator::Fault::on("GET", "*")
            .respond_text(404, "\u{feff}<html><body>404</body></html>"),
        xpander_sdk::emulator::Fault::on("GET", "*").respond(404, json!({"detail": " not found "})),
    ];
    for fault in proxies {
        emulator.inject(fault.times(2));
        for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
            assert!(
                error.is_unknown_route() && !error.is_not_found(),
                "{error:?}"
            );
        }
    }
    // The API's own words about a resource are a missing resource.
    let resources = [
        json!({"detail": "Task t1 not found"}),
        json!({"detail": "Worker w not found for agent a"}),
        json!({"detail": [{"loc": ["path", "task_id"], "msg": "no such task"}]}),
    ];
    for body in resources {
        emulator.inject(
            xpander_sdk::emulator::Fault::on("GET", "*")
                .respond(404, body)
                .times(2),
        );
        for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
            assert!(
                error.is_not_found() && !error.is_unknown_route(),
                "{error:?}"
            );
        }
    }
}

#[test]
fn the_url_in_an_error_never_shows_the_key_and_stays_short() {
    // The key passed where an id goes (arguments swapped, `get $KEY`):
    // the server's echo of it is scrubbed, and so is the URL.
    let emulator = emulator();
    let tasks = client(&emulator.base_url());
    for error in both!(tasks, |t| t.get(KEY), t.aget(KEY)) {
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(KEY) && !shown.contains("5d1e"), "{shown}");
        }
    }
    // A key the path percent-encodes, on a transport error.
    let key = "sk VERY/SECRET+9b7e4c";
    let base = format!("http://127.0.0.1:{}", closed_port());
    let tasks = Tasks::builder()
        .base_url(&base)
        .api_key(key)
        .retry(RetryPolicy::disabled())
        .no_proxy()
        .build()
        .unwrap();
    for error in both!(tasks, |t| t.get(key), t.aget(key)) {
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("9b7e4c"), "{shown}");
        }
    }
    // A very long id: the error names the request, bounded.
    let long = "x".repeat(100_000);
    for error in both!(tasks, |t| t.get(&long), t.aget(&long)) {
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!("GET {base}/agent-execution/xxx")),
            "{shown:.300}"
        );
        assert!(shown.len() < 2_000, "{} bytes: {shown:.300}", shown.len());
    }
}

#[test]
fn a_proxy_password_never_shows_in_an_error() {
    // The proxy refuses connections, or answers 407 to the tunnel.
    let refusing = format!("http://u:pr0xyPW@127.0.0.1:{}", closed_port());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let answering = format!("http://u:pr0xyPW@127.0.0.1:{port}");
    for proxy in [refusing, answering] {
        let tasks = Tasks::builder()
            .base_url("https://tasks.example.test")
            .api_key(KEY)
            .retry(RetryPolicy::disabled())
            .proxy(&proxy)
            .allow_cleartext_proxy(true)
            .build()
            .unwrap();
        for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
            for shown in [
                error.to_string(),
                format!("{error:?}"),
                format!("{:?}", tasks),
            ] {
                assert!(!shown.contains("pr0xyPW"), "{shown}");
            }
        }
    }
}

#[test]
fn an_unknown_proxy_host_is_not_blamed_on_the_api_host() {
    let tasks = Tasks::builder()
        .base_url("https://tasks.example.test")
        .api_key(KEY)
        .retry(RetryPolicy::disabled())
        .proxy("http://no-such-proxy.invalid:3128")
        .allow_cleartext_proxy(true)
        .build()
        .unwrap();
    for error in both!(tasks, |t| t.get("t1"), t.aget("t1")) {
        let shown = error.to_string();
        assert!(
            !shown.contains("could not resolve host tasks.example.test ("),
            "{shown}"
        );
        assert!(shown.contains("no-such-proxy.invalid"), "{shown}");
    }
}
