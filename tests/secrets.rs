//! The API key appears in no `Debug` or `Display` output: not of any error
//! kind, not of the client, its builder or its configuration.

mod common;

use std::time::Duration;

use xpander_sdk::emulator::{ApiKeyCheck, Emulator, Fault};
use xpander_sdk::{ClientBuilder, CreateTask, Error, Tasks, UpdateTask};

const KEY: &str = "sk-VERY-SECRET-7f3a9c";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(KEY), "{what} shows the key: {shown}");
    assert!(
        !shown.contains("7f3a9c"),
        "{what} shows part of the key: {shown}"
    );
}

fn check<T: std::fmt::Debug + std::fmt::Display>(what: &str, value: &T) {
    assert_hidden(what, &format!("{value:?}"));
    assert_hidden(what, &format!("{value:#?}"));
    assert_hidden(what, &format!("{value}"));
}

#[test]
fn no_error_kind_and_no_configuration_shows_the_key() {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    emulator.seed_task(common::task_json("t")).unwrap();
    let builder = ClientBuilder::new()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .request_timeout(Duration::from_millis(300))
        .max_response_bytes(1024);
    assert_hidden("ClientBuilder", &format!("{builder:?}"));
    let tasks = builder.build().unwrap();
    assert_hidden("Tasks", &format!("{tasks:?}"));
    assert_hidden("Config", &format!("{:?}", tasks.config()));
    check("ApiKey", &tasks.config().api_key);

    let mut errors: Vec<(&str, Error)> = Vec::new();
    // Configuration: a bad base URL with the key set.
    errors.push((
        "config",
        Tasks::builder()
            .api_key(KEY)
            .base_url("ftp://x")
            .build()
            .unwrap_err(),
    ));
    // Invalid argument.
    errors.push(("invalid", tasks.get("..").unwrap_err()));
    // API errors: 404, and 401 from a client holding a wrong key.
    errors.push(("api 404", tasks.get("missing").unwrap_err()));
    let other_key = format!("{KEY}-wrong");
    let wrong = Tasks::builder()
        .api_key(other_key.as_str())
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let unauthorized = wrong.get("t").unwrap_err();
    assert!(unauthorized.is_unauthorized());
    errors.push(("api 401", unauthorized));
    // Decode.
    emulator.inject(Fault::on("GET", "*").respond_text(200, "not json"));
    errors.push(("decode", tasks.get("t").unwrap_err()));
    // Body too large.
    emulator.inject(Fault::on("GET", "*").oversized_body(4096));
    errors.push(("too large", tasks.get("t").unwrap_err()));
    // Timeout.
    emulator.inject(Fault::on("GET", "*").hold());
    errors.push(("timeout", tasks.get("t").unwrap_err()));
    // Disconnected (create is not retried).
    emulator.inject(Fault::on("POST", "*").close_connection());
    errors.push((
        "disconnected",
        tasks.create(&CreateTask::new("a", "b")).unwrap_err(),
    ));
    // Connect.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = Tasks::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    errors.push((
        "connect",
        closed.update("t", &UpdateTask::new()).unwrap_err(),
    ));

    let kinds: Vec<String> = errors
        .iter()
        .map(|(_, e)| format!("{:?}", std::mem::discriminant(e)))
        .collect();
    let distinct: std::collections::BTreeSet<_> = kinds.iter().collect();
    assert_eq!(distinct.len(), 6, "every error kind is covered");
    for (what, error) in &errors {
        check(what, error);
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            assert_hidden(what, &format!("{cause:?} {cause}"));
            source = cause.source();
        }
    }
    // The emulator saw the key, as it should, and its log does not show it.
    let requests = emulator.requests();
    assert!(requests.iter().any(|r| r.api_key == ApiKeyCheck::Valid));
    assert!(requests.iter().any(|r| r.api_key == ApiKeyCheck::Invalid));
    assert_hidden("the emulator's request log", &format!("{requests:?}"));
}
