//! Execution metrics (`POST /agents-metrics/{agent_id}/execution`): each
//! report is validated as the service's model (FastAPI 422 naming the first
//! wrong field, in the model's field order) and kept, in arrival order, for
//! the handle ([`crate::Emulator::metrics_reports`]) and
//! `GET /__emulator/metrics`.

use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::http::Resp;
use crate::store::lock;
use crate::validation::{check, object_body, unprocessable, Kind, Null};

/// One stored metrics report.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsReport {
    /// The agent id of the request path.
    pub agent_id: String,
    /// The body, as sent.
    pub report: Value,
}

impl MetricsReport {
    /// `{"agent_id": ..., "report": ...}`, as `GET /__emulator/metrics` serves it.
    pub fn to_json(&self) -> Value {
        json!({"agent_id": self.agent_id, "report": self.report})
    }
}

/// The fields of `ExecutionMetricsReport`, in the model's order.
const REPORT: [(&str, Kind, Null); 16] = [
    ("execution_id", Kind::Str, Null::Required),
    ("source", Kind::Str, Null::Required),
    ("sub_executions", Kind::List, Null::Refused),
    ("memory_thread_id", Kind::Str, Null::Required),
    ("task", Kind::Str, Null::Required),
    ("triggered_by", Kind::Str, Null::Refused),
    ("skills", Kind::List, Null::Refused),
    ("status", Kind::Str, Null::Required),
    ("internal_status", Kind::Str, Null::Ok),
    ("duration", Kind::Number, Null::Required),
    ("ai_model", Kind::Str, Null::Required),
    ("worker", Kind::Str, Null::Ok),
    ("ai_employee_id", Kind::Str, Null::Ok),
    ("api_calls_made", Kind::List, Null::Ok),
    ("result", Kind::Str, Null::RequiredKey),
    ("llm_tokens", Kind::Dict, Null::Required),
];

/// The fields of `Tokens` (counts default to 0; `total_tokens` is computed
/// by the client and accepted when absent).
const TOKENS: [(&str, Kind, Null); 5] = [
    ("completion_tokens", Kind::Int, Null::Refused),
    ("prompt_tokens", Kind::Int, Null::Refused),
    ("cache_read_tokens", Kind::Int, Null::Refused),
    ("cache_write_tokens", Kind::Int, Null::Refused),
    ("total_tokens", Kind::Int, Null::Refused),
];

/// The items of the `[str]` fields must be strings.
fn strings(o: &Map<String, Value>, field: &str) -> Result<(), Resp> {
    let items = o.get(field).and_then(Value::as_array);
    let bad = items.and_then(|a| a.iter().position(|v| !v.is_string()));
    match bad {
        None => Ok(()),
        Some(i) => {
            let msg = "Input should be a valid string";
            let at = i.to_string();
            Err(unprocessable(&["body", field, &at], msg, "string_type"))
        }
    }
}

/// Checks a report body; `Err` is the 422.
fn validate(o: &Map<String, Value>) -> Result<(), Resp> {
    check(o, &["body"], &REPORT)?;
    for list in ["sub_executions", "skills"] {
        strings(o, list)?;
    }
    let Some(tokens) = o.get("llm_tokens").and_then(Value::as_object) else {
        return Ok(());
    };
    for part in ["inner", "worker"] {
        check(
            tokens,
            &["body", "llm_tokens"],
            &[(part, Kind::Dict, Null::Refused)],
        )?;
        if let Some(t) = tokens.get(part).and_then(Value::as_object) {
            check(t, &["body", "llm_tokens", part], &TOKENS)?;
        }
    }
    Ok(())
}

/// The stored reports, oldest first.
#[derive(Default)]
pub(crate) struct Metrics {
    reports: Mutex<Vec<MetricsReport>>,
}

impl Metrics {
    /// `POST /agents-metrics/{agent_id}/execution`.
    pub(crate) fn report(&self, agent_id: &str, parsed: Option<Value>, body: &[u8]) -> Resp {
        let o = match object_body(parsed, body) {
            Ok(o) => o,
            Err(r) => return r,
        };
        if let Err(r) = validate(&o) {
            return r;
        }
        lock(&self.reports).push(MetricsReport {
            agent_id: agent_id.to_string(),
            report: Value::Object(o),
        });
        Resp::json(200, &json!({"ok": true}))
    }

    pub(crate) fn all(&self) -> Vec<MetricsReport> {
        lock(&self.reports).clone()
    }

    pub(crate) fn clear(&self) {
        lock(&self.reports).clear();
    }
}
