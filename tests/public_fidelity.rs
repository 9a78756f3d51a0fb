//! Fidelity of the public API v1's models: the published examples
//! (`fixtures/public-api-v1-examples.json`) read without loss and written
//! back key for key, lenient reads, unknown keys and event types kept,
//! secrets redacted; the streamed invoke's sans-IO session.

use serde_json::{json, Value};
use xpander_sdk::model::{
    FullThread, InvokeEvent, McpServer, Task, TaskEventType, TaskPage, ThreadMessage, ThreadRole,
};
use xpander_sdk::public::{Invoke, TaskQuery};
use xpander_sdk::sans_io::public::{InvokeSession, Pager};
use xpander_sdk::sans_io::sse::SseLimits;

const EXAMPLES: &str = include_str!("fixtures/public-api-v1-examples.json");

fn page(name: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(EXAMPLES).unwrap();
    all["pages"][name].as_array().unwrap().clone()
}

fn json_of(name: &str, i: usize) -> Value {
    page(name)[i]["json"].clone()
}

#[test]
fn the_published_tasks_read_and_write_back_without_loss() {
    for (name, i) in [
        ("agents/invoke-sync.mdx", 3),
        ("agents/invoke-async.mdx", 3),
        ("tasks/get-task.mdx", 0),
    ] {
        let original = json_of(name, i);
        let task: Task = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&task).unwrap(), original, "{name}");
    }
    let sync: Task = serde_json::from_value(json_of("agents/invoke-sync.mdx", 3)).unwrap();
    assert_eq!(
        sync.id, "test-thread-20251112",
        "the thread id is the task's id"
    );
    assert_eq!(sync.result.as_deref(), Some("2+2 equals 4"));
}

#[test]
fn the_published_pages_threads_and_full_threads_read_without_loss() {
    for name in ["agents/get-agent-tasks.mdx", "tasks/list-tasks.mdx"] {
        let original = json_of(name, 0);
        let page: TaskPage = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(page.items.len(), 2, "{name}");
        assert!(page.total_pages > Some(1));
        assert_eq!(serde_json::to_value(&page).unwrap(), original, "{name}");
    }
    let original = json_of("tasks/get-thread.mdx", 0);
    let thread: Vec<ThreadMessage> = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(thread[1].role, Some(ThreadRole::Assistant));
    assert_eq!(thread[1].metrics.as_ref().unwrap().total_tokens, 304);
    assert_eq!(
        thread[1]
            .created_at
            .as_ref()
            .unwrap()
            .to_jiff()
            .unwrap()
            .as_second(),
        1762463339
    );
    assert!(
        thread[0].extra.contains_key("audio_output"),
        "media keys kept"
    );
    assert!(thread[0]
        .metrics
        .as_ref()
        .unwrap()
        .extra
        .contains_key("cache_read_tokens"));
    assert_eq!(serde_json::to_value(&thread).unwrap(), original);

    let original = json_of("tasks/get-thread-full.mdx", 0);
    let full: FullThread = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(full.root().unwrap().len(), 2);
    assert_eq!(serde_json::to_value(&full).unwrap(), original);
    // Whatever is not a message array is kept too, in order.
    let odd = json!({"root": [], "sub-9": "not yet", "sub-1": [{"role": "tool", "content": "x"}]});
    let full: FullThread = serde_json::from_value(odd.clone()).unwrap();
    assert_eq!(full.other, [("sub-9".to_string(), json!("not yet"))]);
    assert_eq!(full.get("sub-1").unwrap()[0].role, Some(ThreadRole::Tool));
    assert_eq!(serde_json::to_value(&full).unwrap(), odd);
}

#[test]
fn the_published_request_fields_are_sent_as_given() {
    let schema = json_of("agents/invoke-sync.mdx", 0);
    let extension = json_of("agents/invoke-sync.mdx", 1);
    let servers = json_of("agents/invoke-sync.mdx", 2);
    let servers: Vec<McpServer> = serde_json::from_value(servers.clone()).unwrap();
    let request = Invoke::new("Summarize")
        .output_format("json")
        .output_schema(schema.clone())
        .payload_extension(extension.as_object().unwrap().clone())
        .mcp_servers(servers);
    let body = serde_json::to_value(&request).unwrap();
    assert_eq!(body["output_schema"], schema);
    assert_eq!(body["payload_extension"], extension);
    assert_eq!(
        body["mcp_servers"],
        json_of("agents/invoke-sync.mdx", 2),
        "unknown `config` kept"
    );
    assert_eq!(body["output_format"], "json");
    assert!(
        body.get("run_locally").is_none(),
        "unset fields are not sent"
    );
}

fn decode(sse: &str) -> (Vec<InvokeEvent>, InvokeSession) {
    let mut session = InvokeSession::open(
        200,
        Some("text/event-stream; charset=utf-8"),
        SseLimits::default(),
    )
    .unwrap();
    let mut events = Vec::new();
    // Fed in small pieces: the same events whatever the chunking.
    for piece in sse.as_bytes().chunks(7) {
        session.feed(piece);
        while let Some(event) = session.next_event() {
            events.push(event);
        }
    }
    session.on_end();
    while let Some(event) = session.next_event() {
        events.push(event);
    }
    (events, session)
}

#[test]
fn the_published_stream_is_typed_and_written_back_as_sent() {
    let sse = page("agents/invoke-stream.mdx")[3]["sse"]
        .as_str()
        .unwrap()
        .to_owned()
        + "\n\n";
    let (events, session) = decode(&sse);
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[0], InvokeEvent::Started(s) if s.task_id.as_deref() == Some("...")));
    assert!(matches!(&events[1], InvokeEvent::Chunk(c) if c.content == "..." && !c.is_final));
    assert!(events[2].is_terminal());
    assert!(session.is_ended());
    let lines: Vec<Value> = sse
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for (event, line) in events.iter().zip(&lines) {
        let back = match event {
            InvokeEvent::Started(e) => serde_json::to_value(e).unwrap(),
            InvokeEvent::Chunk(e) => serde_json::to_value(e).unwrap(),
            InvokeEvent::Completed(e) => serde_json::to_value(e).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(&back, line, "every key kept, `type` included");
    }
}

#[test]
fn the_open_set_of_stream_events() {
    let sse = concat!(
        ": keep-alive\n\n",
        "data: {\"type\":\"task_created\",\"task_id\":\"t\",\"organization_id\":\"o\",\"time\":\"2025-06-01T12:00:00Z\",\"data\":null}\n\n",
        "id: 4\ndata: {\"type\":\"chunk\",\"task_id\":\"t\",\"organization_id\":\"o\",\"time\":\"2025-06-01T12:00:01Z\",\"data\":\"Hel\"}\n\n",
        "data: {\"type\":\"reasoning_step\",\"depth\":2,\"api_key\":\"SENTINEL-k\"}\n\n",
        "event: note\ndata: not json at all\n\n",
        "data: {\"no_type\":true}\n\n",
        "data: {\"type\":\"task_finished\",\"task_id\":\"t\",\"organization_id\":\"o\",\"time\":\"2025-06-01T12:00:02Z\",\"data\":null}\n\n",
        "data: {\"type\":\"after_the_end\"}\n\n",
    );
    let (events, session) = decode(sse);
    let kinds: Vec<&str> = events.iter().map(InvokeEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            "task_created",
            "chunk",
            "reasoning_step",
            "note",
            "message",
            "task_finished"
        ]
    );
    assert!(
        matches!(&events[1], InvokeEvent::Task(e) if e.kind == TaskEventType::Chunk && e.id.as_deref() == Some("4"))
    );
    assert_eq!(events[1].text(), Some("Hel"));
    match &events[2] {
        InvokeEvent::Other { data, .. } => assert_eq!(data["depth"], 2, "kept whole"),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&events[3], InvokeEvent::Other { data: Value::String(s), .. } if s == "not json at all")
    );
    assert!(
        !format!("{:?}", events[2]).contains("SENTINEL"),
        "Debug redacts"
    );
    assert!(session.is_ended(), "nothing after the terminal event");
}

#[test]
fn stream_limits_skip_an_event_and_the_head_is_checked() {
    let limits = SseLimits {
        max_line_bytes: 64,
        max_event_bytes: 64,
    };
    let mut session = InvokeSession::open(200, Some("text/event-stream"), limits).unwrap();
    let long = format!(
        "data: {{\"type\":\"content_chunk\",\"content\":\"{}\"}}\n\n",
        "x".repeat(200)
    );
    session.feed(long.as_bytes());
    session.feed(b"data: {\"type\":\"content_chunk\",\"content\":\"ok\"}\n\n");
    assert_eq!(
        session
            .next_event()
            .and_then(|e| e.text().map(str::to_owned))
            .as_deref(),
        Some("ok")
    );
    assert_eq!(session.skipped(), 1);
    assert!(matches!(
        InvokeSession::open(200, Some("application/json"), limits),
        Err(Some(_))
    ));
    assert!(matches!(
        InvokeSession::open(422, Some("application/json"), limits),
        Err(None)
    ));
}

#[test]
fn lenient_reads_keep_what_they_convert() {
    let odd = json!({"role": "critic", "content": ["a", "b"], "created_at": "1762463339",
                     "tool_call_error": 1, "metrics": {"total_tokens": "304", "input_tokens": 2.0},
                     "user_token": "SENTINEL-tok"});
    let m: ThreadMessage = serde_json::from_value(odd.clone()).unwrap();
    assert_eq!(m.role, Some(ThreadRole::Unknown("critic".into())));
    assert_eq!(m.content, None);
    assert_eq!(m.raw_value("content"), Some(&json!(["a", "b"])));
    assert_eq!(m.tool_call_error, Some(true));
    assert_eq!(m.metrics.as_ref().unwrap().total_tokens, 304);
    assert!(m.created_at.as_ref().unwrap().to_jiff().is_some());
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        odd,
        "written back as read"
    );
    assert!(
        !format!("{m:?}").contains("SENTINEL"),
        "Debug redacts credential-looking keys"
    );
    let p: TaskPage =
        serde_json::from_value(json!({"items": [], "total": "8", "total_pages": 2.0})).unwrap();
    assert_eq!((p.total, p.total_pages), (Some(8), Some(2)));
}

#[test]
fn the_pager_stops_on_a_server_that_ignores_the_page() {
    let same = json!({"items": [{"id": "a", "agent_id": "x", "organization_id": "o",
                      "created_at": "2025-11-06T06:05:43Z"}], "total": 1000, "page": 1,
                      "per_page": 1, "total_pages": 1000});
    let mut pager = Pager::new(TaskQuery::new().per_page(1)).unwrap();
    let mut yielded = 0;
    while let Some(query) = pager.next_query() {
        assert!(query.page.unwrap() <= 2, "no loop");
        pager.on_page(serde_json::from_value(same.clone()).unwrap());
        while pager.next_item().is_some() {
            yielded += 1;
        }
    }
    assert_eq!(yielded, 1);
    assert!(pager.is_done());
    // Without `total_pages`: on until a short page.
    let item = |id: &str| {
        json!({"id": id, "agent_id": "x", "organization_id": "o",
                                 "created_at": "2025-11-06T06:05:43Z"})
    };
    let mut pager = Pager::new(TaskQuery::new().per_page(2)).unwrap();
    let mut yielded = Vec::new();
    let mut n = 0;
    while let Some(query) = pager.next_query() {
        let items: Vec<Value> = match query.page.unwrap() {
            1 => vec![item("a"), item("b")],
            2 => vec![item("c"), item("d")],
            _ => vec![item("e")],
        };
        n += 1;
        pager.on_page(serde_json::from_value(json!({"items": items})).unwrap());
        while let Some(i) = pager.next_item() {
            yielded.push(i.id);
        }
    }
    assert_eq!((n, yielded.join("")), (3, "abcde".to_string()));
    assert!(Pager::new(TaskQuery::new().per_page(51)).is_err());
}

#[test]
fn the_pager_stops_on_a_server_that_answers_another_page_than_asked() {
    // A server that ignores `page` (it answers page 1 every time) while the
    // list grows at the top: each answer differs from the one before, and
    // `total_pages` never ends the walk. The answer's own `page` says it is
    // not the page asked for: the walk ends there instead of yielding the
    // newest tasks forever.
    let item = |id: String| {
        json!({"id": id, "agent_id": "x", "organization_id": "o",
               "created_at": "2025-11-06T06:05:43Z"})
    };
    let mut pager = Pager::new(TaskQuery::new().per_page(2)).unwrap();
    let mut yielded = Vec::new();
    let mut fetches = 0;
    while let Some(query) = pager.next_query() {
        fetches += 1;
        assert!(fetches <= 3, "the walk does not end: {yielded:?}");
        let _ = query;
        let items = vec![
            item(format!("new{fetches}")),
            item(format!("new{}", fetches - 1)),
        ];
        let answer = json!({"items": items, "total": 1_000_000, "page": 1, "per_page": 2,
                            "total_pages": 500_000});
        pager.on_page(serde_json::from_value(answer).unwrap());
        while let Some(i) = pager.next_item() {
            yielded.push(i.id);
        }
    }
    assert_eq!(yielded, ["new1", "new0"], "the first page, then the end");
    assert!(pager.is_done());
    // An answer that does not say which page it is keeps walking.
    let mut pager = Pager::new(TaskQuery::new().per_page(1)).unwrap();
    pager.next_query().unwrap();
    pager.on_page(
        serde_json::from_value(json!({"items": [item("a".into())], "total_pages": 3})).unwrap(),
    );
    assert!(pager.next_item().is_some());
    assert_eq!(pager.next_query().unwrap().page, Some(2));
}

/// The published `TasksListItem` requires `id`, `agent_id`,
/// `organization_id` and `status`, not `created_at`: a page whose items
/// lack it is read (not refused whole, which would end a walk with an
/// error), and written back without one.
#[test]
fn a_list_item_without_created_at_is_read_and_written_back_without_one() {
    let body = json!({"items": [{"id": "a", "agent_id": "x", "organization_id": "o",
                                 "status": "completed"}],
                      "total": 1, "page": 1, "per_page": 20, "total_pages": 1});
    let page: TaskPage = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(page.items[0].id, "a");
    assert!(!page.items[0].is_plain_wire(), "the absence is remembered");
    assert_eq!(
        serde_json::to_value(&page).unwrap(),
        body,
        "no created_at added"
    );
}
