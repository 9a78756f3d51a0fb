//! The activity log (`GET /activity/{agent_id}/{task_id}`): a thread built
//! from what happened to the task, event by event, and the answers a test
//! sets verbatim instead (`PUT /__emulator/activity/{task_id}`).
//!
//! What each event adds (entry ids are `ev-N`, N the event's id; times are
//! the envelope's `time` when it is a string, else now):
//!
//! | event | entry |
//! |---|---|
//! | `task_created` | `role: user` message: the input's `text` and `files` (and `user`, when it has an `email`); none when the task has no `input` object |
//! | `tool_call_request` | tool call: `tool_name` (else `operation_id`, else `""`), `payload` (null when absent), `is_error: false`, `result: null`, with `reasoning` / `plan_task_id` when given |
//! | `tool_call_result` | fills `result` and `is_error` of the request with the same `request_id` (else `tool_call_id`); without one, a tool call of its own |
//! | `think` / `analyze` | reasoning: the payload's keys, `type`, and `title: ""` / `confidence: 0.0` when missing |
//! | `sub_agent_trigger` | the payload's keys (`agent_id`, `query`, `files`, `reasoning`) |
//! | `auth_event` | `{"type": payload.type, "data": payload.data}` |
//! | `task_finished` | `role: agent` message: the task's `result` as text |
//!
//! Other events (`chunk`, `task_updated`, ...) add nothing.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::events::now;
use crate::events::StreamEvent;
use crate::http::Resp;

/// A task's thread, as built so far.
#[derive(Default)]
pub(crate) struct Activity {
    /// When the task was created here (the thread's `created_at` when the
    /// task has none).
    created: Option<String>,
    messages: Vec<Value>,
    /// Tool call entries by request id, for their results.
    tool_calls: HashMap<String, usize>,
}

/// The `text` of a JSON string field, else null.
fn string_or_null(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => json!(s),
        _ => Value::Null,
    }
}

/// A user object the official client accepts (it requires `email`).
fn valid_user(v: Option<&Value>) -> Option<&Value> {
    v.filter(|u| u.get("email").is_some_and(Value::is_string))
}

/// A message entry (`role` user or agent).
fn message(role: &str, text: Value, files: Value, user: Option<&Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("role".into(), json!(role));
    m.insert("content".into(), json!({"text": text, "files": files}));
    m.insert("sub_execution_result".into(), json!(false));
    if let Some(u) = user {
        m.insert("user".into(), u.clone());
    }
    m
}

/// The key a tool call request and its result share.
fn request_key(data: &Value) -> Option<String> {
    ["request_id", "tool_call_id"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// A tool call entry from a request's (or a lone result's) payload.
fn tool_call(data: &Value) -> Map<String, Value> {
    let name = ["tool_name", "operation_id"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    let mut m = Map::new();
    m.insert("tool_name".into(), json!(name));
    let payload = data.get("payload").cloned().unwrap_or(Value::Null);
    m.insert("payload".into(), payload);
    m.insert("is_error".into(), json!(false));
    m.insert("result".into(), Value::Null);
    for k in ["reasoning", "plan_task_id"] {
        if let Some(v) = data.get(k).filter(|v| !v.is_null()) {
            m.insert(k.into(), v.clone());
        }
    }
    m
}

/// Sets a tool call entry's `result` and `is_error` from a result's payload.
fn set_result(entry: &mut Map<String, Value>, data: &Value) {
    let result = data.get("result").cloned().unwrap_or(Value::Null);
    entry.insert("result".into(), result);
    let is_error = data.get("is_error").and_then(Value::as_bool);
    entry.insert("is_error".into(), json!(is_error.unwrap_or(false)));
}

/// The payload's own keys, as an entry.
fn payload_keys(data: &Value) -> Map<String, Value> {
    data.as_object().cloned().unwrap_or_default()
}

impl Activity {
    /// Adds what `event` says happened (see the module's table).
    pub(crate) fn apply(&mut self, event: &StreamEvent) {
        let env = &event.envelope;
        let Some(kind) = env.get("type").and_then(Value::as_str) else {
            return;
        };
        let data = env.get("data").unwrap_or(&Value::Null);
        let at = match env.get("time") {
            Some(Value::String(t)) => t.clone(),
            _ => now(),
        };
        if kind == "task_created" {
            self.created.get_or_insert_with(|| at.clone());
        }
        let mut entry = match kind {
            "task_created" => {
                let Some(input) = data.get("input").filter(|i| i.is_object()) else {
                    return;
                };
                let files = input.get("files").filter(|f| f.is_array());
                message(
                    "user",
                    string_or_null(input.get("text")),
                    files.cloned().unwrap_or_else(|| json!([])),
                    valid_user(input.get("user")),
                )
            }
            "task_finished" => {
                message("agent", string_or_null(data.get("result")), json!([]), None)
            }
            "tool_call_request" => tool_call(data),
            "tool_call_result" => {
                let known = request_key(data).and_then(|k| self.tool_calls.get(&k).copied());
                let entry = known.and_then(|i| self.messages.get_mut(i));
                if let Some(entry) = entry.and_then(Value::as_object_mut) {
                    set_result(entry, data);
                    return;
                }
                let mut m = tool_call(data);
                set_result(&mut m, data);
                m
            }
            "think" | "analyze" => {
                let mut m = payload_keys(data);
                m.insert("type".into(), json!(kind));
                m.entry("title").or_insert_with(|| json!(""));
                m.entry("confidence").or_insert_with(|| json!(0.0));
                m
            }
            "sub_agent_trigger" => payload_keys(data),
            "auth_event" => {
                let mut m = Map::new();
                m.insert("type".into(), data.get("type").cloned().unwrap_or_default());
                m.insert("data".into(), data.get("data").cloned().unwrap_or_default());
                m
            }
            _ => return,
        };
        entry.insert("id".into(), json!(format!("ev-{}", event.id)));
        entry.insert("created_at".into(), json!(at));
        if kind == "tool_call_request" {
            if let Some(k) = request_key(data) {
                self.tool_calls.insert(k, self.messages.len());
            }
        }
        self.messages.push(Value::Object(entry));
    }

    /// The thread of `task`: `{"id", "created_at", "messages", "user"}`.
    pub(crate) fn thread(&self, task: &Map<String, Value>) -> Value {
        let input = task.get("input").unwrap_or(&Value::Null);
        let created_at = match (task.get("created_at"), &self.created) {
            (Some(v), _) if !v.is_null() => v.clone(),
            (_, Some(at)) => json!(at),
            _ => json!(now()),
        };
        json!({
            "id": task.get("id").cloned().unwrap_or_default(),
            "created_at": created_at,
            "messages": self.messages,
            "user": valid_user(input.get("user")).cloned().unwrap_or_default(),
        })
    }
}

/// Answers set verbatim for a task's activity log, by task id.
#[derive(Default)]
pub(crate) struct Overrides {
    by_task: HashMap<String, (String, Vec<u8>)>,
}

impl Overrides {
    /// Serves `body` with `content_type` for this task from now on.
    pub(crate) fn set(&mut self, task_id: &str, content_type: &str, body: Vec<u8>) {
        let ct = content_type.to_string();
        self.by_task.insert(task_id.to_string(), (ct, body));
    }

    pub(crate) fn remove(&mut self, task_id: &str) {
        self.by_task.remove(task_id);
    }

    pub(crate) fn clear(&mut self) {
        self.by_task.clear();
    }

    /// The answer set for this task, if any.
    pub(crate) fn answer(&self, task_id: &str) -> Option<Resp> {
        let (ct, body) = self.by_task.get(task_id)?;
        let mut r = Resp::bytes(200, body.clone());
        r.content_type = ct.clone().into();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64, kind: &str, data: Value) -> StreamEvent {
        StreamEvent {
            id,
            envelope: json!({"type": kind, "time": "2025-06-01T12:00:02Z", "data": data}),
        }
    }

    #[test]
    fn a_result_fills_its_request_and_unknown_kinds_add_nothing() {
        let mut a = Activity::default();
        let req = json!({"request_id": "rq1", "operation_id": "op1", "payload": {"q": 1}});
        a.apply(&ev(1, "tool_call_request", req));
        a.apply(&ev(2, "chunk", json!("Hel")));
        let res = json!({"request_id": "rq1", "result": {"hits": 3}, "is_error": true});
        a.apply(&ev(3, "tool_call_result", res));
        a.apply(&ev(4, "tool_call_result", json!({"tool_name": "lone"})));
        let t = a.thread(json!({"id": "t", "created_at": "x"}).as_object().unwrap());
        let m = t["messages"].as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["tool_name"], "op1");
        assert_eq!(m[0]["result"], json!({"hits": 3}));
        assert_eq!(m[0]["is_error"], true);
        assert_eq!(m[0]["id"], "ev-1");
        assert_eq!(m[1]["tool_name"], "lone");
        assert_eq!(m[1]["created_at"], "2025-06-01T12:00:02Z");
        assert!(t["user"].is_null());
    }
}
