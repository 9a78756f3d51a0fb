//! Issue 19: no part of a secret leaks, no request goes where it should not.
//! Hostile servers on loopback (raw answers, redirects, a CONNECT proxy, an
//! https emulator), in both faces.

mod common;
#[path = "support/net.rs"]
mod net;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::error::SNIPPET_LIMIT;
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{Error, RetryPolicy, Tasks, UpdateTask};

/// Every run of 8 bytes of `secret` that `text` shows.
fn runs_of(secret: &str, text: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    (0..bytes.len().saturating_sub(7))
        .map(|i| String::from_utf8_lossy(&bytes[i..i + 8]).into_owned())
        .filter(|run| text.contains(run.as_str()))
        .collect()
}

/// Every text an error shows: Display, Debug, and its chain of causes.
fn texts(error: &Error) -> String {
    let mut all = format!("{error}\n{error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        all.push_str(&format!("\n{cause}\n{cause:?}"));
        source = cause.source();
    }
    all
}

fn assert_no_run(secret: &str, error: &Error) {
    let shown = texts(error);
    let runs = runs_of(secret, &shown);
    assert!(runs.is_empty(), "runs {runs:?} of the secret in: {shown}");
}

fn parser(key: &str) -> RequestBuilder {
    RequestBuilder::new(
        Tasks::builder()
            .api_key(key)
            .base_url("https://inbound.xpander.ai")
            .no_proxy()
            .build_config()
            .unwrap(),
    )
}

/// Filler text: ASCII, JSON punctuation and multi-byte characters.
fn filler(seed: &[u8], len: usize) -> String {
    const PARTS: [&str; 8] = ["a", " ", "\"", "é", "🦀", "-", "{", "x"];
    let mut out = String::new();
    let mut i = 0;
    while out.len() < len {
        out.push_str(PARTS[seed[i % seed.len()] as usize % PARTS.len()]);
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The key inserted at every byte offset around the snippet's cut (and
    /// echoed a second time, whole, and cut at the body's own end as a body
    /// limit would cut it): no run of 8 of its characters in any error text,
    /// for error answers and undecodable 2xx answers alike.
    #[test]
    fn no_run_of_the_key_survives_the_cut(
        key in "[A-Za-z0-9_-]{8,64}",
        seed in prop::collection::vec(any::<u8>(), 1..64),
        status in prop::sample::select(vec![400u16, 401, 404, 500, 502]),
    ) {
        let parse = parser(&key);
        let lo = SNIPPET_LIMIT.saturating_sub(key.len() + 3);
        for offset in lo..=SNIPPET_LIMIT + 3 {
            let mut before = filler(&seed, offset);
            while before.len() > offset { before.pop(); }
            let after = filler(&seed, 200);
            // As is, in a JSON detail, and as a JSON string where a task is expected.
            let bodies = [
                format!("{before}{key}{after}"),
                format!("{{\"detail\": \"{before}{key}{after} {key}\"}}"),
                // Cut by a body limit inside the key.
                format!("{before}{}", &key[..key.len() - 1]),
            ];
            for body in &bodies {
                let err = parse
                    .parse_task(xpander_sdk::sans_io::answer(http::StatusCode::from_u16(status).unwrap(), None, body.clone().into_bytes()))
                    .unwrap_err();
                assert_no_run(&key, &err);
            }
            let json_string = serde_json::to_string(&format!("{before}{key}{after}")).unwrap();
            let err = parse
                .parse_task(xpander_sdk::sans_io::answer(http::StatusCode::from_u16(200).unwrap(), None, json_string.into_bytes()))
                .unwrap_err();
            prop_assert!(matches!(err, Error::Decode(_)));
            assert_no_run(&key, &err);
        }
    }

    /// The public scrubber: no run of 8 characters of any secret, at any
    /// place, after any cut.
    #[test]
    fn scrub_secrets_leaves_no_run(
        key in "[A-Za-z0-9/+=_-]{8,48}",
        before in "[ -~é]{0,40}",
        after in "[ -~é]{0,40}",
        cut in 0usize..64,
    ) {
        let text = format!("{before}{key}{after}");
        let cut = (before.len() + cut).min(text.len());
        let mut end = cut;
        while !text.is_char_boundary(end) { end -= 1; }
        for shown in [
            xpander_sdk::redact::scrub_secrets(&text, &[&key]),
            xpander_sdk::redact::scrub_secrets(&text[..end], &[&key]),
            xpander_sdk::redact::scrub_secrets(&format!("{}…", &text[..end]), &[&key]),
        ] {
            prop_assert!(runs_of(&key, &shown).is_empty(), "{shown}");
        }
    }
}

// ---------- hostile servers, both faces ----------

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy::default().backoff(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(5),
    )
}

/// Both faces' error for `get` against `base`.
fn both_errors(tasks: &Tasks) -> [Error; 2] {
    let blocking = tasks.get("task-1").unwrap_err();
    let nonblocking = rt().block_on(tasks.aget("task-1")).unwrap_err();
    [blocking, nonblocking]
}

#[test]
fn a_gateway_page_echoing_the_key_across_the_cut_shows_no_part_of_it() {
    const KEY: &str = "xpk-live-a1b2c3d4e5f6a7b8c9d0e1f2";
    for offset in [
        SNIPPET_LIMIT - 29,
        SNIPPET_LIMIT - 8,
        SNIPPET_LIMIT - 1,
        SNIPPET_LIMIT,
    ] {
        let body = format!("{}{KEY} and again {KEY}", "x".repeat(offset));
        let answer = format!(
            "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (addr, _) = net::fixed_answer(answer.into_bytes());
        let tasks = Tasks::builder()
            .api_key(KEY)
            .base_url(format!("http://{addr}"))
            .retry(RetryPolicy::disabled())
            .build()
            .unwrap();
        for err in both_errors(&tasks) {
            assert_eq!(err.status(), Some(502));
            assert_no_run(KEY, &err);
        }
        // A body limit below the snippet's cuts the key itself.
        let limited = Tasks::builder()
            .api_key(KEY)
            .base_url(format!("http://{addr}"))
            .retry(RetryPolicy::disabled())
            .max_response_bytes(offset + 12)
            .build()
            .unwrap();
        for err in both_errors(&limited) {
            assert_no_run(KEY, &err);
        }
    }
}

#[test]
fn a_value_quoted_by_a_decode_error_shows_no_part_of_the_key() {
    const KEY: &str = "xpk-live-quoted-0123456789abcdef";
    let body = serde_json::to_string(&format!("token {KEY} rejected")).unwrap();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (addr, _) = net::fixed_answer(answer.into_bytes());
    let tasks = Tasks::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    for err in both_errors(&tasks) {
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
        assert_no_run(KEY, &err);
    }
}

/// A proxy that answers every request with an error page echoing what it
/// was sent (its `Proxy-Authorization` included).
#[test]
fn a_proxy_echoing_its_credentials_shows_no_part_of_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let echo = String::from_utf8_lossy(&head).replace("\r\n", " | ");
                let body = format!("{} you sent: {echo}", "y".repeat(2030));
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    const PASSWORD: &str = "pr0xy-pa55w0rd-s3cr3t";
    let tasks = Tasks::builder()
        .api_key("xpk-proxy-test-key-0123456789")
        // Plain http through the proxy: the absolute-form request and its
        // Proxy-Authorization reach the proxy, which echoes them.
        .base_url("http://tasks.example.test")
        .allow_insecure_http(true)
        .allow_cleartext_proxy(true)
        .proxy(format!("http://user:{PASSWORD}@{addr}"))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{PASSWORD}"));
    for err in both_errors(&tasks) {
        // reqwest forwards plain http (the 502 page is an API error);
        // ureq tunnels it (the 502 is a proxy failure).
        assert!(err.status() == Some(502) || err.is_connect(), "{err:?}");
        assert_no_run(PASSWORD, &err);
        assert_no_run(&basic, &err);
        assert_no_run("xpk-proxy-test-key-0123456789", &err);
    }
}

// ---------- redirects ----------

/// A server that answers every request with a redirect to `to`.
fn redirecting_to(to: &str) -> SocketAddr {
    let answer = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    net::fixed_answer(answer.into_bytes()).0
}

/// A server on another port that records the `x-api-key` of each request.
fn key_catcher() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
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
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            s.lock().unwrap().push(
                text.lines()
                    .find_map(|l| l.strip_prefix("x-api-key:"))
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            );
            let body = r#"{"id":"task-1","agent_id":"a","organization_id":"o","input":{"text":"hi"},"created_at":"2026-11-20T10:00:00Z"}"#;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (addr, seen)
}

#[test]
fn a_callers_ureq_agent_follows_no_redirect() {
    let (catcher, seen) = key_catcher();
    let from = redirecting_to(&format!("http://{catcher}/agent-execution/task-1"));
    // ureq's default agent follows up to 10 redirects.
    let tasks = Tasks::builder()
        .api_key("xpk-live-9f8e7d6c5b4a39281706")
        .base_url(format!("http://{from}"))
        .ureq_agent(ureq::Agent::new_with_defaults())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = tasks.get("task-1").unwrap_err();
    assert_eq!(err.status(), Some(307), "{err:?}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the key followed the redirect"
    );
}

#[test]
fn a_callers_reqwest_client_that_follows_a_redirect_to_another_origin_is_refused() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (catcher, seen) = key_catcher();
    let from = redirecting_to(&format!("http://{catcher}/agent-execution/task-1"));
    // reqwest's default client follows up to 10 redirects, and keeps
    // `x-api-key` across hosts: the answer of another origin is refused.
    let tasks = Tasks::builder()
        .api_key("xpk-live-9f8e7d6c5b4a39281706")
        .base_url(format!("http://{from}"))
        .reqwest_client(reqwest::Client::new())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = rt().block_on(tasks.aget("task-1")).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        shown.contains("redirect") && shown.contains(&catcher.port().to_string()),
        "{shown}"
    );
    assert_eq!(err.attempts(), 0, "not retried");
    assert_eq!(seen.lock().unwrap().len(), 1);
    // The crate's own clients follow none, in both faces.
    let own = Tasks::builder()
        .api_key("xpk-live-9f8e7d6c5b4a39281706")
        .base_url(format!("http://{from}"))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    for err in both_errors(&own) {
        assert_eq!(err.status(), Some(307), "{err:?}");
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
}

// ---------- per-URL rules: the events root ----------

const EVENTS_HOST: &str = "events.example.test";

/// An http loopback base URL and an https events root on another host
/// (an https emulator by the name EVENTS_HOST): the events root gets the
/// TLS roots (not the base URL's "trust nothing"), and its own proxy.
#[test]
fn the_events_root_gets_its_own_tls_roots_and_proxy() {
    let api = common::emulator();
    api.seed_task(serde_json::json!({
        "id": "task-ev", "agent_id": "a", "organization_id": api.organization_id(),
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "events_streaming": true, "status": "executing"
    }))
    .unwrap();
    let events = common::emulator_from(
        Emulator::builder()
            .tls_name(EVENTS_HOST)
            .organization_id(api.organization_id()),
    );
    events
        .seed_task(serde_json::json!({
            "id": "task-ev", "agent_id": "a", "organization_id": api.organization_id(),
            "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
            "events_streaming": true, "status": "executing"
        }))
        .unwrap();
    let proxy = net::ConnectProxy::start(events.addr());
    let tasks = Tasks::builder()
        .api_key(api.api_key())
        .base_url(api.base_url())
        .organization_id(api.organization_id())
        .events_base_url(format!(
            "https://{EVENTS_HOST}:{}/{}",
            events.addr().port(),
            api.organization_id()
        ))
        .add_root_certificate_pem(events.root_certificate_pem().unwrap())
        .proxy(format!("http://{}", proxy.addr))
        .retry(quick())
        .build()
        .unwrap();
    // The base URL is loopback: never proxied. The events host is not.
    assert!(tasks.config().proxy.is_none());
    let route = tasks.config().route(tasks.config().key_urls()[1]).unwrap();
    assert!(route.is_tls() && route.proxy.is_some(), "{route:?}");

    let task = tasks.get("task-ev").unwrap();
    let mut stream = task.events(&tasks).unwrap();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.kind, xpander_sdk::model::TaskEventType::Connected);
    let task = rt().block_on(tasks.aget("task-ev")).unwrap();
    rt().block_on(async {
        let mut stream = task.aevents(&tasks).unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.kind, xpander_sdk::model::TaskEventType::Connected);
    });
    assert_eq!(
        proxy.tunnels.load(Ordering::SeqCst),
        2,
        "one tunnel per face"
    );
    assert!(proxy
        .targets
        .lock()
        .unwrap()
        .iter()
        .all(|t| t.starts_with(EVENTS_HOST)));
    assert_eq!(api.requests().len(), 2, "the API base went direct");
}

#[test]
fn every_key_url_passes_the_plain_http_rule() {
    let built = |events: &str| {
        Tasks::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:8016")
            .events_base_url(events)
            .no_proxy()
            .build()
    };
    let err = built("http://events.example.test/org").unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("XPANDER_ALLOW_INSECURE_HTTP"),
        "{err}"
    );
    assert!(built("http://api.localhost:9016/org").is_ok());
    assert!(built("https://events.example.test/org").is_ok());
    let config = built("https://events.example.test/org").unwrap();
    let config = config.config();
    for url in ["http://10.0.0.1/x", "http://evil.example/x", "ftp://x/"] {
        assert!(config.route(url).is_err(), "{url}");
    }
    for url in [
        "http://localhost:1/x",
        "http://a.b.localhost/x",
        "http://[::1]:9/x",
        "https://x.example",
    ] {
        assert!(config.route(url).is_ok(), "{url}");
    }
}

// ---------- *.localhost ----------

/// `*.localhost` is loopback without DNS, in both faces (an override to a
/// host that is not loopback is not taken either).
#[test]
fn localhost_names_resolve_to_loopback_without_dns() {
    let emulator = common::emulator();
    let port = emulator.addr().port();
    for name in ["tasks.localhost", "a.b.LOCALHOST", "localhost"] {
        let tasks = Tasks::builder()
            .api_key(emulator.api_key())
            .base_url(format!("http://{name}:{port}"))
            // A hostile override: a localhost name stays loopback.
            .resolve(name.to_ascii_lowercase(), "10.255.255.1:1".parse().unwrap())
            .connect_timeout(std::time::Duration::from_secs(5))
            .retry(RetryPolicy::disabled())
            .build()
            .unwrap();
        tasks
            .update("task_xyz", &UpdateTask::new().result("b"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        rt().block_on(tasks.aupdate("task_xyz", &UpdateTask::new().result("a")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---------- certificates ----------

/// A refused certificate is not retried: one attempt, in both faces.
#[test]
fn a_refused_certificate_is_never_retried() {
    let emulator = common::emulator_over_https();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .retry(quick().max_attempts(4))
        .build()
        .unwrap();
    for err in both_errors(&tasks) {
        match &err {
            Error::Transport(t) => {
                assert!(t.is_tls_refusal(), "{err:?}");
                assert_eq!(t.kind, xpander_sdk::TransportErrorKind::Connect);
            }
            // No roots at all in this build: refused before any connection.
            Error::Config(_) => {}
            other => panic!("{other:?}"),
        }
        assert!(err.attempts() <= 1, "retried: {err}");
    }
    assert!(emulator.tls_handshakes() <= 2, "one handshake per face");
}

/// `text` as a reader would read it: JSON `\u` escapes and `%XX` decoded,
/// whitespace and HTML tags dropped, in lower case.
fn read_as_a_person(text: &str) -> String {
    let mut out = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |s: &[u8]| {
            std::str::from_utf8(s)
                .ok()
                .and_then(|s| u32::from_str_radix(s, 16).ok())
        };
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'u') {
            if let Some(c) = b.get(i + 2..i + 6).and_then(hex).and_then(char::from_u32) {
                out.push(c);
                i += 6;
                continue;
            }
        }
        if b[i] == b'%' {
            if let Some(c) = b.get(i + 1..i + 3).and_then(hex).and_then(char::from_u32) {
                out.push(c);
                i += 3;
                continue;
            }
        }
        if b[i] == b'<' {
            if let Some(end) = text[i..].find('>') {
                i += end + 1;
                continue;
            }
        }
        if !b[i].is_ascii_whitespace() {
            out.push(b[i] as char);
        }
        i += 1;
    }
    out.to_ascii_lowercase()
}

#[test]
fn a_server_echoing_the_key_encoded_or_split_shows_no_part_of_it() {
    use base64::Engine as _;
    const KEY: &str = "xpk-live-a1b2c3d4e5f6a7b8c9d0e1f2";
    let b64 = base64::engine::general_purpose::STANDARD;
    let variants: Vec<(&str, String)> = vec![
        (
            "\\u escapes",
            KEY.chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect(),
        ),
        (
            "some \\u escapes",
            KEY.chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 3 == 0 {
                        format!("\\u{:04X}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        ),
        (
            "lowercase percent",
            KEY.bytes().map(|c| format!("%{c:02x}")).collect(),
        ),
        ("percent of dashes", KEY.replace('-', "%2d")),
        ("newline", format!("{}\n{}", &KEY[..14], &KEY[14..])),
        (
            "html",
            format!("{}<b>{}</b>{}", &KEY[..10], &KEY[10..22], &KEY[22..]),
        ),
        ("swapped case", KEY.to_ascii_uppercase()),
    ];
    let base64s: Vec<(&str, String)> = vec![
        ("base64", b64.encode(KEY)),
        ("base64 shifted 1", b64.encode(format!("u:{KEY}"))),
        ("base64 shifted 2", b64.encode(format!("us:{KEY}"))),
        (
            "base64 url",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("~~{KEY}")),
        ),
    ];
    for (name, echoed) in variants.iter().chain(base64s.iter()) {
        let body = format!("<html><body>access denied for key {echoed} (go away)</body></html>");
        let answer = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (addr, _) = net::fixed_answer(answer.into_bytes());
        let tasks = Tasks::builder()
            .api_key(KEY)
            .base_url(format!("http://{addr}"))
            .retry(RetryPolicy::disabled())
            .build()
            .unwrap();
        for err in both_errors(&tasks) {
            assert_eq!(err.status(), Some(401));
            let shown = texts(&err);
            let read = read_as_a_person(&shown);
            let runs = runs_of(KEY, &read);
            assert!(
                runs.is_empty(),
                "{name}: runs {runs:?} of the key in: {shown}"
            );
            // Encoded forms (base64): no 8 characters of the echo's middle survive.
            if name.starts_with("base64") {
                let middle = &echoed[4..echoed.len() - 4];
                let echo_runs = runs_of(middle, &shown);
                assert!(
                    echo_runs.is_empty(),
                    "{name}: runs {echo_runs:?} of the echo in: {shown}"
                );
            }
        }
    }
}

/// A backslash in the host part: URL parsers of the WHATWG kind (reqwest's)
/// read it as `/`, so `http://evil.example\.localhost` goes to evil.example
/// over plain http while the rules saw a `*.localhost` host. Refused.
#[test]
fn a_backslash_in_the_host_part_is_refused() {
    for url in [
        "http://evil.example\\.localhost",
        "http://evil.example\\@localhost",
        "https://evil.example\\.localhost:8443",
        "http://127.0.0.2\\.localhost/x",
    ] {
        let built = Tasks::builder().api_key("key-1234").base_url(url).build();
        assert!(matches!(built, Err(Error::Config(_))), "{url}: {built:?}");
    }
    let config = Tasks::builder()
        .api_key("key-1234")
        .base_url("http://127.0.0.1:9")
        .no_proxy()
        .build_config()
        .unwrap();
    for url in [
        "http://evil.example\\.localhost/org/x",
        "https://evil.example\\.localhost/org/x",
    ] {
        assert!(config.route(url).is_err(), "{url}");
    }
}
