//! The one table of what a task the emulator creates carries, and how a
//! create or report body fills it.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

/// Which request may set a field of a created task (else it has its default).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SetBy {
    /// Only the emulator.
    Server,
    /// The create body, when not null.
    Create,
    /// The report body, when not null.
    Report,
}

/// The fields of a created task besides `id`, `agent_id`, `organization_id`
/// and `created_at`, in the official client's order, with their defaults.
/// Object defaults (`input`) are merged key by key into what the request gave.
pub(super) static FIELDS: LazyLock<Vec<(&str, Value, SetBy)>> = LazyLock::new(|| {
    use SetBy::*;
    vec![
        (
            "input",
            json!({"text": "", "files": [], "user": null}),
            Server,
        ),
        ("status", json!("pending"), Server),
        ("internal_status", Value::Null, Server),
        ("last_executed_node_id", Value::Null, Server),
        ("agent_version", Value::Null, Server),
        ("started_at", Value::Null, Server),
        ("paused_at", Value::Null, Server),
        ("finished_at", Value::Null, Server),
        ("result", Value::Null, Report),
        ("parent_execution", Value::Null, Create),
        ("conversation_id", Value::Null, Create),
        ("conversation_kind", Value::Null, Server),
        ("sub_executions", json!([]), Server),
        ("should_update_parent", json!(false), Server),
        ("is_manually_stopped", json!(false), Server),
        ("payload_extension", Value::Null, Create),
        ("execution_kind", Value::Null, Server),
        ("hitl_request", Value::Null, Server),
        ("pending_eca_request", Value::Null, Server),
        ("source", Value::Null, Create),
        ("voice_id", Value::Null, Server),
        ("output_format", json!("text"), Create),
        ("output_schema", Value::Null, Create),
        ("events_streaming", json!(false), Create),
        ("is_orchestration", json!(false), Server),
        ("is_gateway", json!(false), Server),
        ("is_app", json!(false), Server),
        ("background_auth_eligible", json!(false), Server),
        ("additional_context", Value::Null, Create),
        ("tool_call_limit", Value::Null, Create),
        ("instructions_override", Value::Null, Create),
        ("test_run_node_id", Value::Null, Create),
        ("user_oidc_token", Value::Null, Create),
        ("expected_output", Value::Null, Create),
        ("mcp_servers", json!([]), Create),
        ("triggering_agent_id", Value::Null, Create),
        ("title", Value::Null, Create),
        ("think_mode", json!("default"), Create),
        ("disable_attachment_injection", json!(false), Create),
        ("user_tokens", Value::Null, Create),
        (
            "deep_planning",
            json!({"enabled": false, "enforce": false, "started": false,
                   "question_raised": false, "tasks": []}),
            Server,
        ),
        ("must_deep_plan", json!(false), Server),
        ("execution_attempts", json!(1), Server),
        ("return_metrics", json!(false), Create),
        ("llm_model_provider", Value::Null, Create),
        ("llm_model_name", Value::Null, Create),
        ("llm_reasoning_effort", Value::Null, Create),
        ("harness_cli", Value::Null, Create),
        ("permission_mode", Value::Null, Create),
        ("tokens", Value::Null, Report),
        ("used_tools", json!([]), Report),
        ("duration", json!(0), Report),
    ]
});

/// A report body's field kept on the task although the model has no such field.
pub(super) const REPORT_EXTRA: &str = "llm_response";

/// Copies onto `task` the body's non-null fields that `by` may set, then
/// fills every field still missing with its default.
pub(super) fn fill(task: &mut Map<String, Value>, body: &Map<String, Value>, by: SetBy) {
    for (name, default, set_by) in FIELDS.iter() {
        if *set_by == by {
            if let Some(v) = body.get(*name).filter(|v| !v.is_null()) {
                task.insert(name.to_string(), v.clone());
            }
        }
        match (task.get_mut(*name), default) {
            (None, _) => {
                task.insert(name.to_string(), default.clone());
            }
            (Some(Value::Object(given)), Value::Object(defaults)) => {
                for (k, v) in defaults {
                    given.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {}
        }
    }
}
