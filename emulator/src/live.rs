//! The live routes of the Tasks API: a task's event stream, the event push,
//! and the activity log. (Metrics are in [`crate::metrics`].)

use serde_json::{json, Value};

use crate::events::sse::{Reply, SseReply};
use crate::events::task::TaskFeed;
use crate::http::{Req, Resp};
use crate::state::Shared;
use crate::store::lock;
use crate::validation::{check, json_body, not_found_task, Kind, Null};

/// The fields of a pushed envelope (`TaskUpdateEvent`). `type` may be any
/// string: kinds newer than the emulator's are accepted.
const ENVELOPE: [(&str, Kind, Null); 6] = [
    ("type", Kind::Str, Null::Required),
    ("task_id", Kind::Str, Null::Required),
    ("organization_id", Kind::Str, Null::Required),
    ("time", Kind::Time, Null::Required),
    ("data", Kind::Any, Null::RequiredKey),
    ("identity", Kind::Dict, Null::Ok),
];

/// `GET /{org}/agent-execution/{task_id}/events`: 404 for an unknown task,
/// else the stream (see [`crate::events::task`]).
pub(crate) fn events(shared: &Shared, task_id: &str, req: &Req<'_>) -> Reply {
    let resume = req
        .header("last-event-id")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let store = lock(&shared.store);
    let Some(entry) = store.get(task_id) else {
        return Reply::Full(not_found_task(task_id));
    };
    let feed = TaskFeed::subscribe(task_id, entry, resume);
    Reply::Stream(Box::new(SseReply::new(feed)))
}

/// Checks one pushed envelope (at `body[i]`).
fn envelope(i: usize, v: &Value) -> Result<(), Resp> {
    let at = i.to_string();
    let loc = ["body", at.as_str()];
    match v.as_object() {
        Some(o) => check(o, &loc, &ENVELOPE),
        None => Err(Kind::Dict.error(&loc)),
    }
}

/// `POST /agent-execution/{task_id}/events/push`: a JSON array of envelopes,
/// each appended to the task's stream (and activity log) as given.
/// Answers `{"ids": [...]}`, the ids the events got.
pub(crate) fn push(shared: &Shared, task_id: &str, parsed: Option<Value>, body: &[u8]) -> Resp {
    let items = match json_body(parsed, body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Kind::List.error(&["body"]),
        Err(r) => return r,
    };
    if let Some(r) = items
        .iter()
        .enumerate()
        .find_map(|(i, v)| envelope(i, v).err())
    {
        return r;
    }
    match shared.push_events(task_id, items) {
        Some(ids) => Resp::json(200, &json!({ "ids": ids })),
        None => not_found_task(task_id),
    }
}

/// `GET /activity/{agent_id}/{task_id}`: the answer a test set for the task,
/// else the thread built from its events; 404 for an unknown task or one
/// of another agent.
pub(crate) fn activity(shared: &Shared, agent_id: &str, task_id: &str) -> Resp {
    if let Some(set) = lock(&shared.activity).answer(task_id) {
        return set;
    }
    let store = lock(&shared.store);
    let Some(entry) = store.get(task_id) else {
        return not_found_task(task_id);
    };
    match entry.task.get("agent_id").and_then(Value::as_str) {
        Some(a) if a != agent_id => Resp::detail(
            404,
            &format!("Task {task_id} not found for agent {agent_id}"),
        ),
        _ => Resp::json(200, &entry.live.activity.thread(&entry.task)),
    }
}
