//! Hardening found in review, over HTTP against the emulator where a face
//! is involved: header values are the same whatever `http` version a user
//! resolves (non-ASCII `Last-Event-ID`, caller headers, `agent_version`,
//! API key); refused input is never echoed past what is safe to show
//! (URL passwords, a refused header's name); base URLs that no request
//! could use are refused when the client is built.
#![cfg(all(feature = "emulator", feature = "blocking", feature = "async"))]

use std::time::Duration;

use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::model::{TaskEvent, TaskEventType};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::{
    AgentExecutionStatus, CallOptions, CreateTask, Error, RetryPolicy, Tasks, UpdateTask,
};

const ORG: &str = "org-1";
const STREAMS: &str = "/org-1/agent-execution/*";
/// A non-ASCII SSE id: `http` 1.6's `HeaderValue::from_str` refuses it.
const ID: &str = "é-7";

fn emulator() -> Emulator {
    Emulator::builder().organization_id(ORG).start().unwrap()
}

fn client(emulator: &Emulator) -> Tasks {
    Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(ORG)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10)))
        .build()
        .unwrap()
}

fn quick() -> StreamPolicy {
    StreamPolicy::default()
        .initial_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(20))
}

/// A streaming task whose first stream answer is one event with the
/// non-ASCII id, then the end of the body: the stream reconnects.
fn task_with_a_non_ascii_id_first(emulator: &Emulator, id: &str) -> xpander_sdk::Task {
    let body = json!({
        "id": id, "agent_id": "agent-1", "organization_id": ORG,
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing", "events_streaming": true
    });
    emulator.seed_task(body.clone()).unwrap();
    let envelope = json!({
        "type": "chunk", "task_id": id, "organization_id": ORG,
        "time": "2026-11-20T10:00:01Z", "data": "first", "identity": null
    });
    emulator.inject(
        Fault::on("GET", STREAMS)
            .respond_text(200, format!("id: {ID}\ndata: {envelope}\n\n"))
            .content_type("text/event-stream"),
    );
    serde_json::from_value(body).unwrap()
}

/// The reconnect carried the non-ASCII id the first answer gave.
fn assert_resumed_with_the_id(emulator: &Emulator, events: &[TaskEvent]) {
    assert_eq!(events[0].id.as_deref(), Some(ID));
    assert_eq!(events[0].payload.as_text(), Some("first"));
    let streams: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/events"))
        .collect();
    assert!(streams.len() >= 2, "a reconnect");
    assert_eq!(streams[0].header("last-event-id"), None);
    assert_eq!(
        streams[1].header("last-event-id"),
        Some(ID),
        "resumed with the id"
    );
}

#[test]
fn a_non_ascii_last_event_id_is_sent_on_the_reconnect_blocking() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = task_with_a_non_ascii_id_first(&emulator, "t-id-b");
    let mut stream = task.events_with(&tasks, quick()).unwrap();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(stream.last_event_id(), Some(ID));
    // The reconnect reaches the emulator's own stream.
    let connected = stream.next().unwrap().unwrap();
    assert_eq!(connected.kind, TaskEventType::Connected);
    tasks
        .update(
            "t-id-b",
            &UpdateTask::new().status(AgentExecutionStatus::Completed),
        )
        .unwrap();
    for item in stream.by_ref() {
        item.unwrap();
    }
    assert_resumed_with_the_id(&emulator, &[first]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_last_event_id_is_sent_on_the_reconnect_async() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = task_with_a_non_ascii_id_first(&emulator, "t-id-a");
    let mut stream = task.aevents_with(&tasks, quick()).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(stream.last_event_id(), Some(ID));
    let connected = stream.next().await.unwrap().unwrap();
    assert_eq!(connected.kind, TaskEventType::Connected);
    tasks
        .aupdate(
            "t-id-a",
            &UpdateTask::new().status(AgentExecutionStatus::Completed),
        )
        .await
        .unwrap();
    while let Some(item) = stream.next().await {
        item.unwrap();
    }
    assert_resumed_with_the_id(&emulator, &[first]);
}

/// A UTF-8 API key, caller header and `agent_version` are sent as their
/// bytes, in both faces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_header_values_are_sent() {
    let key = "clé-ünï-0123456789";
    let emulator = Emulator::builder()
        .organization_id(ORG)
        .api_key(key)
        .start()
        .unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(key)
        .organization_id(ORG)
        .build()
        .expect("a UTF-8 key is a header value")
        .with_options(CallOptions::new().header("x-request-id", "café-42"));
    let new = CreateTask::new("agent-1", "hi").agent_version("v2-ünï");
    let blocking = tasks.clone();
    let new_b = new.clone();
    tokio::task::spawn_blocking(move || blocking.create(&new_b).unwrap())
        .await
        .unwrap();
    tasks.acreate(&new).await.unwrap();
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    // The emulator checked the key (and logs it redacted).
    for request in requests {
        assert_eq!(request.header("x-request-id"), Some("café-42"));
        assert_eq!(request.header("x-agent-version"), Some("v2-ünï"));
    }
}

#[test]
fn a_control_character_in_a_header_value_is_refused_saying_why() {
    let emulator = emulator();
    let tasks = client(&emulator).with_options(CallOptions::new().header("x-a", "é\r\nx: y"));
    let err = tasks.get("t").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("control character"), "{err}");
    assert!(emulator.requests().is_empty());
}

/// Every run of 4 characters of `secret` that `text` holds.
fn leaked<'a>(text: &str, secret: &'a str) -> Vec<&'a str> {
    let chars: Vec<(usize, char)> = secret.char_indices().collect();
    (0..chars.len().saturating_sub(3))
        .map(|i| {
            let end = chars.get(i + 4).map_or(secret.len(), |(at, _)| *at);
            &secret[chars[i].0..end]
        })
        .filter(|part| text.contains(part))
        .collect()
}

fn assert_hides(error: &Error, secret: &str, what: &str) {
    for shown in [error.to_string(), format!("{error:?}")] {
        let parts = leaked(&shown, secret);
        assert!(
            parts.is_empty(),
            "{what}: {parts:?} of the secret in {shown}"
        );
    }
}

/// A password with an unencoded `?`, `/`, `#` or `@` (where a naive split
/// cuts the URL) never shows, in part, in the error refusing any URL input.
#[test]
fn no_part_of_a_url_password_is_in_an_error() {
    let config = Tasks::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:8016")
        .no_proxy()
        .build_config()
        .unwrap();
    for c in ['?', '/', '#', '@'] {
        let password = format!("Qz7k{c}Wk4Vx9");
        for url in [
            format!("https://user:{password}@host.example/x"),
            format!("http://user:{password}@host.example:8080"),
            format!("https://user:{password}@host.example"),
        ] {
            let error = config.route(&url).expect_err(&url);
            assert_hides(&error, &password, "route");
            let builder = || Tasks::builder().api_key("k").organization_id(ORG);
            let inputs: [(&str, Result<_, Error>); 4] = [
                ("base URL", builder().base_url(&url).build_config()),
                (
                    "events root",
                    builder()
                        .base_url("https://inbound.xpander.ai")
                        .events_base_url(&url)
                        .build_config(),
                ),
                (
                    "public API URL",
                    builder()
                        .base_url("https://inbound.xpander.ai")
                        .public_api_url(&url)
                        .build_config(),
                ),
                (
                    "proxy",
                    builder()
                        .base_url("https://inbound.xpander.ai")
                        .proxy(url.replacen("https", "http", 1).replace("/x", ""))
                        .build_config(),
                ),
            ];
            for (what, result) in inputs {
                match result {
                    Err(error) => assert_hides(&error, &password, what),
                    // A proxy URL some of these passwords leave readable is
                    // taken: its Debug must not show the password either.
                    Ok(config) if what == "proxy" => {
                        let shown = format!("{config:?}");
                        let parts = leaked(&shown, &password);
                        assert!(
                            parts.is_empty(),
                            "{what}: {parts:?} of the secret in {shown}"
                        );
                    }
                    Ok(_) => panic!("{what} {url:?} accepted"),
                }
            }
        }
    }
}

/// A refused header name is never echoed past its first invalid
/// character: the token after `Authorization:` shows nowhere.
#[test]
fn a_refused_header_name_does_not_echo_what_follows() {
    let secret = "s3cretT0ken-9f8e7d";
    for name in [
        format!("Authorization: Bearer {secret}"),
        format!("Authorization:{secret}"),
        format!("x-a {secret}"),
        format!("x-é{secret}"),
        format!("Bearer\t{secret}"),
    ] {
        let options = CallOptions::new()
            .header(name.as_str(), "")
            .header("x-ok", "1");
        let shown = format!("{options:?}");
        assert!(leaked(&shown, secret).is_empty(), "{shown}");
        let emulator = emulator();
        let error = client(&emulator)
            .with_options(options)
            .get("t")
            .unwrap_err();
        assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
        assert!(
            error.to_string().contains("not a valid header name"),
            "{error}"
        );
        assert_hides(&error, secret, &name);
        assert!(emulator.requests().is_empty());
    }
    // A valid but reserved name is shown whole: it is no secret.
    let error = client(&emulator())
        .with_options(CallOptions::new().header("Proxy-Authorization", "Basic x"))
        .get("t")
        .unwrap_err();
    assert!(error.to_string().contains("proxy-authorization"), "{error}");
}

/// URLs the configuration would take but no request could use are refused
/// when the client is built, naming the setting and saying why.
#[test]
fn urls_no_request_could_use_are_refused_at_build() {
    let cases = [
        ("https://bücher.example", "xn--"),
        ("https://example.com/bücher", "path"),
        ("https://example.com:+80", "port"),
        ("https://example.com:-1", "port"),
        ("https://example.com:8%30", "port"),
    ];
    for (url, why) in cases {
        let builder = || Tasks::builder().api_key("k").organization_id(ORG);
        let inputs = [
            ("base URL", builder().base_url(url).build_config()),
            (
                "events base URL",
                builder()
                    .base_url("https://inbound.xpander.ai")
                    .events_base_url(url)
                    .build_config(),
            ),
            (
                "public API URL",
                builder()
                    .base_url("https://inbound.xpander.ai")
                    .public_api_url(url)
                    .build_config(),
            ),
        ];
        for (setting, result) in inputs {
            match result {
                Err(Error::Config(message)) => {
                    assert!(message.contains(setting), "{setting} {url}: {message}");
                    assert!(message.contains(why), "{setting} {url}: {message}");
                }
                other => panic!("{setting} {url}: {other:?}"),
            }
        }
    }
    let config = Tasks::builder()
        .api_key("k")
        .base_url("https://xn--bcher-kva.example/ok%C3%BC")
        .build_config()
        .expect("the punycode host and an encoded path are fine");
    assert!(config.route("https://example.com:+80/x").is_err());
    assert!(config.route("https://example.com:80/x").is_ok());
}
