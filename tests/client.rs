//! The client against the emulator over real HTTP: configuration, update and
//! get in both forms, save round trips, errors, and use from inside tokio.

mod common;

use common::{client, emulator, task_json, TASK_FORWARD_COMPAT, TASK_FULL};
use serde_json::json;
use xpander_sdk::{
    AgentExecutionStatus as S, Error, RetryPolicy, Task, Tasks, TransportErrorKind, UpdateTask,
};

#[test]
fn the_client_is_clone_send_sync_and_cheap_to_clone() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_traits::<Tasks>();
    assert_traits::<Task>();
    assert_error::<Error>();
    assert!(std::mem::size_of::<Tasks>() <= std::mem::size_of::<usize>());
}

#[test]
fn a_missing_key_fails_before_any_request() {
    let emulator = emulator();
    let err = Tasks::builder()
        .base_url(emulator.base_url())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("XPANDER_API_KEY"));
    assert!(emulator.requests().is_empty());
}

#[test]
fn update_applies_only_the_fields_sent() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = tasks
        .update("task_xyz", &UpdateTask::new().result("half way"))
        .unwrap();
    assert_eq!(task.result.as_deref(), Some("half way"));
    assert_eq!(task.status, Some(S::Executing), "status untouched");
    let stored = emulator.task("task_xyz").unwrap();
    assert_eq!(stored["result"], "half way");
    assert_eq!(stored["status"], "executing");
    assert_eq!(
        emulator.requests()[0].json,
        Some(json!({"result": "half way"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aupdate_and_aget() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = tasks
        .aupdate(
            "task_xyz",
            &UpdateTask::new()
                .status(S::Completed)
                .result("Done")
                .tool_call_payload_extension(json!({"headers": {"X-Trace-ID": "abc-123"}})),
        )
        .await
        .unwrap();
    assert_eq!(task.status, Some(S::Completed));
    let again = tasks.aget("task_xyz").await.unwrap();
    assert_eq!(again, task);
    assert_eq!(
        emulator.task("task_xyz").unwrap()["payload_extension"],
        json!({"headers": {"X-Trace-ID": "abc-123"}})
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_blocking_api_works_from_inside_a_tokio_runtime() {
    // reqwest::blocking panics here; ureq has no runtime of its own.
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = tasks
        .update("task_xyz", &UpdateTask::new().status(S::Paused))
        .unwrap();
    assert_eq!(task.status, Some(S::Paused));
    // And both faces share one client inside the same runtime.
    let task = tasks.aget("task_xyz").await.unwrap();
    assert_eq!(task.status, Some(S::Paused));
}

#[test]
fn a_clone_used_from_many_threads_shares_one_pool() {
    let emulator = emulator();
    for i in 0..8 {
        emulator.seed_task(task_json(&format!("t-{i}"))).unwrap();
    }
    let tasks = client(&emulator);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let tasks = tasks.clone();
            std::thread::spawn(move || {
                for n in 0..10 {
                    tasks
                        .update(&format!("t-{i}"), &UpdateTask::new().result(format!("{n}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for i in 0..8 {
        assert_eq!(emulator.task(&format!("t-{i}")).unwrap()["result"], "9");
    }
    // At most one connection per thread: connections are pooled, not per call.
    assert!(
        emulator.connections_accepted() <= 8,
        "{}",
        emulator.connections_accepted()
    );
}

#[test]
fn save_sends_back_unknown_fields_and_values() {
    let emulator = emulator();
    emulator
        .seed_task(serde_json::from_str(TASK_FORWARD_COMPAT).unwrap())
        .ok();
    let tasks = client(&emulator);
    let mut task = tasks.get("task_xyz").unwrap();
    // The emulator was seeded twice with task_xyz; the forward-compat one wins.
    assert_eq!(task.status, Some(S::Unknown("awaiting_review".into())));
    task.result = Some("reviewed".into());
    emulator.clear_requests();
    task.save(&tasks).unwrap();
    let sent = emulator.requests()[0].json.clone().unwrap();
    assert_eq!(sent["brand_new_field"], json!({"nested": [1, 2, 3]}));
    assert_eq!(sent["status"], "awaiting_review");
    assert_eq!(sent["input"]["future_input_field"], true);
    assert!(
        sent.get("deep_planning").is_none(),
        "deep_planning only when asked"
    );
    assert_eq!(task.result.as_deref(), Some("reviewed"));
    assert_eq!(task.extra["brand_new_field"], json!({"nested": [1, 2, 3]}));
    let stored = emulator.task("task_xyz").unwrap();
    assert_eq!(stored["brand_new_field"], json!({"nested": [1, 2, 3]}));
    assert_eq!(stored["result"], "reviewed");

    emulator.clear_requests();
    task.save_with_deep_plan_update(&tasks).unwrap();
    let sent = emulator.requests()[0].json.clone().unwrap();
    assert_eq!(sent["deep_planning"]["future_plan_flag"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asave_and_aset_status_replace_the_local_copy() {
    let emulator = emulator();
    let full: serde_json::Value = serde_json::from_str(TASK_FULL).unwrap();
    let id = emulator.seed_task(full).unwrap();
    let tasks = client(&emulator);
    let mut task = Task::aload(&tasks, &id).await.unwrap();
    assert_eq!(task.tokens.as_ref().map(|t| t.total_tokens), Some(11262));
    task.aset_status(&tasks, S::Failed, Some("boom"))
        .await
        .unwrap();
    assert_eq!(task.status, Some(S::Failed));
    let stored = emulator.task(&id).unwrap();
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["result"], "boom");
    assert_eq!(stored["started_at"], "2026-11-20T10:00:01.123456");
}

#[test]
fn api_errors_keep_status_and_body() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let err = tasks.get("nope").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert!(err.as_api().unwrap().body.contains("not found"));

    let err = tasks
        .update(
            "task_xyz",
            &UpdateTask::new().status(S::Unknown("bogus".into())),
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err:?}");
    assert!(err.to_string().contains("status"), "{err}");

    let wrong_key = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key("wrong")
        .build()
        .unwrap();
    let err = wrong_key.get("task_xyz").unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
}

#[test]
fn bad_ids_never_reach_the_server() {
    let emulator = emulator();
    let tasks = client(&emulator);
    for id in ["", ".", ".."] {
        let err = tasks.update(id, &UpdateTask::new()).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
    assert!(emulator.requests().is_empty());
    // An id with a slash is one segment: the emulator looks up that id.
    emulator.seed_task(task_json("a/b ?#%")).unwrap();
    let task = tasks.get("a/b ?#%").unwrap();
    assert_eq!(task.id, "a/b ?#%");
    assert_eq!(
        emulator.requests()[0].path,
        "/agent-execution/a%2Fb%20%3F%23%25/status"
    );
}

#[test]
fn a_refused_connection_is_a_transport_error_not_a_status() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let tasks = Tasks::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_key("k")
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = tasks.get("t").unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(err.status(), None);
    match err {
        Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Connect),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_http_is_refused_off_loopback_unless_opted_in() {
    let err = Tasks::builder()
        .base_url("http://example.com")
        .api_key("k")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(Tasks::builder()
        .base_url("http://example.com")
        .api_key("k")
        .allow_insecure_http(true)
        .build()
        .is_ok());
}

/// A server that answers every request with a redirect to `location`.
fn redirecting_server(location: String) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_follows_a_redirect() {
    // The redirect points at an emulator holding the task: following it
    // would send the key to another host (here, another port).
    let elsewhere = emulator();
    let location = format!("{}/agent-execution/task_xyz/status", elsewhere.base_url());
    let addr = redirecting_server(location);
    let tasks = Tasks::builder()
        .base_url(format!("http://{addr}"))
        .api_key("test-key-123")
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = tasks.aget("task_xyz").await.unwrap_err();
    assert_eq!(err.status(), Some(307), "{err:?}");
    let blocking = tasks.clone();
    let err = tokio::task::spawn_blocking(move || blocking.get("task_xyz").unwrap_err())
        .await
        .unwrap();
    assert_eq!(err.status(), Some(307), "{err:?}");
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.requests()
    );
}
