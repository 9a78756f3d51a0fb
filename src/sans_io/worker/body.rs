//! The bodies of the runtime's task saves: the task as delivered plus what
//! changed, never a credential. No I/O.

use serde_json::{Map, Value};

use crate::model::Task;
use crate::redact::is_credential_key;

/// The top-level keys a runtime save never sends.
///
/// - `user_oidc_token` and `user_tokens` are the user's credentials.
/// - `mcp_servers` carries MCP secrets (`api_key`, `client_secret`,
///   `headers`, `env_vars`); a worker has no reason to change the list, so
///   it is left out whole rather than scrubbed field by field.
///
/// The update merges the keys it gets into the stored task, so a key left
/// out keeps its stored value: nothing is lost by not echoing it.
pub const NEVER_SAVED: &[&str] = &["user_oidc_token", "user_tokens", "mcp_servers"];

/// The body of a runtime save (`PATCH /agent-execution/{id}/update`): the
/// task as delivered plus what changed ([`Task::save_body`] without
/// `deep_planning`), minus every credential:
///
/// - the keys of [`NEVER_SAVED`];
/// - `payload_extension.llm_gateway` (the run's LLM gateway route and
///   token; the official runtime strips it too);
/// - any key the model does not know whose name looks like a credential
///   (`*token*`, `*secret*`, `*api_key*`, `password`, ...).
///
/// Every other key, known or not, goes back as it came.
///
/// ```
/// use xpander_sdk::sans_io::worker::runtime_save_body;
/// use xpander_sdk::model::Task;
///
/// let task: Task = serde_json::from_str(r#"{"id": "t", "agent_id": "a",
///     "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
///     "user_oidc_token": "oidc", "payload_extension": {"llm_gateway": {"token": "gw"}, "kept": 1},
///     "new_field": "kept too", "refresh_token": "rt"}"#)?;
/// let body = runtime_save_body(&task)?;
/// assert!(body.get("user_oidc_token").is_none());
/// assert!(body.get("refresh_token").is_none());
/// assert_eq!(body["payload_extension"], serde_json::json!({"kept": 1}));
/// assert_eq!(body["new_field"], "kept too");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn runtime_save_body(task: &Task) -> Result<Value, serde_json::Error> {
    let mut body = task.save_body(false)?;
    if let Value::Object(map) = &mut body {
        strip_credentials(map);
    }
    Ok(body)
}

/// Takes every credential out of a save body (see [`runtime_save_body`]).
pub(crate) fn strip_credentials(map: &mut Map<String, Value>) {
    for key in NEVER_SAVED {
        map.remove(*key);
    }
    if let Some(Value::Object(extension)) = map.get_mut("payload_extension") {
        extension.remove("llm_gateway");
    }
    map.retain(|key, _| Task::FIELD_NAMES.contains(&key.as_str()) || !is_credential_key(key));
}

/// The final save's body when the server's copy of the task is known (the
/// reload before the final save): a three-way merge of
///
/// - `delivered`: the task as the handler got it,
/// - `ours`: the task as the handler left it, with the runtime's outcome,
/// - `theirs`: the server's copy, reloaded after the handler,
///
/// key by key at the top level: `status` and `result` (the outcome) and a
/// key the handler changed (or the runtime set) take `ours`; any other key takes `theirs` when the server has it
/// (so a change made on the server meanwhile, such as `is_manually_stopped`
/// or a timestamp, is not overwritten with the stale delivered value), else
/// `ours`. Then the credentials are taken out.
///
/// The status is the caller's to settle (a server-side `stopped` is kept by
/// the worker before calling this: see [`super::WorkerMachine`]).
pub(crate) fn merged_save_body(
    delivered: &Task,
    ours: &Task,
    theirs: &Task,
) -> Result<Value, serde_json::Error> {
    let base = object(delivered.save_body(false)?);
    let ours = object(ours.save_body(false)?);
    let mut merged = object(theirs.save_body(false)?);
    for (key, value) in &ours {
        if base.get(key) != Some(value) || !merged.contains_key(key) {
            merged.insert(key.clone(), value.clone());
        }
    }
    // A key the handler removed (present when delivered, gone from ours) is
    // not sent: the server's value stays, as for any key not sent.
    merged.retain(|key, _| ours.contains_key(key) || !base.contains_key(key));
    // The outcome is the runtime's: `status` and `result` always go as
    // settled (a result the handler left unset is cleared, as the claim, a
    // partial update, does not clear it).
    for key in ["status", "result"] {
        let value = ours.get(key).cloned().unwrap_or(Value::Null);
        merged.insert(key.to_owned(), value);
    }
    strip_credentials(&mut merged);
    Ok(Value::Object(merged))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
