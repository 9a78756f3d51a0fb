//! Worker events, `POST /{org}/events/{worker_id}?type=worker&agent_id=..`
//! with `{"id", "event", "data"}`: heartbeats, capacity updates and
//! `worker-finished`, recorded on the worker (see [`super::WorkerInfo`]).

use serde_json::{json, Map, Value};

use crate::http::{Req, Resp};
use crate::state::Shared;
use crate::validation::{check, object_body, unprocessable, Kind, Null};

/// The envelope's fields, in the model's order.
const ENVELOPE: [(&str, Kind, Null); 3] = [
    ("id", Kind::Str, Null::Required),
    ("event", Kind::Str, Null::Required),
    ("data", Kind::Any, Null::RequiredKey),
];

/// The event names a worker may post.
const EVENTS: [&str; 3] = [
    "worker-heartbeat",
    "worker-capacity-update",
    "worker-finished",
];

/// The query's `type` and `agent_id`, or the 422.
fn query(req: &Req<'_>) -> Result<String, Resp> {
    let (mut kind, mut agent) = (None, None);
    for (k, v) in form_urlencoded::parse(req.query().as_bytes()) {
        match &*k {
            "type" => kind = Some(v.into_owned()),
            "agent_id" => agent = Some(v.into_owned()),
            _ => {}
        }
    }
    match kind.as_deref() {
        Some("worker") => {}
        Some(_) => {
            return Err(unprocessable(
                &["query", "type"],
                "Input should be 'worker'",
                "enum",
            ))
        }
        None => {
            return Err(unprocessable(
                &["query", "type"],
                "Field required",
                "missing",
            ))
        }
    }
    agent.ok_or_else(|| unprocessable(&["query", "agent_id"], "Field required", "missing"))
}

/// The `is_busy` of a capacity update's `data`, or the 422.
fn is_busy(o: &Map<String, Value>) -> Result<bool, Resp> {
    let data = match o.get("data") {
        Some(Value::Object(d)) => d,
        _ => return Err(Kind::Dict.error(&["body", "data"])),
    };
    match data.get("is_busy") {
        Some(Value::Bool(b)) => Ok(*b),
        None => Err(unprocessable(
            &["body", "data", "is_busy"],
            "Field required",
            "missing",
        )),
        Some(_) => Err(Kind::Bool.error(&["body", "data", "is_busy"])),
    }
}

/// Records one worker event; `{"ok": true}`, a 422 for an invalid query or
/// body (checked first, as the service's framework does), a 404 for an
/// unknown worker or one of another agent.
pub(crate) fn worker_event(
    shared: &Shared,
    worker_id: &str,
    req: &Req<'_>,
    parsed: Option<Value>,
) -> Resp {
    let agent = match query(req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match object_body(parsed, req.body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = check(&o, &["body"], &ENVELOPE) {
        return r;
    }
    let event = o.get("event").and_then(Value::as_str).unwrap_or_default();
    if !EVENTS.contains(&event) {
        let msg =
            "Input should be 'worker-heartbeat', 'worker-capacity-update' or 'worker-finished'";
        return unprocessable(&["body", "event"], msg, "enum");
    }
    let busy = match event {
        "worker-capacity-update" => match is_busy(&o) {
            Ok(b) => Some(b),
            Err(r) => return r,
        },
        _ => None,
    };
    let mut agents = shared.agents.lock();
    match agents.agent_of(worker_id) {
        None => return Resp::detail(404, &format!("Worker {worker_id} not found")),
        Some(a) if a != agent => {
            let msg = format!("Worker {worker_id} not found for agent {agent}");
            return Resp::detail(404, &msg);
        }
        Some(_) => {}
    }
    match (event, busy) {
        ("worker-capacity-update", Some(b)) => agents.capacity(worker_id, b),
        ("worker-finished", _) => agents.finished(worker_id),
        _ => {
            let data = o.get("data").cloned().unwrap_or(Value::Null);
            agents.heartbeat(worker_id, data)
        }
    };
    Resp::json(200, &json!({"ok": true}))
}
