//! Every credential-bearing field, and the API key, carries a distinct
//! sentinel; none of them may appear in the `Debug` or `Display` of a task, a
//! list item, a create / update / report parameter, the configuration, or
//! any error: a 401 whose body echoes the key (gateways do), a 422 that
//! echoes a task, a 200 whose JSON is broken halfway through the secrets.

mod common;

use common::task_with_secrets;

use serde_json::json;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::model::{McpServer, Task};
use xpander_sdk::{
    CreateTask, Error, ExternalTaskReport, ListFilter, RetryPolicy, Tasks, UpdateTask,
};

const KEY: &str = "SENTINEL-api-key-91c2";

/// Every sentinel: the key and one per credential-bearing field.
const SENTINELS: &[&str] = &[
    KEY,
    "SENTINEL-oidc",
    "SENTINEL-user-tokens",
    "SENTINEL-payload-ext",
    "SENTINEL-mcp-api-key",
    "SENTINEL-mcp-client-secret",
    "SENTINEL-mcp-header",
    "SENTINEL-mcp-env",
    "SENTINEL-extra-token",
    "SENTINEL-input-secret",
    "SENTINEL-extra-deep",
];

fn assert_clean(what: &str, text: &str) {
    for sentinel in SENTINELS {
        assert!(!text.contains(sentinel), "{what} shows {sentinel}: {text}");
    }
}

fn check_debug<T: std::fmt::Debug>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

fn check_error(what: &str, error: &Error) {
    assert_clean(what, &format!("{error}"));
    check_debug(what, error);
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        assert_clean(what, &format!("{cause:?} {cause}"));
        source = cause.source();
    }
}

fn setup() -> (Emulator, Tasks) {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    emulator.seed_task(task_with_secrets("t-1")).unwrap();
    let tasks = Tasks::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    (emulator, tasks)
}

/// The error answers that could carry a credential, injected one by one.
fn hostile_answers() -> Vec<(&'static str, Fault)> {
    let broken = serde_json::to_string(&task_with_secrets("t-1")).unwrap();
    let cut = broken.get(..broken.len() - 40).unwrap().to_string();
    vec![
        (
            "401 echoing the key",
            Fault::on("*", "*").respond(
                401,
                json!({"detail": format!("invalid x-api-key: {KEY}"), "got": {"x-api-key": KEY}}),
            ),
        ),
        (
            "422 echoing a task",
            Fault::on("*", "*").respond(
                422,
                json!({"detail": [{"loc": ["body"], "msg": "bad", "input": task_with_secrets("t-1")}]}),
            ),
        ),
        ("broken 200", Fault::on("*", "*").respond_text(200, cut)),
        (
            "text 500 with the key",
            Fault::on("*", "*").respond_text(500, format!("upstream said: key={KEY}")),
        ),
    ]
}

#[test]
fn no_model_parameter_or_configuration_shows_a_credential() {
    let (_emulator, tasks) = setup();
    check_debug("Tasks", &tasks);
    check_debug("Config", tasks.config());

    let task = tasks.get("t-1").unwrap();
    // The secrets are there (a save sends them back) but never shown.
    assert_eq!(task.user_oidc_token.as_deref(), Some("SENTINEL-oidc"));
    check_debug("Task", &task);
    check_debug("TaskInput", &task.input);
    check_debug("McpServer", &task.mcp_servers[0]);
    let items = tasks.list("agent-1", &ListFilter::new()).unwrap();
    assert_eq!(items.len(), 1);
    check_debug("TaskListItem", &items[0]);

    let mut server = McpServer::default();
    server.api_key = Some("SENTINEL-mcp-api-key".into());
    server.client_secret = Some("SENTINEL-mcp-client-secret".into());
    server
        .headers
        .insert("Authorization".into(), json!("SENTINEL-mcp-header"));
    server
        .env_vars
        .insert("TOKEN".into(), json!("SENTINEL-mcp-env"));
    let mut create = CreateTask::new("agent-1", "hi")
        .user_oidc_token("SENTINEL-oidc")
        .user_tokens(json!({"github": "SENTINEL-user-tokens"}))
        .payload_extension(
            json!({"Authorization": "SENTINEL-payload-ext"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .mcp_servers(vec![server]);
    create.input.text = "prompt".into();
    check_debug("CreateTask", &create);
    let update = UpdateTask::new()
        .tool_call_payload_extension(json!({"headers": {"Authorization": "SENTINEL-payload-ext"}}));
    check_debug("UpdateTask", &update);
    check_debug("ExternalTaskReport", &ExternalTaskReport::new("hi"));
    let built: Task = serde_json::from_value(task_with_secrets("t-2")).unwrap();
    check_debug("Task from JSON", &built);
}

#[test]
fn no_error_of_either_face_shows_a_credential() {
    let (emulator, tasks) = setup();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (what, fault) in hostile_answers() {
        emulator.clear_faults();
        emulator.inject(fault.clone().always());
        let blocking = tasks.get("t-1").unwrap_err();
        check_error(what, &blocking);
        let nonblocking = runtime.block_on(tasks.aget("t-1")).unwrap_err();
        check_error(what, &nonblocking);
        // The same failure, the same error in both faces.
        assert_eq!(blocking.to_string(), nonblocking.to_string(), "{what}");
        let mut task: Task = serde_json::from_value(task_with_secrets("t-1")).unwrap();
        check_error(what, &task.save(&tasks).unwrap_err());
        let listed = tasks.list("agent-1", &ListFilter::new()).unwrap_err();
        check_error(what, &listed);
    }
    // A wrong key answered 401 by the emulator itself.
    emulator.clear_faults();
    let wrong = Tasks::builder()
        .api_key(format!("{KEY}-wrong"))
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let err = wrong.get("t-1").unwrap_err();
    assert!(err.is_unauthorized());
    check_error("wrong key", &err);
}

/// A FastAPI `detail` that is not a string, or validation errors without a
/// `msg`, echo what was sent: their credentials are redacted in the error's
/// `detail` (and so in its `Display`), as in its body.
#[test]
fn an_error_detail_of_any_shape_shows_no_credential() {
    let (emulator, tasks) = setup();
    let answers = [
        json!({"detail": {"user_oidc_token": "SENTINEL-oidc", "why": "expired"}}),
        json!({"detail": [{"loc": ["body"], "input": task_with_secrets("t-1")}]}),
        json!({"detail": [{"loc": ["header", "x-api-key"], "msg": "bad", "input": KEY}]}),
        json!({"detail": [["body"], {"headers": {"a": "SENTINEL-mcp-header"}}]}),
    ];
    for answer in answers {
        emulator.clear_faults();
        emulator.inject(Fault::on("*", "*").respond(403, answer.clone()).always());
        let err = tasks.get("t-1").unwrap_err();
        let detail = err.as_api().and_then(|e| e.detail.clone());
        assert!(detail.is_some(), "{answer}");
        assert_clean(&answer.to_string(), detail.as_deref().unwrap_or(""));
        check_error(&answer.to_string(), &err);
    }
}
