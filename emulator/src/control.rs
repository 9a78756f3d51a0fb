//! The control routes under `/__emulator/`: what the Rust handle does, over
//! HTTP, for tests written in any language. They need no API key, are not
//! logged and are never faulted. Answers are `{"ok": true}` unless stated.
//!
//! Every route and its JSON shape is in the crate's README (its docs).

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::events::StreamEvent;
use crate::faults::Fault;
use crate::http::{Req, Resp};
use crate::state::Shared;
use crate::store::lock;
use crate::validation::{json_body, not_found_task, unprocessable};

const ROUTES: [&str; 8] = [
    "requests", "stats", "tasks", "faults", "seed", "release", "reset", "metrics",
];

/// The routes with a task id: `tasks/{id}`, `events/{id}`, `activity/{id}`.
const PER_TASK: [&str; 3] = ["tasks", "events", "activity"];

/// One JSON value or an array of them, as a list.
fn one_or_many(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

/// The non-negative integer `field` of an object body.
fn count(v: &Value, field: &str) -> Result<u64, Resp> {
    v.get(field).and_then(Value::as_u64).ok_or_else(|| {
        unprocessable(
            &["body", field],
            "Input should be a valid integer",
            "int_type",
        )
    })
}

/// Answers `/__emulator/...`.
pub(crate) fn handle(shared: &Shared, req: &Req<'_>, parsed: Option<Value>) -> Resp {
    let sub = req.path().strip_prefix("/__emulator/").unwrap_or("");
    if let Some(resp) = crate::agents::handle::control(shared, req, sub) {
        return resp;
    }
    if let Some((kind, id)) = sub.split_once('/') {
        if PER_TASK.contains(&kind) && !id.is_empty() && !id.contains('/') {
            let id = percent_decode_str(id).decode_utf8_lossy();
            return per_task(shared, req, kind, &id, parsed);
        }
    }
    let result = match (req.method, sub) {
        ("GET", "requests") => return Resp::json(200, &shared.log.to_json()),
        ("GET", "stats") => return Resp::json(200, &shared.stats()),
        ("GET", "tasks") => return Resp::json(200, &Value::Array(shared.tasks())),
        ("GET", "metrics") => {
            let reports = shared.metrics.all().iter().map(|r| r.to_json()).collect();
            return Resp::json(200, &Value::Array(reports));
        }
        ("DELETE", "metrics") => {
            shared.metrics.clear();
            Ok(())
        }
        ("GET", "faults") => {
            let rules = shared.faults.list().iter().map(Fault::to_json).collect();
            return Resp::json(200, &Value::Array(rules));
        }
        ("DELETE", "requests") => {
            shared.log.clear();
            Ok(())
        }
        ("DELETE", "tasks") => {
            shared.clear_tasks();
            Ok(())
        }
        ("DELETE", "faults") => {
            shared.faults.clear();
            Ok(())
        }
        ("POST", "reset") => {
            shared.reset();
            Ok(())
        }
        ("POST", "tasks") => {
            let defaults = req
                .query()
                .split('&')
                .any(|pair| pair == "defaults=true" || pair == "defaults=1");
            return seed(shared, parsed, req.body, defaults);
        }
        ("POST", "faults") => json_body(parsed, req.body).and_then(|v| {
            let rules = one_or_many(v)
                .iter()
                .map(Fault::from_json)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unprocessable(&["body"], &e, "value_error"))?;
            rules.into_iter().for_each(|f| shared.faults.inject(f));
            Ok(())
        }),
        ("POST", "seed") => json_body(parsed, req.body)
            .and_then(|v| count(&v, "seed"))
            .map(|s| shared.faults.reseed(s)),
        ("POST", "release") => json_body(parsed, req.body)
            .and_then(|v| count(&v, "count"))
            .map(|n| {
                shared
                    .faults
                    .release(usize::try_from(n).unwrap_or(usize::MAX))
            }),
        (_, r) if ROUTES.contains(&r) => return Resp::detail(405, "Method Not Allowed"),
        _ => return Resp::detail(404, "Not Found"),
    };
    match result {
        Ok(()) => Resp::json(200, &json!({"ok": true})),
        Err(resp) => resp,
    }
}

/// The routes of one task: change it, read or push its events, set or
/// clear its activity log answer.
fn per_task(shared: &Shared, req: &Req<'_>, kind: &str, id: &str, parsed: Option<Value>) -> Resp {
    let events_json = |events: Vec<StreamEvent>| {
        let all: Vec<Value> = events.iter().map(StreamEvent::to_json).collect();
        Resp::json(200, &Value::Array(all))
    };
    match (req.method, kind) {
        ("PATCH", "tasks") => match json_body(parsed, req.body) {
            Ok(Value::Object(fields)) => match shared.update_task(id, Value::Object(fields)) {
                Ok(task) => Resp::json(200, &task),
                Err(_) => not_found_task(id),
            },
            Ok(_) => unprocessable(&["body"], "Input should be a valid dictionary", "dict_type"),
            Err(r) => r,
        },
        ("GET", "events") => shared
            .events(id)
            .map_or_else(|| not_found_task(id), events_json),
        ("POST", "events") => match json_body(parsed, req.body) {
            Ok(v) => match shared.push_events(id, one_or_many(v)) {
                Some(ids) => Resp::json(200, &json!({ "ids": ids })),
                None => not_found_task(id),
            },
            Err(r) => r,
        },
        ("PUT", "activity") => {
            let ct = req.header("content-type").unwrap_or("application/json");
            lock(&shared.activity).set(id, ct, req.body.to_vec());
            Resp::json(200, &json!({"ok": true}))
        }
        ("DELETE", "activity") => {
            lock(&shared.activity).remove(id);
            Resp::json(200, &json!({"ok": true}))
        }
        _ => Resp::detail(405, "Method Not Allowed"),
    }
}

/// `POST /__emulator/tasks`: every task or none (the first invalid one is
/// the 422); `?defaults=true` fills in what a client needs to read them.
fn seed(shared: &Shared, parsed: Option<Value>, body: &[u8], defaults: bool) -> Resp {
    let tasks = match json_body(parsed, body) {
        Ok(v) => one_or_many(v),
        Err(r) => return r,
    };
    if let Some(bad) = tasks.iter().find(|t| !t.is_object()) {
        let msg = format!("a task must be a JSON object, not {bad}");
        return unprocessable(&["body"], &msg, "value_error");
    }
    let mut ids = Vec::with_capacity(tasks.len());
    for t in tasks {
        let seeded = if defaults {
            shared.seed_task_with_defaults(t)
        } else {
            shared.seed_task(t)
        };
        match seeded {
            Ok(id) => ids.push(id),
            Err(e) => return unprocessable(&["body"], &e, "value_error"),
        }
    }
    Resp::json(200, &json!({ "ids": ids }))
}
