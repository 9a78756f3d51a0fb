//! The body of `report_metrics` (`POST /agents-metrics/{agent_id}/execution`):
//! an execution metrics report built from a task. No I/O.
//!
//! Every key the contract lists is always present. Unlike the official
//! client, which always sends `duration: 0.0` and `sub_executions: []`, the
//! task's own `duration` and `sub_executions` are sent.

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{Task, Tokens};

/// The model name reported when neither a served model nor a per-task model
/// is known.
pub const DEFAULT_AI_MODEL: &str = "xpander";

/// The `ai_model` of a report: the model that served the run if known, else
/// the task's `llm_model_name`, trimmed and lower-cased, else `xpander`.
pub(crate) fn ai_model(task: &Task, served_model: Option<&str>) -> String {
    let normalized = |name: &str| {
        let name = name.trim().to_lowercase();
        (!name.is_empty()).then_some(name)
    };
    served_model
        .and_then(normalized)
        .or_else(|| task.llm_model_name.as_deref().and_then(normalized))
        .unwrap_or_else(|| DEFAULT_AI_MODEL.to_owned())
}

fn tokens(tokens: &Tokens) -> Value {
    json!({
        "completion_tokens": tokens.completion_tokens,
        "prompt_tokens": tokens.prompt_tokens,
        "cache_read_tokens": tokens.cache_read_tokens,
        "cache_write_tokens": tokens.cache_write_tokens,
        // The contract's arithmetic: completion + prompt, cache never added.
        "total_tokens": tokens.total(),
    })
}

/// The report for `task`. Refused before any request when the task has no
/// `tokens`, no `source` or no `status` (the service requires them), or a
/// duration that is not a finite number.
pub(crate) fn report_body(task: &Task, served_model: Option<&str>) -> Result<Value> {
    let missing =
        |name: &'static str| move || Error::invalid(name, "must be set to report metrics");
    let worker = task.tokens.as_ref().ok_or_else(|| {
        Error::invalid(
            "task.tokens",
            "must be set to report metrics (the token counts of the run)",
        )
    })?;
    let source = task.source.as_deref().ok_or_else(missing("task.source"))?;
    let status = task.status.as_ref().ok_or_else(missing("task.status"))?;
    if !task.duration.is_finite() {
        return Err(Error::invalid("task.duration", "must be a finite number"));
    }
    // An orchestration that returns its metrics reports none of its own.
    let orchestrated = task.return_metrics && source == "orchestration";
    let zero = Tokens::default();
    let worker = if orchestrated { &zero } else { worker };
    let used_tools: &[String] = if orchestrated { &[] } else { &task.used_tools };
    Ok(json!({
        "execution_id": task.id,
        "source": source,
        "sub_executions": task.sub_executions,
        "memory_thread_id": task.id,
        "task": task.input.text,
        "triggered_by": "N/A",
        "skills": [],
        "status": status.as_str(),
        "internal_status": task.internal_status,
        "duration": task.duration,
        "ai_model": ai_model(task, served_model),
        "worker": null,
        "ai_employee_id": null,
        "api_calls_made": used_tools,
        "result": task.result.as_deref().filter(|r| !r.is_empty()),
        "llm_tokens": {"inner": tokens(&zero), "worker": tokens(worker)},
    }))
}
