//! The two calls of the official runtime's local `/invoke` server: the
//! caller's key check (`POST /metadata/api_key_allowance`) and the parked
//! LLM gateway route (`POST /agents/{agent_id}/llm-gateway-route/{task_id}`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::http::{Req, Resp};
use crate::state::Shared;
use crate::store::lock;
use crate::validation::{check, object_body, Kind, Null};

/// `{"api_key": "..."}` → `{"agent_ids": [...]}`: every agent the emulator
/// knows (of its tasks and of its workers), sorted, when the key is the
/// emulator's; none for any other key. The key never reaches the request
/// log (see [`crate::log`]).
pub(crate) fn allowance(shared: &Shared, req: &Req<'_>, parsed: Option<Value>) -> Resp {
    let o = match object_body(parsed, req.body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(r) = check(&o, &["body"], &[("api_key", Kind::Str, Null::Required)]) {
        return r;
    }
    let allowed = o.get("api_key").and_then(Value::as_str) == Some(&shared.config.api_key);
    let mut agents = BTreeSet::new();
    if allowed {
        // One lock at a time: the store's, then the workers'.
        for e in lock(&shared.store).in_order() {
            if let Some(a) = e.task.get("agent_id").and_then(Value::as_str) {
                agents.insert(a.to_string());
            }
        }
        agents.extend(shared.agents.lock().agent_ids().map(str::to_string));
    }
    Resp::json(200, &json!({ "agent_ids": agents }))
}

/// No LLM gateway route is ever parked in the emulator: 404, the "none"
/// answer the runtime expects.
pub(crate) fn gateway_route(task_id: &str) -> Resp {
    Resp::detail(404, &format!("No LLM gateway route for task {task_id}"))
}
