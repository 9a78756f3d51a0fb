//! FastAPI-style validation: the service answers an invalid body with 422
//! `{"detail": [{"loc": ["body", field, ...], "msg": ..., "type": ...}]}`,
//! naming the first field that fails. Each route's checks are here, in the
//! order the service reports them; nothing is stored before they pass.

use serde_json::{json, Map, Value};

use crate::http::Resp;
use crate::store::STATUSES;

/// A 422 for the field at `loc`.
pub(crate) fn unprocessable(loc: &[&str], msg: &str, typ: &str) -> Resp {
    Resp::json(
        422,
        &json!({"detail": [{"loc": loc, "msg": msg, "type": typ}]}),
    )
}

/// The body as JSON (already parsed by the dispatcher, or parsed here for its
/// error); `Err` is the 422 answer.
pub(crate) fn json_body(parsed: Option<Value>, body: &[u8]) -> Result<Value, Resp> {
    if let Some(v) = parsed {
        return Ok(v);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(unprocessable(&["body"], "Field required", "missing"));
    }
    serde_json::from_slice(body).map_err(|e| {
        let msg = format!("JSON decode error: {e}");
        unprocessable(&["body"], &msg, "json_invalid")
    })
}

/// The body as a JSON object.
pub(crate) fn object_body(parsed: Option<Value>, body: &[u8]) -> Result<Map<String, Value>, Resp> {
    match json_body(parsed, body)? {
        Value::Object(o) => Ok(o),
        _ => Err(Kind::Dict.error(&["body"])),
    }
}

/// The JSON types a field may be required to have.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Dict,
    List,
    Bool,
    Number,
    /// An integer, or a float without a fraction (pydantic's lax mode).
    Int,
    /// A date-time: a string (ISO 8601) or a number (a Unix time).
    Time,
    /// Any JSON value.
    Any,
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string(),
            Kind::Dict => v.is_object(),
            Kind::List => v.is_array(),
            Kind::Bool => v.is_boolean(),
            Kind::Number => v.is_number(),
            Kind::Int => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            Kind::Time => v.is_string() || v.is_number(),
            Kind::Any => true,
        }
    }

    /// Pydantic's message and error type.
    pub(crate) fn error(self, loc: &[&str]) -> Resp {
        let (what, typ) = match self {
            Kind::Str => ("string", "string_type"),
            Kind::Dict => ("dictionary", "dict_type"),
            Kind::List => ("list", "list_type"),
            Kind::Bool => ("boolean", "bool_type"),
            Kind::Number => ("number", "float_type"),
            Kind::Int => ("integer", "int_type"),
            Kind::Time => ("datetime", "datetime_type"),
            Kind::Any => ("value", "value_error"),
        };
        unprocessable(loc, &format!("Input should be a valid {what}"), typ)
    }
}

/// Whether a field may be absent, and whether it may be null.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Null {
    /// Optional; null accepted.
    Ok,
    /// Optional; null refused.
    Refused,
    /// Required; null refused.
    Required,
    /// Required key; null accepted.
    RequiredKey,
}

/// Checks `fields` of `o` (found under `at`) in order; the first wrong one is the 422.
pub(crate) fn check(
    o: &Map<String, Value>,
    at: &[&str],
    fields: &[(&str, Kind, Null)],
) -> Result<(), Resp> {
    for &(k, kind, null) in fields {
        let loc = || [at, &[k]].concat();
        match o.get(k) {
            None if matches!(null, Null::Required | Null::RequiredKey) => {
                return Err(unprocessable(&loc(), "Field required", "missing"))
            }
            None => {}
            Some(Value::Null) if matches!(null, Null::Ok | Null::RequiredKey) => {}
            Some(v) if kind.accepts(v) => {}
            Some(_) => return Err(kind.error(&loc())),
        }
    }
    Ok(())
}

/// `POST /agent-execution/{agent_id}`; returns the body's `input`.
pub(crate) fn create(o: &Map<String, Value>) -> Result<&Map<String, Value>, Resp> {
    let input = match o.get("input") {
        Some(Value::Object(i)) => i,
        None => {
            return Err(unprocessable(
                &["body", "input"],
                "Field required",
                "missing",
            ))
        }
        Some(_) => return Err(Kind::Dict.error(&["body", "input"])),
    };
    use Kind::*;
    check(
        input,
        &["body", "input"],
        &[
            ("text", Str, Null::Ok),
            ("files", List, Null::Ok),
            ("user", Dict, Null::Ok),
        ],
    )?;
    check(
        o,
        &["body"],
        &[
            ("id", Str, Null::Ok),
            ("title", Str, Null::Ok),
            ("source", Str, Null::Ok),
            ("payload_extension", Dict, Null::Ok),
            ("mcp_servers", List, Null::Ok),
        ],
    )?;
    Ok(input)
}

/// `PATCH /agent-execution/{id}/update`, the checks that need no task.
/// `save_shaped`: the body is a whole task (the official client's `save`).
pub(crate) fn update(o: &Map<String, Value>, save_shaped: bool) -> Result<(), Resp> {
    use Kind::*;
    check(
        o,
        &["body"],
        &[
            ("tool_call_payload_extension", Dict, Null::Ok),
            ("result", Str, Null::Ok),
            ("source", Str, Null::Ok),
            ("last_executed_node_id", Str, Null::Ok),
        ],
    )?;
    if save_shaped {
        check(
            o,
            &["body"],
            &[
                ("input", Dict, Null::Refused),
                ("agent_id", Str, Null::Refused),
                ("payload_extension", Dict, Null::Ok),
            ],
        )?;
    }
    Ok(())
}

/// An update's `status`: one of the seven, or (on a save) the task's current
/// one, so a task with a status newer than this emulator round-trips.
pub(crate) fn status(o: &Map<String, Value>, current: Option<&Value>) -> Result<(), Resp> {
    match o.get("status") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Ok(()),
        Some(v) if Some(v) == current => Ok(()),
        Some(_) => Err(unprocessable(
            &["body", "status"],
            "Input should be 'pending', 'executing', 'paused', 'error', 'failed', 'completed' or 'stopped'",
            "enum",
        )),
    }
}

/// `POST /agent-execution/{agent_id}/report_task`.
pub(crate) fn report(o: &Map<String, Value>) -> Result<(), Resp> {
    use Kind::*;
    check(
        o,
        &["body"],
        &[
            ("id", Str, Null::Ok),
            ("result", Str, Null::Ok),
            ("is_success", Bool, Null::Ok),
            ("duration", Number, Null::Ok),
            ("used_tools", List, Null::Ok),
            ("tokens", Dict, Null::Ok),
        ],
    )?;
    match o.get("input") {
        None | Some(Value::Null | Value::String(_) | Value::Object(_)) => Ok(()),
        Some(_) => Err(Kind::Str.error(&["body", "input"])),
    }
}

pub(crate) fn not_found_task(id: &str) -> Resp {
    Resp::detail(404, &format!("Task {id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(r: Result<(), Resp>) -> Value {
        let body: Value = serde_json::from_slice(&r.err().unwrap().body).unwrap();
        body["detail"][0]["loc"].clone()
    }

    #[test]
    fn the_first_wrong_field_is_named() {
        let o = json!({"result": 1, "source": 2});
        assert_eq!(
            loc(update(o.as_object().unwrap(), false)),
            json!(["body", "result"])
        );
        let o = json!({"input": {"text": "x", "files": "nope"}});
        let r = create(o.as_object().unwrap()).map(|_| ());
        assert_eq!(loc(r), json!(["body", "input", "files"]));
        let o = json!({"input": null, "id": "x"});
        assert_eq!(
            loc(update(o.as_object().unwrap(), true)),
            json!(["body", "input"])
        );
        assert!(update(json!({"result": null}).as_object().unwrap(), false).is_ok());
    }

    #[test]
    fn an_unknown_status_passes_only_when_it_is_the_current_one() {
        let o = json!({"status": "awaiting_review"});
        let o = o.as_object().unwrap();
        assert!(status(o, Some(&json!("awaiting_review"))).is_ok());
        assert_eq!(
            loc(status(o, Some(&json!("pending")))),
            json!(["body", "status"])
        );
    }
}
