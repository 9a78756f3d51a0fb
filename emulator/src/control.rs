//! The control routes under `/__emulator/`: what the Rust handle does, over
//! HTTP, for tests written in any language. They need no API key, are not
//! logged and are never faulted. Answers are `{"ok": true}` unless stated.
//!
//! Every route and its JSON shape is in the crate's README (its docs).

use serde_json::{json, Value};

use crate::faults::Fault;
use crate::http::{Req, Resp};
use crate::server::Shared;
use crate::validation::{json_body, unprocessable};

const ROUTES: [&str; 7] = [
    "requests", "stats", "tasks", "faults", "seed", "release", "reset",
];

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
    let result = match (req.method, sub) {
        ("GET", "requests") => return Resp::json(200, &shared.log.to_json()),
        ("GET", "stats") => return Resp::json(200, &shared.stats()),
        ("GET", "tasks") => return Resp::json(200, &Value::Array(shared.tasks())),
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
        ("POST", "tasks") => return seed(shared, parsed, req.body),
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

/// `POST /__emulator/tasks`: every task or none (the first invalid one is the 422).
fn seed(shared: &Shared, parsed: Option<Value>, body: &[u8]) -> Resp {
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
        match shared.seed_task(t) {
            Ok(id) => ids.push(id),
            Err(e) => return unprocessable(&["body"], &e, "value_error"),
        }
    }
    Resp::json(200, &json!({ "ids": ids }))
}
