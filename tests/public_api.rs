//! The public REST API v1 over real HTTP against the emulator, in both
//! faces: invoke (sync, async, streamed), conversations, pages and the walk
//! over all of them (a list that changes while it is walked included),
//! get, delete (both answer forms), threads, retries and deadlines.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::model::{InvokeEvent, ThreadRole};
use xpander_sdk::public::{Conversation, Invoke, TaskQuery};
use xpander_sdk::{
    AgentExecutionStatus as S, Error, RetryPolicy, Tasks, TransportErrorKind, WaitPolicy,
};

fn emulator() -> Emulator {
    Emulator::builder().api_key("pub-key-123").start().unwrap()
}

fn client(emulator: &Emulator) -> Tasks {
    common::builder(emulator)
        .public_api_url(emulator.base_url())
        .retry(RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5)))
        .build()
        .unwrap()
}

/// The requests the emulator saw whose path starts with `prefix`.
fn seen(emulator: &Emulator, method: &str, prefix: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

fn seed(emulator: &Emulator, n: usize, agent: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            emulator
                .seed_task(json!({"id": format!("{agent}-t{i:03}"), "agent_id": agent,
                    "organization_id": "org-emulator", "input": {"text": format!("job {i}")},
                    "created_at": "2026-11-20T10:00:00Z", "status": "completed"}))
                .unwrap()
        })
        .collect()
}

#[test]
fn invoke_sync_runs_the_echo_agent_and_the_task_is_a_tasks_api_task() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = tasks
        .invoke(
            "echo",
            &Invoke::new("What is 2+2?").title("math"),
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(task.status, Some(S::Completed));
    assert_eq!(task.result.as_deref(), Some("Echo: What is 2+2?"));
    // Visible through the Tasks API, from the same store.
    let same = tasks.get(&task.id).unwrap();
    assert_eq!(same.result, task.result);
    let sent = emulator.requests();
    let invoke = sent
        .iter()
        .find(|r| r.path == "/v1/agents/echo/invoke")
        .unwrap();
    assert_eq!(
        invoke.json,
        Some(json!({"input": {"text": "What is 2+2?"}, "title": "math"}))
    );
    assert!(invoke.headers.iter().any(|(n, _)| n == "x-api-key"));
}

#[tokio::test]
async fn ainvoke_and_a_tasks_api_task_read_through_v1() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let task = tasks
        .ainvoke(
            "echo",
            &Invoke::new("hello").files(["https://f.example/a.pdf"]),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(task.result.as_deref(), Some("Echo: hello"));
    assert_eq!(task.input.files, ["https://f.example/a.pdf"]);
    // The other way round: a Tasks API task read through v1.
    let created = tasks
        .acreate(&xpander_sdk::CreateTask::new("agent-x", "from tasks api"))
        .await
        .unwrap();
    let read = tasks.aget_task(&created.id).await.unwrap();
    assert_eq!(read.id, created.id);
    assert_eq!(read.input.text, "from tasks api");
}

#[test]
fn an_invoke_without_text_or_files_is_refused_before_sending() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let err = tasks.invoke_async("echo", &Invoke::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { name: "input", .. }),
        "{err:?}"
    );
    let mut twice = Invoke::new("x");
    twice.extra.insert("title".into(), json!("again"));
    twice.extra.insert("brand_new".into(), json!(1));
    let err = tasks.invoke_async("echo", &twice).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { name: "extra", .. }),
        "{err:?}"
    );
    assert!(tasks
        .invoke_async("echo", &Invoke::new("x").thread_id(""))
        .is_err());
    assert!(emulator.requests().is_empty());
    twice.extra.remove("title");
    tasks.invoke_async("echo", &twice).unwrap();
    assert_eq!(
        emulator.requests()[0].json,
        Some(json!({"input": {"text": "x"}, "brand_new": 1}))
    );
}

#[test]
fn invoke_async_composes_with_wait_for_result() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let created = tasks.invoke_async("echo", &Invoke::new("later")).unwrap();
    assert_eq!(created.status, Some(S::Pending), "answered as created");
    let done = tasks
        .wait_for_result(&created.id, &WaitPolicy::default())
        .unwrap();
    assert_eq!(done.status, Some(S::Completed));
    assert_eq!(done.result.as_deref(), Some("Echo: later"));
}

#[tokio::test]
async fn ainvoke_async_composes_with_await_for_result() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let created = tasks
        .ainvoke_async("echo", &Invoke::new("later"))
        .await
        .unwrap();
    assert_eq!(created.status, Some(S::Pending));
    let done = tasks
        .await_for_result(&created.id, &WaitPolicy::default())
        .await
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("Echo: later"));
}

/// The chunks, and whether the terminal event came last.
fn check_stream(events: &[InvokeEvent], result: &str) {
    assert!(
        matches!(events.first(), Some(InvokeEvent::Started(_))),
        "{events:?}"
    );
    let text: String = events.iter().filter_map(InvokeEvent::text).collect();
    assert_eq!(text, result);
    match events.last() {
        Some(InvokeEvent::Completed(done)) => assert_eq!(done.result.as_deref(), Some(result)),
        other => panic!("not terminal: {other:?}"),
    }
    assert!(events.last().unwrap().is_terminal());
}

#[test]
fn invoke_stream_is_a_blocking_iterator_that_ends_at_the_terminal_event() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let stream = tasks
        .invoke_stream("echo", &Invoke::new("one two three"))
        .unwrap();
    let events: Vec<InvokeEvent> = stream.map(Result::unwrap).collect();
    check_stream(&events, "Echo: one two three");
    let req = emulator.requests();
    let sent = req
        .iter()
        .find(|r| r.path == "/v1/agents/echo/invoke/stream")
        .unwrap();
    assert!(sent
        .headers
        .iter()
        .any(|(n, v)| n == "accept" && v == "text/event-stream"));
}

#[tokio::test]
async fn ainvoke_stream_is_a_futures_stream() {
    use futures_util::StreamExt;
    let emulator = emulator();
    let tasks = client(&emulator);
    let stream = tasks
        .ainvoke_stream("echo", &Invoke::new("one two"))
        .await
        .unwrap();
    let events: Vec<InvokeEvent> = stream.into_stream().map(Result::unwrap).collect().await;
    check_stream(&events, "Echo: one two");
}

fn assert_cut(err: &Error) {
    let Error::Transport(t) = err else {
        panic!("{err:?}")
    };
    assert_eq!(t.kind(), TransportErrorKind::Disconnected, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("cut after 2 events") && text.contains("never replayed"),
        "{text}"
    );
}

#[test]
fn a_stream_cut_mid_way_is_an_error_and_never_replayed() {
    let emulator = emulator();
    let tasks = client(&emulator);
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke/stream").drop_after(2));
    let mut stream = tasks
        .invoke_stream("echo", &Invoke::new("a b c d e"))
        .unwrap();
    assert!(matches!(stream.next(), Some(Ok(InvokeEvent::Started(_)))));
    assert!(matches!(stream.next(), Some(Ok(InvokeEvent::Chunk(_)))));
    assert_cut(&stream.next().unwrap().unwrap_err());
    assert!(stream.next().is_none(), "nothing after the error");
    assert_eq!(
        seen(&emulator, "POST", "/v1/agents/echo/invoke/stream"),
        1,
        "not replayed"
    );
}

#[tokio::test]
async fn an_async_stream_cut_mid_way_is_an_error_and_never_replayed() {
    let emulator = emulator();
    let tasks = client(&emulator);
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke/stream").drop_after(2));
    let mut stream = tasks
        .ainvoke_stream("echo", &Invoke::new("a b c d e"))
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert!(stream.next().await.unwrap().is_ok());
    assert_cut(&stream.next().await.unwrap().unwrap_err());
    assert!(stream.next().await.is_none());
    assert_eq!(seen(&emulator, "POST", "/v1/agents/echo/invoke/stream"), 1);
}

#[test]
fn an_invoke_stream_error_status_is_an_api_error_at_the_call() {
    let emulator = emulator();
    let tasks = client(&emulator);
    emulator.inject(
        Fault::on("POST", "/v1/agents/echo/invoke/stream").respond(503, json!({"detail": "busy"})),
    );
    let err = tasks.invoke_stream("echo", &Invoke::new("x")).unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(
        seen(&emulator, "POST", "/v1/agents/echo/invoke/stream"),
        1,
        "a 503 is not retried"
    );
}

#[test]
fn invokes_are_never_retried_once_sent_and_reads_and_delete_are() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let ids = seed(&emulator, 2, "agent-r");
    for path in ["/v1/agents/echo/invoke", "/v1/agents/echo/invoke/async"] {
        emulator.inject(Fault::on("POST", path).respond(503, json!({"detail": "busy"})));
    }
    let err = tasks
        .invoke("echo", &Invoke::new("x"), Duration::from_secs(30))
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        tasks
            .invoke_async("echo", &Invoke::new("x"))
            .unwrap_err()
            .status(),
        Some(503)
    );
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke").close_connection());
    let err = tasks
        .invoke("echo", &Invoke::new("x"), Duration::from_secs(30))
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(
        seen(&emulator, "POST", "/v1/agents/echo/invoke"),
        3,
        "each sent once"
    );
    // 429: the request was not processed; retried.
    emulator.inject(
        Fault::on("POST", "/v1/agents/echo/invoke").respond(429, json!({"detail": "slow"})),
    );
    tasks
        .invoke("echo", &Invoke::new("x"), Duration::from_secs(30))
        .unwrap();
    // Reads and delete are retried.
    for (method, path) in [
        ("GET", format!("/v1/tasks/{}", ids[0])),
        ("GET", "/v1/tasks".to_string()),
        ("GET", format!("/v1/tasks/{}/thread", ids[0])),
        ("DELETE", format!("/v1/tasks/{}", ids[1])),
    ] {
        emulator.inject(Fault::on(method, &path).respond(503, json!({"detail": "busy"})));
    }
    tasks.get_task(&ids[0]).unwrap();
    tasks.list_tasks(&TaskQuery::new()).unwrap();
    tasks.thread(&ids[0]).unwrap();
    tasks.delete_task(&ids[1]).unwrap();
    assert_eq!(seen(&emulator, "DELETE", "/v1/tasks/"), 2);
}

#[test]
fn a_sync_invoke_takes_its_own_deadline_not_the_request_timeout() {
    let emulator = emulator();
    let tasks = common::builder(&emulator)
        .public_api_url(emulator.base_url())
        .request_timeout(Duration::from_millis(100))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let ids = seed(&emulator, 1, "agent-d");
    // A read within the client's timeout fails against a slow server...
    emulator.inject(Fault::on("GET", "/v1/tasks/*").delay(Duration::from_millis(1500)));
    assert!(tasks.get_task(&ids[0]).unwrap_err().is_timeout());
    // ... an invoke as slow gets its own deadline ...
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke").delay(Duration::from_millis(1500)));
    let task = tasks
        .invoke("echo", &Invoke::new("slow"), Duration::from_secs(60))
        .unwrap();
    assert_eq!(task.status, Some(S::Completed));
    // ... and its deadline bounds it (a zero one is floored, not "none").
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke").delay(Duration::from_millis(1500)));
    assert!(tasks
        .invoke("echo", &Invoke::new("slow"), Duration::ZERO)
        .unwrap_err()
        .is_timeout());
}

#[test]
fn per_page_51_and_page_0_are_refused_before_sending_in_both_faces() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let bad = [
        TaskQuery::new().per_page(51),
        TaskQuery::new().per_page(0),
        TaskQuery::new().page(0),
    ];
    for query in &bad {
        for err in [
            tasks.list_tasks(query).unwrap_err(),
            tasks.agent_tasks("a", query).unwrap_err(),
            tasks.tasks_pages(query).unwrap_err(),
            tasks.agent_tasks_pages("a", query).unwrap_err(),
        ] {
            assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let err = tasks
            .alist_tasks(&TaskQuery::new().per_page(51))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("1..=50"), "{err}");
        assert!(tasks
            .aagent_tasks("a", &TaskQuery::new().per_page(51))
            .await
            .is_err());
        assert!(tasks.atasks_pages(&TaskQuery::new().per_page(51)).is_err());
    });
    assert!(emulator.requests().is_empty(), "nothing was sent");
}

#[test]
fn the_emulator_answers_bad_paging_with_fastapi_422() {
    let emulator = emulator();
    for query in ["per_page=51", "page=0", "per_page=abc", "status=running"] {
        let url = format!("{}/v1/tasks?{query}", emulator.base_url());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut answer = agent
            .get(&url)
            .header("x-api-key", emulator.api_key())
            .call()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 422, "{query}");
        let body: Value = serde_json::from_reader(answer.body_mut().as_reader()).unwrap();
        assert_eq!(body["detail"][0]["loc"][0], "query", "{body}");
        assert!(body["detail"][0]["msg"].is_string());
    }
}

/// FastAPI's 422 for a query: every bad parameter listed, each with the
/// `ctx` pydantic v2 gives it; an integer too large for 64 bits is an
/// integer still; a repeated key counts by its last value.
#[test]
fn the_emulator_422_is_fastapis_shape_exactly() {
    let emulator = emulator();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let get = |query: &str| {
        let url = format!("{}/v1/tasks?{query}", emulator.base_url());
        let mut answer = agent
            .get(&url)
            .header("x-api-key", emulator.api_key())
            .call()
            .unwrap();
        let body: Value = serde_json::from_reader(answer.body_mut().as_reader()).unwrap();
        (answer.status().as_u16(), body)
    };
    let statuses = "'pending', 'executing', 'paused', 'error', 'failed', 'completed' or 'stopped'";
    let (status, body) = get("page=0&per_page=51&status=running");
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail": [
            {"type": "greater_than_equal", "loc": ["query", "page"],
             "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}},
            {"type": "less_than_equal", "loc": ["query", "per_page"],
             "msg": "Input should be less than or equal to 50", "input": "51", "ctx": {"le": 50}},
            {"type": "enum", "loc": ["query", "status"],
             "msg": format!("Input should be {statuses}"), "input": "running",
             "ctx": {"expected": statuses}},
        ]})
    );
    let (status, body) = get("per_page=99999999999999999999999");
    assert_eq!(
        (status, &body["detail"][0]["type"]),
        (422, &json!("less_than_equal"))
    );
    let (status, body) = get("per_page=x");
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0].get("ctx"), None, "{body}");
    let (status, body) = get("page=99999999999999999999999");
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = get("per_page=51&per_page=2");
    assert_eq!((status, &body["per_page"]), (200, &json!(2)), "{body}");
}

#[test]
fn one_page_with_filters_in_both_faces() {
    let emulator = emulator();
    let tasks = client(&emulator);
    seed(&emulator, 7, "agent-a");
    seed(&emulator, 3, "agent-b");
    let page = tasks
        .list_tasks(&TaskQuery::new().per_page(4).page(2))
        .unwrap();
    assert_eq!(
        (
            page.total,
            page.page,
            page.per_page,
            page.total_pages,
            page.items.len()
        ),
        (Some(10), Some(2), Some(4), Some(3), 4)
    );
    let page = tasks
        .list_tasks(&TaskQuery::new().agent_id("agent-b"))
        .unwrap();
    assert_eq!(page.total, Some(3));
    assert!(page.items.iter().all(|t| t.agent_id == "agent-b"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let page = rt
        .block_on(tasks.aagent_tasks("agent-a", &TaskQuery::new().per_page(5).status("completed")))
        .unwrap();
    assert_eq!(
        (page.total, page.items.len(), page.total_pages),
        (Some(7), 5, Some(2))
    );
    let sent: Vec<String> = emulator.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        sent.contains(&"/v1/tasks?page=2&per_page=4".to_string()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&"/v1/agents/agent-a/tasks?per_page=5&status=completed".to_string()),
        "{sent:?}"
    );
}

#[test]
fn walking_every_page_in_both_faces() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let ids: HashSet<String> = seed(&emulator, 23, "agent-w").into_iter().collect();
    let mut pages = tasks
        .agent_tasks_pages("agent-w", &TaskQuery::new().per_page(5))
        .unwrap();
    let mut walked = Vec::new();
    for item in pages.by_ref() {
        walked.push(item.unwrap().id);
    }
    assert_eq!(pages.pages(), 5);
    assert_eq!(walked.len(), 23);
    assert_eq!(walked.iter().cloned().collect::<HashSet<_>>(), ids);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let walked: Vec<String> = rt.block_on(async {
        use futures_util::StreamExt;
        let pages = tasks.atasks_pages(&TaskQuery::new().per_page(50)).unwrap();
        pages.into_stream().map(|t| t.unwrap().id).collect().await
    });
    assert_eq!(walked.iter().cloned().collect::<HashSet<_>>(), ids);
    // An empty list: one request, nothing yielded.
    emulator.clear_requests();
    assert_eq!(
        tasks
            .agent_tasks_pages("nobody", &TaskQuery::new())
            .unwrap()
            .count(),
        0
    );
    assert_eq!(emulator.requests().len(), 1);
}

#[test]
fn walking_a_list_that_grows_while_it_is_walked_yields_each_task_once() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let original: HashSet<String> = seed(&emulator, 20, "agent-g").into_iter().collect();
    let pages = tasks
        .agent_tasks_pages("agent-g", &TaskQuery::new().per_page(5))
        .unwrap();
    let mut walked = Vec::new();
    let mut added = 0;
    for item in pages {
        walked.push(item.unwrap().id);
        // After each page, new tasks arrive at the head of the list (newest
        // first): the pages after are pushed back by as many.
        if walked.len() % 5 == 0 && added < 9 {
            for _ in 0..3 {
                tasks
                    .invoke_async("agent-g", &Invoke::new(format!("new {added}")))
                    .unwrap();
                added += 1;
            }
        }
    }
    let unique: HashSet<String> = walked.iter().cloned().collect();
    assert_eq!(unique.len(), walked.len(), "no task twice: {walked:?}");
    assert!(
        original.is_subset(&unique),
        "every task there all along was yielded"
    );
}

#[tokio::test]
async fn walking_a_list_that_shrinks_while_it_is_walked_ends_without_repeats() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let original = seed(&emulator, 20, "agent-s");
    let mut pages = tasks
        .aagent_tasks_pages("agent-s", &TaskQuery::new().per_page(5))
        .unwrap();
    let mut walked = Vec::new();
    let mut deleted = HashSet::new();
    while let Some(item) = pages.next().await {
        let id = item.unwrap().id;
        // Delete each task as it is read (a cleanup job): the list shifts
        // forward under the walk.
        tasks.adelete_task(&id).await.unwrap();
        deleted.insert(id.clone());
        walked.push(id);
        assert!(walked.len() <= 20, "the walk ends");
    }
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "no task twice");
    // Offset paging skips what shifted back past the cursor: the documented
    // caveat. Whatever was skipped is still there, and a second walk finds it.
    let left: Vec<String> = original
        .iter()
        .filter(|id| !deleted.contains(*id))
        .cloned()
        .collect();
    let again: HashSet<String> = {
        let mut pages = tasks
            .aagent_tasks_pages("agent-s", &TaskQuery::new().per_page(50))
            .unwrap();
        let mut v = HashSet::new();
        while let Some(item) = pages.next().await {
            v.insert(item.unwrap().id);
        }
        v
    };
    assert_eq!(again, left.into_iter().collect());
}

#[test]
fn get_and_delete_in_both_answer_forms_and_faces() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let ids = seed(&emulator, 4, "agent-del");
    assert_eq!(tasks.get_task(&ids[0]).unwrap().id, ids[0]);
    let deleted = tasks.delete_task(&ids[0]).unwrap();
    assert_eq!((deleted.status, deleted.message.as_deref()), (204, None));
    assert!(
        emulator.task(&ids[0]).is_none(),
        "gone from the Tasks API too"
    );
    assert_eq!(tasks.get_task(&ids[0]).unwrap_err().status(), Some(404));
    assert_eq!(tasks.get(&ids[0]).unwrap_err().status(), Some(404));
    emulator.set_public_delete_message(true);
    let deleted = tasks.delete_task(&ids[1]).unwrap();
    assert_eq!(
        (deleted.status, deleted.message.as_deref()),
        (200, Some("Task deleted successfully"))
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(tasks.adelete_task(&ids[2]).await.unwrap().status, 200);
        emulator.set_public_delete_message(false);
        assert_eq!(tasks.adelete_task(&ids[3]).await.unwrap().status, 204);
        assert_eq!(
            tasks.adelete_task(&ids[3]).await.unwrap_err().status(),
            Some(404)
        );
        assert_eq!(
            tasks.aget_task("nope").await.unwrap_err().status(),
            Some(404)
        );
    });
}

#[test]
fn a_conversation_keeps_its_thread_and_the_thread_reads_back() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let mut chat = Conversation::new(&tasks, "echo");
    let first = chat.say("Hello").unwrap();
    let second = chat.say("How are you?").unwrap();
    assert_eq!(second.id, first.id, "one thread");
    assert_eq!(second.result.as_deref(), Some("Echo: How are you?"));
    let bodies: Vec<Value> = emulator
        .requests()
        .into_iter()
        .filter_map(|r| r.json)
        .collect();
    assert_eq!(bodies[1]["id"], Value::String(first.id.clone()));
    assert!(
        bodies[0].get("id").is_none(),
        "the first turn lets the service make the id"
    );
    let thread = tasks.thread(&first.id).unwrap();
    let roles: Vec<_> = thread.iter().map(|m| m.role.clone().unwrap()).collect();
    assert_eq!(
        roles,
        [
            ThreadRole::User,
            ThreadRole::Assistant,
            ThreadRole::User,
            ThreadRole::Assistant
        ]
    );
    assert_eq!(thread[3].content.as_deref(), Some("Echo: How are you?"));
    assert!(
        thread[3].created_at.as_ref().unwrap().to_jiff().is_some(),
        "Unix seconds read as a date"
    );
    assert!(thread[0].extra.contains_key("images"), "unknown keys kept");
    // A sub-task shows in the full thread under its id.
    emulator
        .seed_task(
            json!({"id": "sub-1", "agent_id": "helper", "organization_id": "o",
            "input": {"text": "sub question"}, "created_at": "2026-11-20T10:00:00Z",
            "parent_execution": first.id, "result": "sub answer"}),
        )
        .unwrap();
    let full = tasks.full_thread(&first.id).unwrap();
    assert_eq!(full.root().unwrap().len(), 4);
    assert_eq!(
        full.get("sub-1").unwrap()[1].content.as_deref(),
        Some("sub answer")
    );
    assert_eq!(tasks.thread("missing").unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn an_async_conversation_resumes_a_thread() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let mut chat = Conversation::new(&tasks, "echo").resume("my-thread");
    let first = chat.asay("One").await.unwrap();
    assert_eq!(first.id, "my-thread", "the thread id given names the task");
    chat.asay("Two").await.unwrap();
    let thread = tasks.athread("my-thread").await.unwrap();
    assert_eq!(thread.len(), 4);
    let full = tasks.afull_thread("my-thread").await.unwrap();
    assert_eq!(full.root().unwrap(), thread.as_slice());
    assert_eq!(emulator.public_thread("my-thread").unwrap().len(), 4);
}

#[test]
fn the_public_api_url_follows_the_rules_of_every_host_the_key_goes_to() {
    let config = Tasks::builder().api_key("k").build_config().unwrap();
    assert_eq!(config.public_api_url, "https://api.xpander.ai");
    let config = Tasks::builder()
        .api_key("k")
        .public_api_url("https://api.example.com/")
        .build_config()
        .unwrap();
    assert_eq!(config.public_api_url, "https://api.example.com");
    // A URL without a scheme is refused, saying which URL was meant.
    let err = Tasks::builder()
        .api_key("k")
        .public_api_url("api.example.com/")
        .build_config()
        .unwrap_err();
    assert!(
        err.to_string().contains("https://api.example.com/"),
        "{err}"
    );
    // A client whose URLs are all plain http on loopback reaches the public
    // API only at a URL it names (it sets up no TLS for the default).
    let local = Tasks::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert!(!local
        .config()
        .key_urls()
        .contains(&"https://api.xpander.ai"));
    let err = local.get_task("t1").unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("XPANDER_PUBLIC_API_URL")),
        "{err}"
    );
    for bad in [
        "http://api.example.com",
        "https://user:SENTINEL-pw@api.example.com",
        "ftp://x",
    ] {
        let err = Tasks::builder()
            .api_key("k")
            .public_api_url(bad)
            .build_config()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad}");
        assert!(!err.to_string().contains("SENTINEL"), "{err}");
        let debug = format!("{:?}", Tasks::builder().public_api_url(bad));
        assert!(!debug.contains("SENTINEL"), "{debug}");
    }
    let config = Tasks::builder()
        .api_key("k")
        .allow_insecure_http(true)
        .public_api_url("http://api.internal")
        .build_config()
        .unwrap();
    assert_eq!(config.public_api_url, "http://api.internal");
}

#[test]
fn errors_never_carry_the_key() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let echoed = json!({"detail": [{"loc": ["header", "x-api-key"], "msg": "bad pub-key-123", "type": "x",
                                    "input": {"api_key": "pub-key-123"}}]});
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke").respond(422, echoed));
    let err = tasks
        .invoke("echo", &Invoke::new("x"), Duration::from_secs(5))
        .unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("pub-key-123"), "{shown}");
    }
    let debug = format!(
        "{:?}",
        Invoke::new("x").payload_extension(
            json!({"headers": {"Authorization": "Bearer SENTINEL-1"}})
                .as_object()
                .unwrap()
                .clone()
        )
    );
    assert!(!debug.contains("SENTINEL"), "{debug}");
}

/// A one-shot HTTP server on loopback: reads one request head, writes
/// `head` then `body` one byte at a time (each flushed), then holds the
/// connection open until the test drops the returned sender. Answers the
/// URL and a counter of connections accepted.
fn hostile_sse(
    head: &'static str,
    body: String,
) -> (
    String,
    std::sync::mpsc::Sender<()>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (hold, held) = std::sync::mpsc::channel::<()>();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        count.fetch_add(1, Ordering::SeqCst);
        let mut reader = BufReader::new(socket.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut request_body = vec![0; length];
        let _ = std::io::Read::read_exact(&mut reader, &mut request_body);
        let _ = socket.write_all(head.as_bytes());
        for byte in body.as_bytes() {
            if socket
                .write_all(&[*byte])
                .and_then(|()| socket.flush())
                .is_err()
            {
                return;
            }
        }
        // Nothing more, the connection open: only the terminal event can
        // end the stream now.
        let _ = held.recv();
        // A second connection would be a replay.
        listener.set_nonblocking(true).unwrap();
        if listener.accept().is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, hold, accepted)
}

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\n\r\n";

fn hostile_body() -> String {
    concat!(
        "retry: 0\n",
        ": comment\n\n",
        "data: {\"type\":\"task_started\",\"task_id\":\"t\"}\r\n\r\n",
        "event: weird\ndata: {\"type\":\"brand_new\",\"x\":[1,{\"y\":null}]}\n\n",
        "data: {\"type\":\"content_chunk\",\"content\":\"h\\u00e9\",\"is_final\":false}\n\n",
        "data: {\"type\":\"task_completed\",\"task_id\":\"t\",\"result\":\"done\"}\n\n",
        "data: {\"type\":\"content_chunk\",\"content\":\"after the end\"}\n\n",
        "data: garbage that never ends",
    )
    .to_string()
}

fn hostile_client(url: &str) -> Tasks {
    Tasks::builder()
        .api_key("pub-key-123")
        .base_url(url)
        .public_api_url(url)
        .build()
        .unwrap()
}

#[test]
fn a_stream_sent_byte_by_byte_ends_at_its_terminal_event_and_is_never_replayed() {
    let (url, hold, accepted) = hostile_sse(SSE_HEAD, hostile_body());
    let tasks = hostile_client(&url);
    let events: Vec<InvokeEvent> = tasks
        .invoke_stream("a", &Invoke::new("x"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let kinds: Vec<&str> = events.iter().map(InvokeEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            "task_started",
            "brand_new",
            "content_chunk",
            "task_completed"
        ]
    );
    assert_eq!(events[2].text(), Some("hé"));
    drop(hold);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_async_stream_sent_byte_by_byte_ends_at_its_terminal_event() {
    let (url, hold, _) = hostile_sse(SSE_HEAD, hostile_body());
    let tasks = hostile_client(&url);
    let mut stream = tasks.ainvoke_stream("a", &Invoke::new("x")).await.unwrap();
    let mut kinds = Vec::new();
    while let Some(event) = stream.next().await {
        kinds.push(event.unwrap().kind().to_owned());
    }
    assert_eq!(
        kinds,
        [
            "task_started",
            "brand_new",
            "content_chunk",
            "task_completed"
        ]
    );
    drop(hold);
}

#[test]
fn an_invoke_stream_answered_with_json_or_an_sse_error_is_an_error_at_the_call() {
    let (url, hold, _) = hostile_sse(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n",
        "{}".into(),
    );
    let err = hostile_client(&url)
        .invoke_stream("a", &Invoke::new("x"))
        .unwrap_err();
    assert!(err.to_string().contains("not text/event-stream"), "{err}");
    drop(hold);
    let (url, hold, accepted) = hostile_sse(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/event-stream\r\ncontent-length: 25\r\n\r\n",
        "data: {\"type\":\"error\"}\n\n\n".into(),
    );
    let err = hostile_client(&url)
        .invoke_stream("a", &Invoke::new("x"))
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    drop(hold);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not replayed"
    );
}
